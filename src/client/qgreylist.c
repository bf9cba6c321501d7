/*
 * qgreylist, compiled: the client of qgreyd for the run file, in place of bin/qgreylist's
 * bash when a connection must cost what C jgreylist costs (qgreyd(8), PERFORMANCE).
 *
 *   tcpserver ... qgreylist qmail-smtpd ...
 *
 * It speaks bin/qgreylist's protocol (src/server/protocol.ts) and acts on the verdict as
 * bin/qgreylist does: exec the next program, or rblsmtpd with RBLSMTPD set. The SMTP socket
 * (fds 0 and 1) never reaches qgreyd: the request goes on a socket of its own. Whatever it
 * cannot do through qgreyd (qgreyd not set up, down, slow, refusing, or leaving the
 * connection to the per-process program) it hands to bin/qgreylist with the argument
 * --qgreyd-asked first, after its own fallback line where bin/qgreylist would write one; that
 * script then decides with the per-process program, exactly as it does alone.
 *
 * The environment reaches the next program as tcpserver gave it, plus RBLSMTPD for rblsmtpd;
 * bash would add SHLVL. Nothing is allocated: the request and the reply have fixed bounds.
 */

#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_REQUEST 16384 /* qgreyd's bound (protocol.ts MAX_REQUEST) */
#define MAX_REPLY 8192

#ifndef QGREYLIST_SH
#define QGREYLIST_SH "" /* empty: ../../bin/qgreylist from where this program is */
#endif

static char req[MAX_REQUEST + 1];
static size_t reqlen;
static int reqfull;
static char reply[MAX_REPLY + 1];
static char why[1024];

static void put(const char *s, size_t n)
{
  if (reqlen + n > MAX_REQUEST) {
    reqfull = 1;
    return;
  }
  memcpy(req + reqlen, s, n);
  reqlen += n;
}

static void puts0(const char *s) { put(s, strlen(s)); }

static void putnum(unsigned long n)
{
  char b[24];
  int i = sizeof b;
  do b[--i] = '0' + n % 10; while (n /= 10);
  put(b + i, sizeof b - i);
}

/* NAME=VALUE, % LF CR written %25 %0A %0D */
static void putvar(const char *entry)
{
  const char *eq = strchr(entry, '=');
  const char *v;
  put(entry, eq - entry + 1);
  for (v = eq + 1; *v; v++) {
    if (*v == '%') puts0("%25");
    else if (*v == '\n') puts0("%0A");
    else if (*v == '\r') puts0("%0D");
    else put(v, 1);
  }
  put("\n", 1);
}

/* a name bash would import from the environment: [A-Za-z_][A-Za-z0-9_]* */
static int identifier(const char *s, size_t n)
{
  size_t i;
  if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
  }
  return 1;
}

