/* time.c: wall and monotonic clocks, RFC 3339 formatting and parsing. */
#include "base/kl_base.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t kl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kl_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void kl_time_iso(int64_t unix_ns, char out[32]) {
  time_t secs = (time_t)(unix_ns / 1000000000);
  int ms = (int)((unix_ns % 1000000000) / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  /* years beyond 9999 are clamped: they only come from corrupt input */
  int year = tm.tm_year + 1900;
  if (year > 9999) year = 9999;
  if (year < 0) year = 0;
  snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, (tm.tm_mon + 1) % 100,
           tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, ms % 1000);
}

static int digits(const char **p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)**p)) return -1;
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  return v;
}

int64_t kl_time_parse(const char *s) {
  if (!s || !*s) return -1;
  const char *p = s;
  bool all_digits = true;
  for (const char *q = s; *q; q++)
    if (!isdigit((unsigned char)*q)) { all_digits = false; break; }
  if (all_digits) {
    if (strlen(s) > 18) return -1;
    int64_t v = strtoll(s, NULL, 10);
    /* below 1e11 it is seconds, below 1e14 ms, else ns; what int64 ns cannot hold (after
     * 2262) is an error, not an overflow */
    if (v < 100000000000LL) return v > INT64_MAX / 1000000000 ? -1 : v * 1000000000;
    if (v < 100000000000000LL) return v > INT64_MAX / 1000000 ? -1 : v * 1000000;
    return v;
  }
  int Y = digits(&p, 4);
  if (Y < 1970 || Y > 2261 || *p++ != '-') return -1;  /* the range of int64 ns since 1970 */
  int M = digits(&p, 2);
  if (M < 1 || M > 12 || *p++ != '-') return -1;
  int D = digits(&p, 2);
  if (D < 1 || D > 31) return -1;
  int h = 0, m = 0, sec = 0;
  int64_t frac = 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':') return -1;
    m = digits(&p, 2);
    if (m < 0 || m > 59) return -1;
    if (*p == ':') {
      p++;
      sec = digits(&p, 2);
      if (sec < 0 || sec > 60) return -1;
    }
    if (*p == '.') {
      p++;
      int64_t scale = 100000000;
      if (!isdigit((unsigned char)*p)) return -1;
      while (isdigit((unsigned char)*p)) {
        frac += (*p - '0') * scale;
        scale /= 10;
        p++;
      }
    }
  }
  int offset = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int oh = digits(&p, 2);
    if (oh < 0) return -1;
    if (*p == ':') p++;
    int om = digits(&p, 2);
    if (om < 0) return -1;
    offset = sign * (oh * 3600 + om * 60);
  }
  if (*p) return -1;
  struct tm tm = {0};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  return ((int64_t)t - offset) * 1000000000 + frac;
}
