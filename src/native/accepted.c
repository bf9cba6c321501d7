/*
 * The accepted-line scan of the log reader, in WebAssembly (built by src/native/build.sh with
 * Debian's clang-14 and lld-14; the result is committed as base64 in accepted-wasm.ts).
 *
 * Input: a run of complete lines (it ends just after a '\n') copied to `input`. scan(n):
 *   - counts every '\n' (the reader keeps exact line numbers);
 *   - finds each line holding `result=accepted code=250` and writes one record per such line;
 *   - a record is FAST only when the line is exactly what src/core/logline.ts's
 *     QLOG_ACCEPTED_PLAIN matches behind a valid-looking TAI64N label: '@', 24 lowercase hex
 *     digits, ' ', then the same keys in the same order with the same value classes, optional
 *     `sslproto=`, at most one '\r' before the newline, and every byte ASCII. Anything else
 *     that holds the needle is OTHER and the JavaScript reader parses it the usual way, as are
 *     the rare bodies over MAX_BODY bytes and numbers over 16 digits. Never guess: when in
 *     doubt, OTHER.
 *
 * Record layout (REC 32-bit words), offsets relative to the start of the input:
 *   0 line start   1 line end (index of its '\n')   2 1-based line index in the input
 *   3 status: 0 OTHER, 1 FAST; for FAST only:
 *   4 label seconds, high word   5 label seconds, low word   6 label nanoseconds
 *   7 flags: F_RECEIVED (qlogreceived, else qlogenvelope), F_RELAY (relay=yes); how parseIp
 *     (src/core/ip.ts) reads remoteip: F_IP4 a dotted quad (word 12), F_MAPPED an IPv4-mapped
 *     IPv6 address (word 12), F_IP6 an IPv6 address (words 14..17: its groups, two a word, the
 *     first in the high half); none of them: JavaScript parses remoteip
 *   8 authuser offset   9 authuser length   10 remoteip offset   11 remoteip length
 *   12 the IPv4 address (F_IP4, F_MAPPED)
 *   13 where the line was copied to in `text`
 *   18 the pid= value when it has at most 9 digits, else 0xffffffff
 * out[0] = newlines in the input, out[1] = records written, out[2] = bytes in `text`.
 * With scan(n, 1) the FAST lines are copied one after the other to `text`: JavaScript makes one
 * string of them and cuts each line from it (one string per chunk instead of one per line).
 * With scan(n, 0) it takes no text (a sink takes the lines as numbers) and word 13 is not set.
 */
#include <wasm_simd128.h>

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define IN_CAP (256 * 1024)
/* reads (and the copies to `text`) run up to 64 bytes past the last byte of a line: they stay
   inside the arrays */
#define PAD 128
#define NEEDLE_LEN 24
/* a line holding the needle has at least NEEDLE_LEN + 1 bytes */
#define MAX_HITS (IN_CAP / (NEEDLE_LEN + 1) + 1)
#define REC 24
#define HEAD 4

#define F_RECEIVED 1u
#define F_RELAY 2u
#define F_IP4 4u
#define F_MAPPED 8u
#define F_IP6 16u

#define INLINE static inline __attribute__((always_inline))

static u8 input[IN_CAP + PAD] __attribute__((aligned(16)));
static u8 text[IN_CAP + PAD] __attribute__((aligned(16)));
static u32 output[HEAD + MAX_HITS * REC] __attribute__((aligned(16)));

__attribute__((export_name("input_ptr"))) u8 *input_ptr(void) { return input; }
__attribute__((export_name("output_ptr"))) u32 *output_ptr(void) { return output; }
__attribute__((export_name("text_ptr"))) u8 *text_ptr(void) { return text; }
__attribute__((export_name("input_cap"))) u32 input_cap(void) { return IN_CAP; }
__attribute__((export_name("record_words"))) u32 record_words(void) { return REC; }

INLINE v128_t load(const u8 *p) { return wasm_v128_load(p); }
INLINE v128_t splat(int c) { return wasm_i8x16_splat((signed char)c); }

