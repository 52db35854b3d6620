/* id.c: random ids.  Trace ids are 16 bytes and span ids 8 bytes of lowercase hex,
 * the sizes W3C trace-context and OTLP use, so keel's ids travel unchanged to any
 * OpenTelemetry backend.  Randomness comes from a per-thread xoshiro256** generator
 * seeded from getrandom(2): ids need uniqueness, not secrecy, and a syscall per id
 * would cost more than the rest of the trace bookkeeping. */
#include "base/kl_base.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>
#include <sys/random.h>

static _Thread_local uint64_t s[4];
static _Thread_local bool seeded;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(void) {
  if (!seeded) {
    while (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) {
    }
    if (!(s[0] | s[1] | s[2] | s[3])) s[0] = 1;
    seeded = true;
  }
  uint64_t r = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

void kl_random_bytes(void *out, size_t n) {
  unsigned char *p = out;
  while (n) {
    uint64_t r = next64();
    size_t k = n < 8 ? n : 8;
    memcpy(p, &r, k);
    p += k;
    n -= k;
  }
}

/* 8 bytes as 16 lowercase hex digits (not terminated).  Every gateway call makes a trace and
 * a span id: sixteen nibbles at once with SSE2 instead of a table lookup per nibble. */
static void hex8(char out[16], const unsigned char b[8]) {
#ifdef __SSE2__
  __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)b);
  __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0f));
  __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0f));
  __m128i nib = _mm_unpacklo_epi8(hi, lo); /* high nibble first, byte by byte */
  __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(nib, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
  _mm_storeu_si128((__m128i *)(void *)out, _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')), letter));
#else
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
#endif
}

static void hex_id(char *out, size_t nbytes) { /* nbytes: 8 or 16 */
  unsigned char b[16];
  do kl_random_bytes(b, nbytes);
  while (!memcmp(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", nbytes)); /* all-zero is invalid in W3C */
  for (size_t i = 0; i < nbytes; i += 8) hex8(out + 2 * i, b + i);
  out[2 * nbytes] = 0;
}

/* Trace ids start with the time in milliseconds (6 bytes, big-endian) followed by 10 random
 * bytes, as AWS X-Ray and ULIDs do.  W3C trace-context only asks for randomness in the
 * right-most 7 bytes, which stay random; ordering by time keeps every trace-keyed index in the
 * store append-mostly, so a batch of inserts dirties a few pages instead of one per row
 * (measured: a third of the writer's CPU went to WAL writes of randomly placed index pages). */
void kl_id_trace(char out[33]) {
  unsigned char b[16];
  uint64_t ms = (uint64_t)(kl_now_ns() / 1000000);
  for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (8 * (5 - i)));
  kl_random_bytes(b + 6, 10);
  hex8(out, b);
  hex8(out + 16, b + 8);
  out[32] = 0;
}
void kl_id_span(char out[17]) { hex_id(out, 8); }

bool kl_id_is_hex(const char *s, size_t want_len) {
  if (!s || strlen(s) != want_len) return false;
  for (size_t i = 0; i < want_len; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}
