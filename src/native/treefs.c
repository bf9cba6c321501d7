/*
 * treefs: the two file-system loops of `qgrey clean`, in C, through Node-API.
 *
 * Node has no openat(): from JavaScript every lstat and unlink goes through a full path (or a
 * chdir), and each call costs about a microsecond of Node on top of the system call. Here a
 * directory of the tree is opened component by component from the tree's root with
 * O_NOFOLLOW | O_DIRECTORY (so no symlink anywhere below the root is ever followed, not even
 * one swapped in a moment ago), and its entries are looked at with fstatat() and removed with
 * unlinkat() relative to that descriptor, as find(1) does.
 *
 *   scanLeaf(root, rel) -> { names, kinds, asec, ansec, msec, mnsec, errs }
 *     every name in ROOT/REL (but . and ..), in strcmp order, with what fstatat(AT_SYMLINK_NOFOLLOW)
 *     says: kind 1 regular file, 2 directory, 3 symlink, 4 anything else, 0 gone meanwhile,
 *     5 could not be examined (errs[i] = errno); times in seconds and nanoseconds.
 *   removeIfUnchanged(root, rel, names, asec, msec) -> Int32Array
 *     for each name: 0 removed; 1 gone already; 2 kept: no longer a regular file, or its
 *     atime or mtime (whole seconds) is not the one given; -errno: unlinkat failed.
 *   Both throw an Error with .code (an errno name) when ROOT/REL cannot be opened that way.
 *
 * Built by src/native/build-addon.sh; qgrey works without it (the TypeScript walk).
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

static napi_value fail(napi_env env, int err, const char *what) {
  char msg[256];
  const char *code = err == ENOENT ? "ENOENT" : err == ENOTDIR ? "ENOTDIR" : err == ELOOP ? "ELOOP" : err == EACCES ? "EACCES" : err == EMFILE ? "EMFILE" : "EIO";
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, msg);
  return NULL;
}

/* ROOT, then each component of REL with O_NOFOLLOW: a descriptor, or -errno */
static int open_chain(const char *root, const char *rel) {
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[PATH_CAP];
  size_t n = strlen(rel);
  if (n >= sizeof buf) {
    close(fd);
    return -ENAMETOOLONG;
  }
  memcpy(buf, rel, n + 1);
  char *save = NULL;
  for (char *tok = strtok_r(buf, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
    if (strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0) {
      close(fd);
      return -EINVAL;
    }
    int next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(fd);
    if (next < 0) return -e;
    fd = next;
  }
  return fd;
}

/* a string argument into buf; 0 when it is not a string or does not fit */
static int string_arg(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return 0;
  return len + 1 < cap;
}

static napi_value typed(napi_env env, napi_typedarray_type type, size_t count, size_t size, void **data) {
  napi_value ab, ta;
  if (napi_create_arraybuffer(env, count * size, data, &ab) != napi_ok) return NULL;
  if (napi_create_typedarray(env, type, count, ab, 0, &ta) != napi_ok) return NULL;
  return ta;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static napi_value scan_leaf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[PATH_CAP], rel[PATH_CAP];
  if (argc < 2 || !string_arg(env, argv[0], root, sizeof root) || !string_arg(env, argv[1], rel, sizeof rel)) {
    napi_throw_type_error(env, NULL, "scanLeaf(root, rel): two strings expected");
    return NULL;
  }
  int fd = open_chain(root, rel);
  if (fd < 0) return fail(env, -fd, rel);
  int dfd = dup(fd);
  DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
  if (d == NULL) {
    int e = errno;
    if (dfd >= 0) close(dfd);
    close(fd);
    return fail(env, e, rel);
  }
  /* names first (the directory stays open for fstatat) */
  size_t cap = 64, count = 0;
  char **names = malloc(cap * sizeof *names);
  struct dirent *de;
  errno = 0;
  while (names != NULL && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (count == cap) {
      char **more = realloc(names, 2 * cap * sizeof *names);
      if (more == NULL) break;
      names = more;
      cap *= 2;
    }
    names[count] = strdup(de->d_name);
    if (names[count] == NULL) break;
    count++;
  }
  int read_err = errno;
  closedir(d);
  /* in name order, as the TypeScript walk reports them */
  if (names != NULL && count > 1) qsort(names, count, sizeof *names, by_name);
  napi_value result = NULL, arr;
  double *asec = NULL, *ansec = NULL, *msec = NULL, *mnsec = NULL;
  unsigned char *kinds = NULL;
  int *errs = NULL;
  if (names == NULL || read_err != 0) {
    fail(env, names == NULL ? ENOMEM : read_err, rel);
    goto out;
  }
  napi_value tk = typed(env, napi_uint8_array, count, 1, (void **)&kinds);
  napi_value ta = typed(env, napi_float64_array, count, 8, (void **)&asec);
  napi_value tan = typed(env, napi_float64_array, count, 8, (void **)&ansec);
  napi_value tm = typed(env, napi_float64_array, count, 8, (void **)&msec);
  napi_value tmn = typed(env, napi_float64_array, count, 8, (void **)&mnsec);
  napi_value te = typed(env, napi_int32_array, count, 4, (void **)&errs);
  if (!tk || !ta || !tan || !tm || !tmn || !te || napi_create_array_with_length(env, count, &arr) != napi_ok) goto out;
  for (size_t i = 0; i < count; i++) {
    struct stat st;
    errs[i] = 0;
    asec[i] = ansec[i] = msec[i] = mnsec[i] = 0;
    if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
      kinds[i] = errno == ENOENT ? 0 : 5;
      errs[i] = errno;
    } else {
      kinds[i] = S_ISREG(st.st_mode) ? 1 : S_ISDIR(st.st_mode) ? 2 : S_ISLNK(st.st_mode) ? 3 : 4;
      asec[i] = (double)st.st_atim.tv_sec;
      ansec[i] = (double)st.st_atim.tv_nsec;
      msec[i] = (double)st.st_mtim.tv_sec;
      mnsec[i] = (double)st.st_mtim.tv_nsec;
    }
    napi_value s;
    if (napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s) != napi_ok || napi_set_element(env, arr, (uint32_t)i, s) != napi_ok) goto out;
  }
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "names", arr);
  napi_set_named_property(env, result, "kinds", tk);
  napi_set_named_property(env, result, "asec", ta);
  napi_set_named_property(env, result, "ansec", tan);
  napi_set_named_property(env, result, "msec", tm);
  napi_set_named_property(env, result, "mnsec", tmn);
  napi_set_named_property(env, result, "errs", te);
