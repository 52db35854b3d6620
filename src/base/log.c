/* log.c: leveled, thread-safe logging to stderr, one line per call.  Each line is
 * formatted into a stack buffer and written with a single write(2), so lines from
 * different threads never interleave. */
#include "base/kl_base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int g_level = KL_LOG_INFO;

void kl_log_set_level(kl_log_level lvl) { g_level = (int)lvl; }
kl_log_level kl_log_get_level(void) { return (kl_log_level)g_level; }

void kl_log(kl_log_level lvl, const char *fmt, ...) {
  if ((int)lvl < g_level) return;
  static const char *names[] = {"debug", "info", "warn", "error"};
  char line[2048];
  char ts[32];
  kl_time_iso(kl_now_ns(), ts);
  int n = snprintf(line, sizeof line, "%s %-5s ", ts, names[lvl]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

void kl_err_set(kl_err *err, int code, const char *fmt, ...) {
  if (!err) return;
  err->code = code ? code : -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
}