INLINE u64 load64(const void *p) {
  u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

/* Does p start with the n bytes of s (s zero-padded to a multiple of 8)? Eight bytes at a
   time; it may read up to 7 bytes past the line, which stay inside `input`. */
INLINE int lit(const u8 *p, const char *s, u32 n) {
  u32 i = 0;
  for (; i + 8 <= n; i += 8)
    if (load64(p + i) != load64(s + i)) return 0;
  if (i < n) {
    u64 mask = ~0ull >> (64 - 8 * (n - i));
    if ((load64(p + i) ^ load64(s + i)) & mask) return 0;
  }
  return 1;
}
#define LIT(p, s) lit((p), (const char[(sizeof(s) + 7) / 8 * 8]){s}, sizeof(s) - 1)

/* lanes holding an ASCII whitespace byte other than ' ' (9..13) or a byte >= 0x80 */
INLINE u32 odd_bytes(v128_t v) {
  v128_t ws = wasm_i8x16_lt(wasm_i8x16_add(v, splat(128 - 9)), splat(-128 + 5));
  return wasm_i8x16_bitmask(ws) | wasm_i8x16_bitmask(v);
}

/* lanes holding '0'..'9' */
INLINE u32 digit_bits(v128_t x) {
  return wasm_i8x16_bitmask(wasm_i8x16_lt(wasm_i8x16_add(x, splat(128 - '0')), splat(-128 + 10)));
}

/* 8 hex digits, already checked to be [0-9a-f], to their value (the first digit the highest) */
INLINE u32 hex8(const u8 *s) {
  u64 x = load64(s);
  x = (x & 0x0f0f0f0f0f0f0f0full) + 9 * ((x >> 6) & 0x0101010101010101ull);
  x = ((x & 0x000f000f000f000full) << 4) | ((x >> 8) & 0x000f000f000f000full);
  x = ((x & 0x000000ff000000ffull) << 8) | ((x >> 16) & 0x000000ff000000ffull);
  return (u32)(((x & 0xffff) << 16) | ((x >> 32) & 0xffff));
}

/* every lane a lowercase hex digit */
INLINE int hex16(v128_t v) {
  v128_t dig = wasm_i8x16_lt(wasm_i8x16_add(v, splat(128 - '0')), splat(-128 + 10));
  v128_t low = wasm_i8x16_lt(wasm_i8x16_add(v, splat(128 - 'a')), splat(-128 + 6));
  return wasm_i8x16_all_true(wasm_v128_or(dig, low));
}

/* one dotted-quad part: l (1..3) digits at p, to its value (may exceed 255) */
INLINE u32 octet(const u8 *p, u32 l) {
  u32 d0 = (u32)(p[0] - '0'), d1 = (u32)(p[1] - '0'), d2 = (u32)(p[2] - '0');
  u32 two = d0 * 10 + d1;
  return l == 1 ? d0 : l == 2 ? two : two * 10 + d2;
}

/* parseIp4 of src/core/ip.ts: 7..15 bytes, four dot-separated runs of 1..3 digits, each <= 255
   (leading zeros allowed) */
INLINE int ip4(const u8 *s, u32 n, u32 *out) {
  if (n < 7 || n > 15) return 0;
  v128_t x = load(s);
  u32 all = (1u << n) - 1;
  u32 dot = wasm_i8x16_bitmask(wasm_i8x16_eq(x, splat('.'))) & all;
  if ((dot | (digit_bits(x) & all)) != all || __builtin_popcount(dot) != 3) return 0;
  u32 p1 = (u32)__builtin_ctz(dot);
  dot &= dot - 1;
  u32 p2 = (u32)__builtin_ctz(dot);
  dot &= dot - 1;
  u32 p3 = (u32)__builtin_ctz(dot);
  u32 l0 = p1, l1 = p2 - p1 - 1, l2 = p3 - p2 - 1, l3 = n - p3 - 1;
  /* each run 1..3 digits (an empty run wraps around to a large number) */
  if ((l0 - 1) > 2 || (l1 - 1) > 2 || (l2 - 1) > 2 || (l3 - 1) > 2) return 0;
  u32 o0 = octet(s, l0), o1 = octet(s + p1 + 1, l1), o2 = octet(s + p2 + 1, l2), o3 = octet(s + p3 + 1, l3);
  if ((o0 | o1 | o2 | o3) > 255) return 0;
  *out = (o0 << 24) | (o1 << 16) | (o2 << 8) | o3;
  return 1;
}

/* one piece of an IPv6 address (parseHexGroup): 1..4 hex digits of either case, or -1 */
INLINE int hex_group(const u8 *s, u32 n) {
  if (n == 0 || n > 4) return -1;
  u32 v = 0;
  for (u32 i = 0; i < n; i++) {
    u32 c = s[i], d;
    if (c - '0' <= 9) d = c - '0';
    else if ((c | 0x20) - 'a' <= 5) d = (c | 0x20) - 'a' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return (int)v;
}

/* expand() of parseIp6Groups: the pieces of s[a, b) between ':' into g[*k...]; the last piece
   may be a dotted quad (two groups). At most `max` groups (more could never make 8). */
static int ip6_part(const u8 *s, u32 a, u32 b, u32 *g, u32 *k, u32 max) {
  if (a == b) return 1;
  for (;;) {
    u32 e = a;
    int dot = 0;
    while (e < b && s[e] != ':') dot |= s[e++] == '.';
    if (e == b && dot) {
      u32 v4;
      if (!ip4(s + a, e - a, &v4) || *k + 2 > max) return 0;
      g[(*k)++] = v4 >> 16;
      g[(*k)++] = v4 & 0xffff;
      return 1;
    }
    int h = hex_group(s + a, e - a);
    if (h < 0 || *k + 1 > max) return 0;
    g[(*k)++] = (u32)h;
    if (e == b) return 1;
    a = e + 1;
  }
}

/* parseIp of src/core/ip.ts for an address with a ':': F_MAPPED (r[12]) or F_IP6 (r[14..17]),
   or 0 when it is no address (JavaScript then finds that out for itself) */
__attribute__((noinline)) static u32 ip6(const u8 *s, u32 n, u32 *r) {
  if (n < 2 || n > 45) return 0;
  u32 dbl = n, colon = 0;
  for (u32 i = 0; i + 1 < n; i++) {
    if (s[i] == ':' && s[i + 1] == ':') {
      if (dbl != n) return 0; /* a second '::' (also ':::') */
      dbl = i;
    }
  }
  for (u32 i = 0; i < n; i++) colon |= s[i] == ':';
  if (!colon) return 0;
  u32 g[8], k = 0;
  if (dbl == n) {
    if (!ip6_part(s, 0, n, g, &k, 8) || k != 8) return 0;
  } else {
    u32 head[8], h = 0, t = 0;
    if (!ip6_part(s, 0, dbl, head, &h, 7) || !ip6_part(s, dbl + 2, n, g, &t, 7) || h + t > 7) return 0;
    /* head, zeros, tail */
    u32 fill = 8 - h - t;
    for (u32 i = t; i-- > 0;) g[i + h + fill] = g[i];
    for (u32 i = 0; i < h; i++) g[i] = head[i];
    for (u32 i = 0; i < fill; i++) g[h + i] = 0;
  }
  if ((g[0] | g[1] | g[2] | g[3] | g[4]) == 0 && g[5] == 0xffff) {
    r[12] = (g[6] << 16) | g[7];
    return F_MAPPED;
  }
  for (u32 i = 0; i < 4; i++) r[14 + i] = (g[2 * i] << 16) | g[2 * i + 1];
  return F_IP6;
}

#define PREFIX "qlogenvelope: result=accepted code=250 reason="
#define PREFIX_LEN (sizeof(PREFIX) - 1)
/* spaces in a plain body: 21, or 22 with sslproto= */
#define SPACES 21
/* longer bodies are left to JavaScript */
#define MAX_BODY 2048

/* bits for the first n bytes, n <= 8 / n <= 16 */
#define LOW8(n) ((n) >= 8 ? ~0ull : ((1ull << (8 * (n))) - 1))

/* nonzero unless p starts with the key k (at most 16 bytes, s zero-padded to 16): no branch */
INLINE u64 keydiff(const u8 *p, const char *k, u32 n) {
  u64 d = (load64(p) ^ load64(k)) & LOW8(n);
  if (n > 8) d |= (load64(p + 8) ^ load64(k + 8)) & LOW8(n - 8);
  return d;
}

/* 'yes' / 'no' / '' as bits: 1 yes, 2 no, 4 empty */
INLINE u32 yes_no_bits(const u8 *v, u32 n) {
  u32 w = (u32)load64(v);
  return ((n == 3) & ((w & 0xffffff) == 0x736579)) | (((n == 2) & ((w & 0xffff) == 0x6f6e)) << 1) | ((n == 0) << 2);
}

/* n (<= 16) digits at v, without a branch; longer runs are not plain */
INLINE u32 digits16(const u8 *v, u32 n) {
  u32 want = 0xffffu >> (16 - (n > 16 ? 16 : n));
  return (n <= 16) & ((digit_bits(load(v)) & want) == want);
}

/* Fill r[4..12] for the line [ls, le) (le: its '\n'); returns 1 for FAST. Not inlined: in
   scan() its registers would crowd out the search loop's. Every token boundary is found first;
   the checks then run without data-dependent branches. */
__attribute__((noinline)) static int classify(u32 ls, u32 le, u32 *r, u8 *dst) {
  const u8 *s = input + ls;
  u32 len = le - ls;
  if (len > 0 && s[len - 1] == '\r') len--;
  if (len < 26 + PREFIX_LEN || len > 26 + MAX_BODY) return 0;
  /* the label: '@', 24 lowercase hex digits, ' ' */
  if (s[0] != '@' || s[25] != ' ') return 0;
  if (!hex16(load(s + 1)) || !hex16(load(s + 9))) return 0;
  const u8 *b = s + 26;
  u32 blen = len - 26;
  u32 flags = 0;
  /* the line is copied to dst on the way (used only when it is FAST): the label here, the body
     with its windows below, and the 16 bytes from the body's end (its '\r', if any) */
  wasm_v128_store(dst, load(s));
  wasm_v128_store(dst + 16, load(s + 16));
  wasm_v128_store(dst + 26 + blen, load(b + blen));
  if (LIT(b, "qlogreceived")) flags |= F_RECEIVED;
  else if (!LIT(b, "qlogenvelope")) return 0;
  if (!LIT(b + 12, ": result=accepted code=250 reason=")) return 0;
  /* the spaces of the body, in order; no odd byte anywhere in it */
  u32 pos[SPACES + 2];
  u32 np = 0;
  u64 odd = 0;
  for (u32 base = 0; base < blen; base += 64) {
    u64 sp = 0, od = 0;
    for (u32 k = 0; k < 4; k++) {
      v128_t v = load(b + base + 16 * k);
      wasm_v128_store(dst + 26 + base + 16 * k, v);
      sp |= (u64)wasm_i8x16_bitmask(wasm_i8x16_eq(v, splat(' '))) << (16 * k);
      od |= (u64)odd_bytes(v) << (16 * k);
    }
    if (blen - base < 64) {
      u64 valid = (1ull << (blen - base)) - 1;
      sp &= valid;
      od &= valid;
    }
    odd |= od;
    if (np + (u32)__builtin_popcountll(sp) > SPACES + 1) return 0;
    while (sp) {
      pos[np++] = base + (u32)__builtin_ctzll(sp);
      sp &= sp - 1;
    }
  }
  if (odd || np < SPACES) return 0;
  pos[np] = blen;
  /* the prefix holds the first three spaces (13, 29, 38) */
  u32 ssl = np - SPACES;
  u64 diff = 0;
  u32 ok = 1;
  const u8 *v;
  u32 vn, yn;
#define TOKEN(j, key)                                        \
  do {                                                       \
    const u8 *t = b + pos[(j) - 1] + 1;                      \
    diff |= keydiff(t, (const char[16]){key}, sizeof(key) - 1); \
    v = t + sizeof(key) - 1;                                 \
    vn = (u32)(b + pos[j] - v);                              \
  } while (0)
  TOKEN(4, "detail=");
  TOKEN(5, "helo=");
  TOKEN(6, "mailfrom=");
  TOKEN(7, "rcptto=");
  TOKEN(8, "relay=");
  yn = yes_no_bits(v, vn);
  ok &= (yn & 3) != 0;
  flags |= (yn & 1) ? F_RELAY : 0;
  TOKEN(9, "rcpthosts=");
  ok &= yes_no_bits(v, vn) != 0;
  TOKEN(10, "size=");
  ok &= digits16(v, vn);
  TOKEN(11, "authuser=");
  r[8] = (u32)(v - input);
  r[9] = vn;
  TOKEN(12, "authtype=");
  TOKEN(13, "encrypted=");
  u32 enc = (u32)load64(v) & 0xffffff;
  ok &= (vn == 0) | ((vn == 3) & ((enc == 0x6c7373) | (enc == 0x736c74)));
  TOKEN(14, "sslverified=");
  ok &= yes_no_bits(v, vn) != 0;
  if (ssl) TOKEN(15, "sslproto=");
  TOKEN(15 + ssl, "localip=");
  TOKEN(16 + ssl, "localport=");
  ok &= digits16(v, vn);
  TOKEN(17 + ssl, "remoteip=");
  r[10] = (u32)(v - input);
  r[11] = vn;
  if (ip4(v, vn, &r[12])) flags |= F_IP4;
  else flags |= ip6(v, vn, r);
  TOKEN(18 + ssl, "remoteport=");
  ok &= digits16(v, vn);
  TOKEN(19 + ssl, "remotehost=");
  TOKEN(20 + ssl, "qp=");
  ok &= digits16(v, vn);
  TOKEN(21 + ssl, "pid=");
  ok &= (vn > 0) & digits16(v, vn);
  /* its value when it has at most 9 digits (JavaScript reads longer ones itself) */
  u32 pid = 0;
  for (u32 j = 0; j < vn && j < 9; j++) pid = pid * 10 + (u32)(v[j] - '0');
  r[18] = vn <= 9 ? pid : 0xffffffffu;
#undef TOKEN
  if (diff || !ok) return 0;
  r[4] = hex8(s + 1);
  r[5] = hex8(s + 9);
  r[6] = hex8(s + 17);
  r[7] = flags;
  return 1;
}

/* the first '\n' at or after i (there is one: the input ends with '\n') */
INLINE u32 next_newline(u32 i) {
  for (;;) {
    u32 m = wasm_i8x16_bitmask(wasm_i8x16_eq(load(input + i), splat('\n')));
    if (m) return i + (u32)__builtin_ctz(m);
    i += 16;
  }
}

/* the start of the line holding `at`, not before `from` (a line start) */
INLINE u32 line_start(u32 at, u32 from) {
  while (at - from >= 16) {
    u32 m = wasm_i8x16_bitmask(wasm_i8x16_eq(load(input + at - 16), splat('\n')));
    if (m) return at - 16 + (32 - (u32)__builtin_clz(m));
    at -= 16;
  }
  while (at > from && input[at - 1] != '\n') at--;
  return at;
}

/* newlines in [a, b) */
static u32 count_newlines(u32 a, u32 b) {
  u32 c = 0;
  while (b - a >= 64) {
    u32 blocks = (b - a) / 64;
    if (blocks > 255) blocks = 255;
    v128_t acc = wasm_i8x16_splat(0);
    for (u32 k = 0; k < blocks; k++, a += 64) {
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(load(input + a), splat('\n')));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(load(input + a + 16), splat('\n')));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(load(input + a + 32), splat('\n')));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(load(input + a + 48), splat('\n')));
    }
    /* lanes hold up to 4 * 255: widen before adding up */
    v128_t w = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(acc), wasm_u16x8_extend_high_u8x16(acc));
    v128_t d = wasm_i32x4_dot_i16x8(w, wasm_i16x8_splat(1));
    c += (u32)(wasm_i32x4_extract_lane(d, 0) + wasm_i32x4_extract_lane(d, 1) + wasm_i32x4_extract_lane(d, 2) + wasm_i32x4_extract_lane(d, 3));
  }
  for (; a + 16 <= b; a += 16) c += (u32)__builtin_popcount(wasm_i8x16_bitmask(wasm_i8x16_eq(load(input + a), splat('\n'))));
  if (a < b) c += (u32)__builtin_popcount(wasm_i8x16_bitmask(wasm_i8x16_eq(load(input + a), splat('\n'))) & ((1u << (b - a)) - 1));
  return c;
}