out:
  if (names != NULL) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
  }
  close(fd);
  return result;
}

static napi_value remove_if_unchanged(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char root[PATH_CAP], rel[PATH_CAP];
  bool is_array = false;
  uint32_t count = 0;
  napi_typedarray_type ta_type, tm_type;
  size_t ta_len = 0, tm_len = 0;
  void *ad = NULL, *md = NULL;
  if (argc < 5 || !string_arg(env, argv[0], root, sizeof root) || !string_arg(env, argv[1], rel, sizeof rel) ||
      napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &count) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &ta_type, &ta_len, &ad, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[4], &tm_type, &tm_len, &md, NULL, NULL) != napi_ok || ta_type != napi_float64_array ||
      tm_type != napi_float64_array || ta_len < count || tm_len < count) {
    napi_throw_type_error(env, NULL, "removeIfUnchanged(root, rel, names, asec, msec): strings, an array and two Float64Arrays expected");
    return NULL;
  }
  const double *asec = ad, *msec = md;
  int fd = open_chain(root, rel);
  if (fd < 0) return fail(env, -fd, rel);
  int *res = NULL;
  napi_value out = typed(env, napi_int32_array, count, 4, (void **)&res);
  if (out == NULL) {
    close(fd);
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    char name[256];
    if (napi_get_element(env, argv[2], i, &v) != napi_ok || !string_arg(env, v, name, sizeof name) || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == 0) {
      res[i] = -EINVAL;
      continue;
    }
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      res[i] = errno == ENOENT ? 1 : -errno;
      continue;
    }
    if (!S_ISREG(st.st_mode) || (double)st.st_atim.tv_sec != asec[i] || (double)st.st_mtim.tv_sec != msec[i]) {
      res[i] = 2;
      continue;
    }
    if (unlinkat(fd, name, 0) != 0) res[i] = errno == ENOENT ? 1 : -errno;
    else res[i] = 0;
  }
  close(fd);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "scanLeaf", NAPI_AUTO_LENGTH, scan_leaf, NULL, &f);
  napi_set_named_property(env, exports, "scanLeaf", f);
  napi_create_function(env, "removeIfUnchanged", NAPI_AUTO_LENGTH, remove_if_unchanged, NULL, &f);
  napi_set_named_property(env, exports, "removeIfUnchanged", f);
  return exports;
}

NAPI_MODULE(treefs, init)
