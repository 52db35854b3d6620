/* buf.c: a growable byte buffer that is always NUL-terminated, so a kl_buf holding
 * text can be handed to C string functions without a copy. */
#include "base/kl_base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kl_buf_reserve(kl_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    fprintf(stderr, "keel: out of memory (buffer of %zu bytes)\n", cap);
    abort();
  }
  b->data = p;
  b->cap = cap;
  b->data[b->len] = 0; /* a fresh buffer is an empty string, not garbage */
}

void kl_buf_append(kl_buf *b, const void *data, size_t n) {
  kl_buf_reserve(b, n);
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
}

void kl_buf_puts(kl_buf *b, const char *s) { kl_buf_append(b, s, strlen(s)); }

void kl_buf_putc(kl_buf *b, char c) { kl_buf_append(b, &c, 1); }

void kl_buf_vprintf(kl_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  if (n < (int)sizeof tmp) {
    kl_buf_append(b, tmp, (size_t)n);
  } else {
    kl_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void kl_buf_printf(kl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kl_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void kl_buf_consume(kl_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
  } else {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
  }
  if (b->data) b->data[b->len] = 0;
}

void kl_buf_reset(kl_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

void kl_buf_free(kl_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *kl_buf_steal(kl_buf *b) {
  if (!b->data) kl_buf_reserve(b, 0);
  char *p = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

int kl_buf_read_fd(kl_buf *b, int fd, size_t max) {
  size_t got = 0;
  for (;;) {
    kl_buf_reserve(b, 65536);
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    b->len += (size_t)n;
    b->data[b->len] = 0;
    got += (size_t)n;
    if (max && got > max) {
      errno = EFBIG;
      return -1;
    }
  }
}

int kl_buf_read_path(kl_buf *b, const char *path, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = kl_buf_read_fd(b, fd, max), e = errno;
  close(fd);
  errno = e;
  return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

bool kl_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* fast path over ASCII, 8 bytes at a time */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    size_t l = utf8_seq(p + i, n - i);
    if (!l) return false;
    i += l;
  }
  return true;
}

void kl_buf_json_str(kl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  kl_buf_reserve(b, n + 2);
  kl_buf_putc(b, '"');
  size_t i = 0;
  while (i < n) {
    /* prose is mostly plain: its runs found 16 bytes at a time (a 1 KiB answer ~9k -> ~2k
     * instructions) and copied whole */
    size_t run = kl_json_plain_len(s + i, n - i, true);
    if (run) kl_buf_append(b, p + i, run);
    i += run;
    if (i >= n) break;
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t l = utf8_seq(p + i, n - i);
      if (l) kl_buf_append(b, p + i, l), i += l;
      else kl_buf_puts(b, "\\ufffd"), i++;
      continue;
    }
    switch (c) {
      case '"': kl_buf_puts(b, "\\\""); break;
      case '\\': kl_buf_puts(b, "\\\\"); break;
      case '\n': kl_buf_puts(b, "\\n"); break;
      case '\r': kl_buf_puts(b, "\\r"); break;
      case '\t': kl_buf_puts(b, "\\t"); break;
      default: {
        char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        kl_buf_append(b, e, 6);
      }
    }
    i++;
  }
  kl_buf_putc(b, '"');
}

static void json_str_or_null(kl_buf *b, const char *s) {
  if (s) kl_buf_json_str(b, s, strlen(s));
  else kl_buf_puts(b, "null");
}

void kl_buf_error_json(kl_buf *b, const char *message, const char *type, const char *param, const char *code) {
  kl_buf_puts(b, "{\"error\":{\"message\":");
  json_str_or_null(b, message ? message : "error");
  kl_buf_puts(b, ",\"type\":");
  json_str_or_null(b, type);
  kl_buf_puts(b, ",\"param\":");
  json_str_or_null(b, param);
  kl_buf_puts(b, ",\"code\":");
  json_str_or_null(b, code);
  kl_buf_puts(b, "}}");
}