/* the first needle at or after i that ends by n, or n */
INLINE u32 find_needle(u32 i, u32 n) {
  for (; i < n; i += 16) {
    v128_t a = load(input + i);
    v128_t z = load(input + i + NEEDLE_LEN - 1);
    v128_t c = wasm_v128_and(wasm_i8x16_eq(a, splat('r')), wasm_i8x16_eq(z, splat('0')));
    if (!wasm_v128_any_true(c)) continue;
    u32 m = wasm_i8x16_bitmask(c);
    do {
      u32 at = i + (u32)__builtin_ctz(m);
      m &= m - 1;
      if (at + NEEDLE_LEN <= n && LIT(input + at, "result=accepted code=250")) return at;
    } while (m);
  }
  return n;
}

/* the four 16-byte lanes' bitmasks of one 64-byte block as one 64-bit mask */
#define MASK64(m0, m1, m2, m3) ((u64)(m0) | ((u64)(m1) << 16) | ((u64)(m2) << 32) | ((u64)(m3) << 48))

/* scan()'s `copy`: whether the FAST lines are wanted in `text` (word 13 says where) */
static u32 copy_text = 1;

/* Write the record of the needle at `at` (its line starts at or after `from`), given the
   newlines before `from`; returns the newlines up to and including the line's own. */
