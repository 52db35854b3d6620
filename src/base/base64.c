/* base64.c: one base64 decoder for every place keel meets base64.
 *
 * Three readers need it and want the same rules: Basic credentials (api/auth.c), OTLP/JSON
 * bytesValue (trace/otlp_json.c: proto3 JSON accepts both alphabets, padding optional) and
 * payloads hidden in prompts (guard/normalise.c).  So: the standard and the URL-safe alphabet
 * (mixing them is accepted; nobody relies on rejecting it), '=' padding optional and only at
 * the end, and a length that leaves one dangling character (n % 4 == 1 after the padding) is
 * malformed.  A table lookup per byte; no allocation (the caller sizes out with
 * kl_base64_max). */
#include "base/kl_base.h"

/* 0..63, or 64 for a byte that is not base64 */
static const unsigned char k_val[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['-'] = 62,
    ['/'] = 63, ['_'] = 63,
};

static int val(unsigned char c) {
  /* the table's zero entries are 'A' or "not base64": tell them apart */
  return k_val[c] || c == 'A' ? k_val[c] : -1;
}

ptrdiff_t kl_base64_decode(const char *s, size_t n, unsigned char *out) {
  while (n && s[n - 1] == '=') n--;
  if (n % 4 == 1) return -1;
  size_t w = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = val((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[w++] = (unsigned char)(acc >> bits);
    }
  }
  out[w] = 0;
  return (ptrdiff_t)w;
}
