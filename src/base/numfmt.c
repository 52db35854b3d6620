/* numfmt.c: printf's "%" PRId64 and "%.15g" without printf, for the per-call trace record.
 *
 * Every traced call prints its usage (six integers) and its cost (six dollar amounts with
 * "%.15g") into JSON.  glibc's printf formats a double with multi-precision arithmetic,
 * ~2.5k instructions each: with the parsing of the format string that was ~20k
 * instructions per call, as much as parsing the upstream's answer.
 *
 * kl_buf_g15 gives exactly printf's "%.15g" bytes.  Fast path: a positive finite v in
 * [1e-8, 1e15) is scaled by an exact power of ten (10^k, k <= 22, is a double) into
 * [1e14, 1e15), which costs one rounding, at most 1/16 there (ulp 1/8 below 2^50); the
 * 15 significant digits are that product rounded to an integer, which is certain unless its
 * fraction is within 0.07 of a half: then, and for every other value (zero excepted: "0"),
 * snprintf decides.  The unit test checks both against snprintf over millions of values. */
#include "base/kl_base.h"

#include <math.h> /* signbit (a macro: no libm) */
#include <stdio.h>
#include <string.h>

char *kl_i64_digits(char *end, int64_t v) {
  char *p = end;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  return p;
}

void kl_buf_i64(kl_buf *b, int64_t v) {
  char tmp[24], *p = kl_i64_digits(tmp + sizeof tmp, v);
  kl_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The 15 significant digits of v and its decimal exponent; false = let snprintf do it. */
static bool digits15(double v, char d[15], int *exp10) {
  if (!(v >= 1e-8 && v < 1e15)) return false;
  double t = v * 1e8; /* in [1, 1e23): an estimate of the exponent, corrected below */
  int e = 0;
  while (e < 22 && p10[e + 1] <= t) e++;
  e -= 8;
  double x = 0;
  for (int tries = 0; tries < 3; tries++) {
    int k = 14 - e;
    if (k < 0 || k > 22) return false;
    x = v * p10[k];
    if (x >= 1e15) e++;
    else if (x < 1e14) e--;
    else break;
  }
  if (!(x >= 1e14 && x < 1e15)) return false;
  uint64_t m = (uint64_t)x; /* x > 0: truncation is floor, and x - m is exact below 2^50 */
  double frac = x - (double)m;
  if (frac > 0.43 && frac < 0.57) return false;
  m += frac > 0.5;
  if (m == 1000000000000000ULL) {
    m = 100000000000000ULL;
    e++;
  }
  for (int i = 14; i >= 0; i--) {
    d[i] = (char)('0' + m % 10);
    m /= 10;
  }
  *exp10 = e;
  return true;
}

void kl_buf_g15(kl_buf *b, double v) {
  char d[15];
  int e;
  if (v == 0 && !signbit(v)) {
    kl_buf_putc(b, '0');
    return;
  }
  if (!digits15(v, d, &e)) {
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.15g", v);
    kl_buf_append(b, tmp, (size_t)n);
    return;
  }
  int last = 14; /* %g drops trailing zeros of the fraction */
  while (last > 0 && d[last] == '0') last--;
  char out[40];
  size_t n = 0;
  if (e < -4 || e >= 15) { /* d.ddde-XX (only negative exponents reach here) */
    out[n++] = d[0];
    if (last > 0) {
      out[n++] = '.';
      memcpy(out + n, d + 1, (size_t)last);
      n += (size_t)last;
    }
    int ae = e < 0 ? -e : e;
    out[n++] = 'e';
    out[n++] = e < 0 ? '-' : '+';
    out[n++] = (char)('0' + ae / 10);
    out[n++] = (char)('0' + ae % 10);
  } else if (e >= 0) {
    memcpy(out, d, (size_t)e + 1);
    n = (size_t)e + 1;
    if (last > e) {
      out[n++] = '.';
      memcpy(out + n, d + e + 1, (size_t)(last - e));
      n += (size_t)(last - e);
    }
  } else { /* 0.000ddd */
    out[n++] = '0';
    out[n++] = '.';
    for (int i = 0; i < -e - 1; i++) out[n++] = '0';
    memcpy(out + n, d, (size_t)last + 1);
    n += (size_t)last + 1;
  }
  kl_buf_append(b, out, n);
}