INLINE u32 hit(u32 at, u32 from, u32 lines_before_from, u64 nlm, u32 block, u32 **recp, u32 *tpos) {
  u32 ls = line_start(at, from);
  /* newlines between the block start and the line start (none when the line began earlier) */
  u32 idx = lines_before_from + 1;
  if (ls > block) idx += (u32)__builtin_popcountll(nlm & ((1ull << (ls - block)) - 1));
  u32 le = next_newline(at + NEEDLE_LEN);
  u32 *rec = *recp;
  rec[0] = ls;
  rec[1] = le;
  rec[2] = idx;
  /* a FAST line stays where classify copied it in `text` (the copy runs up to 64 bytes past
     the line: PAD), the next line goes after it; when the caller takes no text, every line is
     copied to the start of `text` (a few cache lines, not a stream through the whole array) */
  rec[3] = (u32)classify(ls, le, rec, text + *tpos);
  if (rec[3] && copy_text) {
    rec[13] = *tpos;
    *tpos += le - ls;
  }
  *recp = rec + REC;
  return idx;
}

__attribute__((export_name("scan"))) u32 scan(u32 n, u32 copy) {
  if (n > IN_CAP) return 0xffffffffu;
  copy_text = copy;
  u32 lines = 0, hits = 0, i = 0, from = 0, tpos = 0;
  u32 *rec = output + HEAD;
  const v128_t nl = splat('\n'), first = splat('r'), last = splat('0');
  /* 64 bytes a round: a candidate test (first and last byte of the needle) and the newlines,
     added up lane by lane (at most 4 a round: 63 rounds fit a byte) */
  while (n - i >= 64) {
    v128_t acc = wasm_i8x16_splat(0);
    u32 rounds = 0;
    int cand = 0;
    for (; n - i >= 64 && rounds < 63; i += 64, rounds++) {
      const u8 *p = input + i;
      v128_t a0 = load(p), a1 = load(p + 16), a2 = load(p + 32), a3 = load(p + 48);
      v128_t c = wasm_v128_or(
          wasm_v128_or(wasm_v128_and(wasm_i8x16_eq(a0, first), wasm_i8x16_eq(load(p + NEEDLE_LEN - 1), last)),
                       wasm_v128_and(wasm_i8x16_eq(a1, first), wasm_i8x16_eq(load(p + 16 + NEEDLE_LEN - 1), last))),
          wasm_v128_or(wasm_v128_and(wasm_i8x16_eq(a2, first), wasm_i8x16_eq(load(p + 32 + NEEDLE_LEN - 1), last)),
                       wasm_v128_and(wasm_i8x16_eq(a3, first), wasm_i8x16_eq(load(p + 48 + NEEDLE_LEN - 1), last))));
      if (wasm_v128_any_true(c)) {
        cand = 1;
        break;
      }
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(a0, nl));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(a1, nl));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(a2, nl));
      acc = wasm_i8x16_sub(acc, wasm_i8x16_eq(a3, nl));
    }
    v128_t w = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(acc), wasm_u16x8_extend_high_u8x16(acc));
    v128_t d = wasm_i32x4_dot_i16x8(w, wasm_i16x8_splat(1));
    lines += (u32)(wasm_i32x4_extract_lane(d, 0) + wasm_i32x4_extract_lane(d, 1) + wasm_i32x4_extract_lane(d, 2) + wasm_i32x4_extract_lane(d, 3));
    if (!cand) continue;
    /* the block at i has candidates: the first true needle, if any */
    const u8 *p = input + i;
    u64 nlm = MASK64(wasm_i8x16_bitmask(wasm_i8x16_eq(load(p), nl)), wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 16), nl)),
                     wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 32), nl)), wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 48), nl)));
    u64 cm = 0;
    for (u32 k = 0; k < 4; k++)
      cm |= (u64)wasm_i8x16_bitmask(wasm_v128_and(wasm_i8x16_eq(load(p + 16 * k), first), wasm_i8x16_eq(load(p + 16 * k + NEEDLE_LEN - 1), last))) << (16 * k);
    u32 at = n;
    while (cm) {
      u32 c = i + (u32)__builtin_ctzll(cm);
      cm &= cm - 1;
      if (c + NEEDLE_LEN <= n && LIT(input + c, "result=accepted code=250")) {
        at = c;
        break;
      }
    }
    if (at == n) {
      lines += (u32)__builtin_popcountll(nlm);
      i += 64;
      continue;
    }
    lines = hit(at, from, lines, nlm, i, &rec, &tpos);
    hits++;
    i = from = rec[1 - REC] + 1;
  }
  /* the last bytes, 16 at a time */
  for (;;) {
    u32 at = find_needle(i, n);
    if (at >= n) break;
    u32 ls = line_start(at, i);
    lines += count_newlines(i, ls);
    lines = hit(at, ls, lines, 0, ls, &rec, &tpos);
    hits++;
    i = rec[1 - REC] + 1;
  }
  lines += count_newlines(i, n);
  output[0] = lines;
  output[1] = hits;
  output[2] = tpos;
  return hits;
}