/* the environment's entry for NAME, or 0 (the first, as getenv) */
static const char *entry(const char *name, size_t n)
{
  char **e;
  for (e = environ; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e;
  return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every variable whose name starts with `prefix`, sorted by name, as bash's ${!prefix@} */
static void putprefixed(const char *prefix)
{
  static const char *names[512];
  size_t n = 0, i, p = strlen(prefix);
  char **e;
  for (e = environ; *e && n < sizeof names / sizeof *names; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || strncmp(*e, prefix, p) != 0 || !identifier(*e, eq - *e)) continue;
    if (entry(*e, eq - *e) != *e) continue; /* a name given twice: the first */
    names[n++] = *e;
  }
  qsort(names, n, sizeof *names, cmpstr);
  for (i = 0; i < n; i++) putvar(names[i]);
}

static void say(const char *s) { (void)!write(2, s, strlen(s)); }

/* s and a newline in one write(): lines of connections that share the log pipe never mix */
static void sayline(const char *s)
{
  char b[MAX_REPLY + 2];
  size_t n = strlen(s);
  memcpy(b, s, n);
  b[n] = '\n';
  (void)!write(2, b, n + 1);
}

/* the connection's log prefix, as bin/qgreylist's q_who */
static void logline(const char *what, const char *text)
{
  const char *ip = getenv("TCPREMOTEIP");
  const char *lp = getenv("JGREYLIST_LOG_PID");
  char line[1400];
  size_t i;
  int ok = ip && *ip && strlen(ip) <= 45;
  for (i = 0; ok && ip[i]; i++)
    if (!strchr("0123456789abcdefABCDEF.:", ip[i])) ok = 0;
  if (lp && strcmp(lp, "0") == 0)
    snprintf(line, sizeof line, "qgreylist: %s: %s%s\n", ok ? ip : "-", what, text);
  else
    snprintf(line, sizeof line, "qgreylist[%ld]: %s: %s%s\n", (long)getpid(), ok ? ip : "-", what, text);
  say(line);
}

/* bin/qgreylist: asked, it decides with the per-process program; else it asks qgreyd itself */
static void __attribute__((noreturn)) hand(char **argv, int asked)
{
  char path[PATH_MAX + 32];
  char **args;
  int argc, i;
  if (*QGREYLIST_SH) {
    snprintf(path, sizeof path, "%s", QGREYLIST_SH);
  } else {
    ssize_t n = readlink("/proc/self/exe", path, PATH_MAX);
    char *slash;
    if (n < 0) n = 0;
    path[n] = 0;
    slash = strrchr(path, '/');
    if (slash) slash[1] = 0; else path[0] = 0;
    strcat(path, "../../bin/qgreylist");
  }
  for (argc = 0; argv[argc]; argc++) ;
  args = alloca((argc + 3) * sizeof *args);
  args[0] = path;
  args[1] = "--qgreyd-asked";
  for (i = 1; i <= argc; i++) args[i + 1] = argv[i];
  if (!asked) args[1] = path, args++;
  execv(path, args);
  {
    /* as bin/qgreylist does when the decision program cannot run: QGREY_FAIL decides */
    const char *fail = getenv("QGREY_FAIL");
    char text[PATH_MAX + 200];
    snprintf(text, sizeof text, "cannot run the decision program: unable to run %s: %s", path, strerror(errno));
    if (fail && strcmp(fail, "closed") == 0) {
      char **rbl = alloca((argc + 4) * sizeof *rbl);
      int null;
      logline("FAIL closed: ", text);
      setenv("RBLSMTPD", "Temporary local problem, please try again later.", 1);
      rbl[0] = "rblsmtpd"; rbl[1] = "-t"; rbl[2] = "60"; rbl[3] = "--";
      for (i = 1; i <= argc; i++) rbl[i + 3] = argv[i];
      null = open("/dev/null", O_WRONLY);
      if (null >= 0) { dup2(null, 2); if (null != 2) close(null); }
      execvp("rblsmtpd", rbl);
      _exit(111);
    }
    logline("FAIL open: ", text);
    execvp(argv[1], argv + 1);
    _exit(111);
  }
}

static void nextprogram(char **argv)
{
  execvp(argv[1], argv + 1);
  {
    char line[PATH_MAX + 200];
    snprintf(line, sizeof line, "qgreylist: fatal: unable to run %.1024s: %s\n", argv[1], strerror(errno));
    say(line);
  }
  _exit(111);
}

static double elapsed(const struct timespec *t0)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* wait for fd to be ready for `events` until `limit` seconds after t0; 1 ready, 0 not */
static int ready(int fd, short events, const struct timespec *t0, double limit)
{
  for (;;) {
    struct pollfd p;
    double left = limit - elapsed(t0);
    int r;
    if (left <= 0) return 0;
    p.fd = fd; p.events = events; p.revents = 0;
    r = poll(&p, 1, (int)(left * 1000) + 1);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 0;
  }
}

/* bin/qgreylist's QGREY_SERVER_TIMEOUT: digits with at most one dot, not first; else 5 */
static double timeout_of(const char *s, const char **shown)
{
  const char *p;
  int dots = 0;
  if (!s || !*s || *s == '.') goto no;
  for (p = s; *p; p++) {
    if (*p == '.') dots++;
    else if (*p < '0' || *p > '9') goto no;
  }
  if (dots > 1) goto no;
  *shown = s;
  return strtod(s, 0);
no:
  *shown = "5";
  return 5;
}

int main(int argc, char **argv)
{
  const char *file, *addr, *tshown;
  char host[256], port[32], key[300];
  double limit;
  int fd, s = -1;
  ssize_t n;
  size_t got = 0;
  const char *colon;
  struct timespec t0;
  static const char *const named[] = { "TCPREMOTEIP", "TCP6REMOTEIP", "TCPREMOTEHOST", "TCPLOCALIP", "RELAYCLIENT", "PATH" };
  size_t i;

  if (argc < 2) {
    say("qgreylist: fatal: no command specified on command line\n");
    return 100;
  }
  file = getenv("QGREY_SECRET");
  if (!file) file = "/var/qmail/control/qgreyd.secret";
  addr = getenv("QGREY_SERVER");
  if (!addr) addr = "127.0.0.1:7325";
  if (!*file || !*addr || access(file, F_OK) != 0) hand(argv, 1); /* qgreyd not set up */

  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* the secret: its first line, without the blanks around it (bash's read -r) */
  snprintf(why, sizeof why, "unable to read the secret %s", file);
  key[0] = 0;
  fd = open(file, O_RDONLY | O_NOCTTY);
  if (fd >= 0) {
    char b[sizeof key];
    char *a, *e;
    n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n > 0) {
      b[n] = 0;
      a = b;
      e = memchr(b, '\n', n);
      if (!e) e = b + n;
      while (a < e && (*a == ' ' || *a == '\t')) a++;
      while (e > a && (e[-1] == ' ' || e[-1] == '\t')) e--;
      memcpy(key, a, e - a);
      key[e - a] = 0;
    }
  }
  limit = timeout_of(getenv("QGREY_SERVER_TIMEOUT"), &tshown);
  if (!*key) goto done;

  /* host:port, the host maybe in brackets */
  colon = strrchr(addr, ':');
  snprintf(why, sizeof why, "unable to connect to %s", addr);
  {
    const char *h = addr, *he = colon ? colon : addr + strlen(addr);
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    struct sockaddr *sa;
    socklen_t salen;
    unsigned long pn;
    char *pe;
    if (*h == '[') h++;
    if (he > h && he[-1] == ']') he--;
    if ((size_t)(he - h) >= sizeof host || !colon || strlen(colon + 1) >= sizeof port) goto done;
    memcpy(host, h, he - h);
    host[he - h] = 0;
    strcpy(port, colon + 1);
    pn = strtoul(port, &pe, 10);
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    if (!*port || *pe || pn > 65535) {
      hand(argv, 0); /* a service name: bash resolves it */
    } else if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
      sa4.sin_family = AF_INET;
      sa4.sin_port = htons(pn);
      sa = (struct sockaddr *)&sa4;
      salen = sizeof sa4;
    } else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
      sa6.sin6_family = AF_INET6;
      sa6.sin6_port = htons(pn);
      sa = (struct sockaddr *)&sa6;
      salen = sizeof sa6;
    } else {
      hand(argv, 0); /* a host name: bash resolves it, with no name service linked in here */
    }
    s = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) goto done;
    if (connect(s, sa, salen) != 0) {
      int err = errno;
      socklen_t l = sizeof err;
      if (!(err == EINPROGRESS && ready(s, POLLOUT, &t0, limit) && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0)) {
        close(s);
        s = -1;
        goto done;
      }
    }
  }

  /* the request: header, the variables the decision needs, an empty line */
  puts0("qgreyd1 ");
  puts0(key);
  put(" ", 1);
  putnum((unsigned long)getpid());
  put(" ", 1);
  putnum((unsigned long)geteuid());
  put("\n", 1);
  for (i = 0; i < sizeof named / sizeof *named; i++) {
    const char *e = entry(named[i], strlen(named[i]));
    if (e) putvar(e);
  }
  putprefixed("JGREYLIST");
  putprefixed("QGREY_");
  put("\n", 1);

  snprintf(why, sizeof why, "no answer from %s within %ss", addr, tshown);
  {
    /* too long for qgreyd: send what fits, so that it refuses it and says why */
    size_t sent = 0;
    while (sent < reqlen) {
      ssize_t w = send(s, req + sent, reqlen - sent, MSG_NOSIGNAL);
      if (w > 0) { sent += w; continue; }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN && ready(s, POLLOUT, &t0, limit)) continue;
      if (w < 0 && errno == EAGAIN) break; /* the timeout: read what came, if anything */
      snprintf(why, sizeof why, "unable to send to %s", addr);
      break;
    }
    (void)reqfull;
  }
  /* the reply, up to qgreyd's close, within the timeout */
  for (;;) {
    if (got == MAX_REPLY) break;
    n = read(s, reply + got, MAX_REPLY - got);
    if (n > 0) { got += n; continue; }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && ready(s, POLLIN, &t0, limit)) continue;
    if (errno == EAGAIN) got = 0; /* no whole answer in time: as none */
    break;
  }
  close(s);
  reply[got] = 0;
  if (got == 0 || memchr(reply, 0, got)) goto done;
  if (got < 3 || memcmp(reply + got - 3, "\n.\n", 3) != 0) {
    snprintf(why, sizeof why, "a cut reply from %s", addr);
    goto done;
  }
  reply[got - 3] = 0;

  if (strncmp(reply, "qgreyd1 exec\n", 13) == 0) {
    const char *log = reply + 13;
    if (*log) sayline(log);
    nextprogram(argv);
  }
  if (strncmp(reply, "qgreyd1 rbl\n", 12) == 0) {
    /* rbl NL timeout NL path NL RBLSMTPD NL log line */
    char *t = reply + 12, *path, *text, *log;
    if ((path = strchr(t, '\n')) && (text = strchr(path + 1, '\n')) && (log = strchr(text + 1, '\n'))) {
      char **args = alloca((argc + 5) * sizeof *args);
      int k, null;
      *path++ = 0;
      *text++ = 0;
      *log++ = 0;
      if (setenv("RBLSMTPD", text, 1) != 0) goto done;
      if (*log) sayline(log);
      args[0] = path; args[1] = "-t"; args[2] = t; args[3] = "--";
      for (k = 1; k < argc; k++) args[k + 3] = argv[k];
      args[argc + 3] = 0;
      /* its own log line would repeat ours */
      null = open("/dev/null", O_WRONLY);
      if (null >= 0) { dup2(null, 2); if (null != 2) close(null); }
      execvp(path, args);
      _exit(111);
    }
  }
  if (strncmp(reply, "qgreyd1 local\n", 14) == 0) {
    why[0] = 0; /* nothing decided: the per-process program's, unsaid */
  } else if (strncmp(reply, "qgreyd1 error\n", 14) == 0) {
    snprintf(why, sizeof why, "qgreyd at %.256s said: %.700s", addr, reply + 14);
  } else {
    snprintf(why, sizeof why, "a reply from %s that is not qgreyd's", addr);
  }

done:
  if (*why) {
    char text[sizeof why + 32];
    snprintf(text, sizeof text, "%s; deciding here", why);
    logline("qgreyd: fallback: ", text);
  }
  hand(argv, 1);
  return 111;
}
