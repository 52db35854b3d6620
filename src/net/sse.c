/* sse.c: incremental text/event-stream parser (the WHATWG "event stream" rules).
 *
 * The upstream client hands us body bytes exactly as they arrive, so a feed can end
 * anywhere: mid-field, mid-line, or between the CR and LF of a CRLF.  Whole lines that lie
 * inside one feed are parsed in place without copying; only the unfinished tail of a feed
 * is kept in p->line.  A CR that ends a feed sets last_cr so that an LF opening the next
 * feed is swallowed instead of being read as a second (blank) line, which would dispatch
 * an event early.
 *
 * Rules implemented: lines end in LF, CR or CRLF; a line starting with ':' is a comment;
 * "field:value" with one optional space after the colon removed, a line without a colon
 * is a field with an empty value; "data" lines are joined with '\n'; "event" sets the
 * name; "id", "retry" and unknown fields are ignored; a blank line dispatches the event
 * if any data line was seen (even an empty one) and always resets the name.  Not done:
 * stripping a leading UTF-8 BOM (LLM providers do not send one).
 *
 * max_event_bytes bounds memory against a hostile upstream: the data collected for the
 * current event plus the current line may not exceed it.  The check only depends on the
 * stream contents, not on how they were split, so the same input fails at the same
 * event whatever the feed sizes (the fuzzer relies on this).  After a failure
 * max_event_bytes is set to 0, which marks the parser as dead. */
#include "net/kl_net.h"

#include <stdint.h>
#include <string.h>

#define SSE_DEFAULT_MAX ((size_t)4 << 20)

void kl_sse_init(kl_sse_parser *p, size_t max_event_bytes) {
  memset(p, 0, sizeof *p);
  p->max_event_bytes = max_event_bytes ? max_event_bytes : SSE_DEFAULT_MAX;
}

void kl_sse_free(kl_sse_parser *p) {
  kl_buf_free(&p->line);
  kl_buf_free(&p->data);
  kl_buf_free(&p->event);
  p->have_data = false;
  p->last_cr = false;
}

static bool sse_too_big(const kl_sse_parser *p, size_t line_len) {
  return line_len > p->max_event_bytes || p->data.len > p->max_event_bytes - line_len;
}

static void sse_dispatch(kl_sse_parser *p, kl_sse_cb cb, void *ud) {
  if (p->have_data && cb) {
    const char *ev = p->event.len ? p->event.data : "";
    const char *data = p->data.data ? p->data.data : "";
    cb(ud, ev, data, p->data.len);
  }
  kl_buf_reset(&p->data);
  kl_buf_reset(&p->event);
  p->have_data = false;
}

/* One complete line (without its terminator). */
static void sse_line(kl_sse_parser *p, const char *s, size_t n, kl_sse_cb cb, void *ud) {
  if (n == 0) {
    sse_dispatch(p, cb, ud);
    return;
  }
  if (s[0] == ':') return; /* comment (keep-alives such as ": ping") */
  const char *colon = memchr(s, ':', n);
  size_t flen = colon ? (size_t)(colon - s) : n;
  const char *v = colon ? colon + 1 : s + n;
  size_t vlen = (size_t)(s + n - v);
  if (vlen && v[0] == ' ') {
    v++;
    vlen--;
  }
  if (flen == 4 && memcmp(s, "data", 4) == 0) {
    if (p->have_data) kl_buf_putc(&p->data, '\n');
    kl_buf_append(&p->data, v, vlen);
    p->have_data = true;
  } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
    kl_buf_reset(&p->event);
    kl_buf_append(&p->event, v, vlen);
  }
  /* "id", "retry" and anything else: ignored (we relay, we do not reconnect). */
}

/* The first CR or LF in [s, end), or end.  Eight bytes at a time while none of them is one
 * (the usual SWAR zero-byte test, exact as "is any byte zero?"): a chunk's data line is a few
 * hundred bytes, and the byte loop that scanned it was ~2k instructions an event, a quarter
 * of a plain stream's loop (bench/callgrind_calls.sh, STREAM=1); memchr would need two
 * passes, one per terminator. */
static const char *find_eol(const char *s, const char *end) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (uint64_t w, lf, cr; end - s >= 8; s += 8) {
    memcpy(&w, s, 8);
    lf = w ^ (ones * '\n');
    cr = w ^ (ones * '\r');
    if ((((lf - ones) & ~lf) | ((cr - ones) & ~cr)) & highs) break;
  }
  while (s < end && *s != '\n' && *s != '\r') s++;
  return s;
}

int kl_sse_feed(kl_sse_parser *p, const char *data, size_t len, kl_sse_cb cb, void *ud) {
  if (p->max_event_bytes == 0) return -1;
  const char *s = data, *end = data + len;
  if (p->last_cr && s < end) {
    p->last_cr = false;
    if (*s == '\n') s++;
  }
  while (s < end) {
    const char *e = find_eol(s, end);
    size_t seg = (size_t)(e - s);
    if (sse_too_big(p, p->line.len + seg)) {
      p->max_event_bytes = 0;
      return -1;
    }
    if (e == end) { /* unterminated tail: keep it for the next feed */
      kl_buf_append(&p->line, s, seg);
      break;
    }
    if (p->line.len) {
      kl_buf_append(&p->line, s, seg);
      /* sse_line may not touch p->line, so parsing it in place is safe. */
      sse_line(p, p->line.data, p->line.len, cb, ud);
      kl_buf_reset(&p->line);
    } else {
      sse_line(p, s, seg, cb, ud);
    }
    if (*e == '\r') {
      if (e + 1 == end) p->last_cr = true;
      else if (e[1] == '\n') e++;
    }
    s = e + 1;
  }
  return 0;
}

bool kl_sse_finish(kl_sse_parser *p) {
  /* A pending event: data lines without the closing blank line, or a partial field line
   * (a stream cut mid-line).  A partial comment does not count. */
  bool pending = p->have_data || (p->line.len > 0 && p->line.data[0] != ':');
  kl_buf_reset(&p->line);
  kl_buf_reset(&p->data);
  kl_buf_reset(&p->event);
  p->have_data = false;
  p->last_cr = false;
  return pending;
}