/*
 * Every line of the input, for the reader's walk over all lines (no needle): lines(at, n)
 * writes one LREC-word record per line starting at `at` (a line start) before n, at most
 * MAX_LINES of them, and returns how many:
 *   0 the index of the line's '\n'
 *   1..3 its TAI64N label as the reader's labelAt() takes it ('@', 24 lowercase hex digits,
 *     ' '; at least 26 bytes before the '\n'): seconds high word, low word, nanoseconds. Any
 *     other line: word 1 is 0, which no label the reader takes has.
 * The caller goes on from just after the last line's '\n' while lines remain.
 */
#define LREC 4
#define MAX_LINES 16384
static u32 lines_out[MAX_LINES * LREC] __attribute__((aligned(16)));

__attribute__((export_name("lines_ptr"))) u32 *lines_ptr(void) { return lines_out; }
__attribute__((export_name("lines_max"))) u32 lines_max(void) { return MAX_LINES; }

__attribute__((export_name("lines"))) u32 lines(u32 at, u32 n) {
  if (n > IN_CAP || at >= n) return 0;
  u32 k = 0;
  u32 *r = lines_out;
  const v128_t nl = splat('\n');
  u32 ls = at, i = at;
  while (k < MAX_LINES && ls < n) {
    /* the newlines of the next 64 bytes, each ending a line (the reads stay inside PAD) */
    const u8 *p = input + i;
    u64 m = MASK64(wasm_i8x16_bitmask(wasm_i8x16_eq(load(p), nl)), wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 16), nl)),
                   wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 32), nl)), wasm_i8x16_bitmask(wasm_i8x16_eq(load(p + 48), nl)));
    if (n - i < 64) m &= (1ull << (n - i)) - 1;
    while (m && k < MAX_LINES) {
      u32 le = i + (u32)__builtin_ctzll(m);
      m &= m - 1;
      const u8 *s = input + ls;
      r[0] = le;
      if (le - ls >= 26 && s[0] == '@' && s[25] == ' ' && hex16(load(s + 1)) && hex16(load(s + 9))) {
        r[1] = hex8(s + 1);
        r[2] = hex8(s + 9);
        r[3] = hex8(s + 17);
      } else {
        r[1] = 0;
      }
      r += LREC;
      k++;
      ls = le + 1;
    }
    if (k == MAX_LINES) break;
    i += 64;
    if (i >= n) break;
  }
  return k;
}
