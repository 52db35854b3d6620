/* test_net_sse.c: the incremental SSE parser: every event-stream rule, and that the way
 * the bytes are split into feeds never changes the events that come out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/kl_net.h"

/* Collected events, rendered as "name|data\n" lines for easy comparison. */
typedef struct {
  kl_buf out;
  int n;
} sink;

static void on_ev(void *ud, const char *event, const char *data, size_t len) {
  sink *s = ud;
  assert_non_null(event);
  assert_non_null(data);
  assert_int_equal(strlen(data), len); /* NUL-terminated, no embedded NUL in these tests */
  kl_buf_printf(&s->out, "%s|%s\n", event, data);
  s->n++;
}

/* kl_buf_steal() of a never-written buffer is not NUL-terminated (base bug, reported):
 * append nothing first, which terminates it. */
static char *steal(kl_buf *b) {
  kl_buf_append(b, "", 0);
  return kl_buf_steal(b);
}

/* Feeds `in` whole, returns the rendered events (caller frees), sets *pending. */
static char *parse_whole(const char *in, size_t len, bool *pending, int *count) {
  kl_sse_parser p;
  sink s = {KL_BUF_INIT, 0};
  kl_sse_init(&p, 0);
  assert_int_equal(kl_sse_feed(&p, in, len, on_ev, &s), 0);
  bool pend = kl_sse_finish(&p);
  if (pending) *pending = pend;
  if (count) *count = s.n;
  kl_sse_free(&p);
  return steal(&s.out);
}

static char *parse_split(const char *in, size_t len, const size_t *cuts, size_t ncuts, bool *pending) {
  kl_sse_parser p;
  sink s = {KL_BUF_INIT, 0};
  kl_sse_init(&p, 0);
  size_t off = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    assert_true(to >= off && to <= len);
    assert_int_equal(kl_sse_feed(&p, in + off, to - off, on_ev, &s), 0);
    off = to;
  }
  bool pend = kl_sse_finish(&p);
  if (pending) *pending = pend;
  kl_sse_free(&p);
  return steal(&s.out);
}

static char *parse_bytewise(const char *in, size_t len, bool *pending) {
  kl_sse_parser p;
  sink s = {KL_BUF_INIT, 0};
  kl_sse_init(&p, 0);
  for (size_t i = 0; i < len; i++) assert_int_equal(kl_sse_feed(&p, in + i, 1, on_ev, &s), 0);
  bool pend = kl_sse_finish(&p);
  if (pending) *pending = pend;
  kl_sse_free(&p);
  return steal(&s.out);
}

/* Parses `in` whole, byte by byte and split at every single point; all must give `want`. */
static void expect(const char *in, const char *want, bool want_pending) {
  size_t len = strlen(in);
  bool pend;
  char *got = parse_whole(in, len, &pend, NULL);
  assert_string_equal(got, want);
  assert_int_equal(pend, want_pending);
  free(got);
  got = parse_bytewise(in, len, &pend);
  assert_string_equal(got, want);
  assert_int_equal(pend, want_pending);
  free(got);
  for (size_t cut = 0; cut <= len; cut++) {
    got = parse_split(in, len, &cut, 1, &pend);
    assert_string_equal(got, want);
    assert_int_equal(pend, want_pending);
    free(got);
  }
}

static void test_basic_lf(void **st) {
  (void)st;
  expect("data: hello\n\n", "|hello\n", false);
  expect("data: a\n\ndata: b\n\n", "|a\n|b\n", false);
}

static void test_line_endings(void **st) {
  (void)st;
  expect("data: x\r\n\r\n", "|x\n", false);
  expect("data: x\r\rdata: y\r\r", "|x\n|y\n", false);
  expect("data: a\r\ndata: b\rdata: c\n\r\n", "|a\nb\nc\n", false);
  /* CRLF must count as one line end even when split between CR and LF. */
  const char *in = "data: 1\r\n\r\ndata: 2\r\n\r\n";
  for (size_t cut = 0; cut <= strlen(in); cut++) {
    char *got = parse_split(in, strlen(in), &cut, 1, NULL);
    assert_string_equal(got, "|1\n|2\n");
    free(got);
  }
  /* CR then LF in a third feed after an empty feed in between. */
  size_t cuts[2] = {8, 8};
  char *got = parse_split("data: 1\r\ndata: 2\r\n\r\n", 20, cuts, 2, NULL);
  assert_string_equal(got, "|1\n2\n");
  free(got);
}

/* Line ends found 8 bytes at a time (find_eol): a terminator at every offset of a word, after
 * bytes that differ from CR or LF in one bit (0x0b, 0x0c, 0x0e, 0x09, 0x8a, 0x8d, 0x2a), each
 * checked whole, byte by byte and split at every point. */
static void test_line_ends_in_words(void **st) {
  (void)st;
  static const char near[] = "\x0b\x0c\x0e\x09\x8a\x8d\x2a";
  static const char *const ends[] = {"\n", "\r", "\r\n"};
  char in[96], want[96];
  for (size_t vlen = 0; vlen <= 24; vlen++)
    for (size_t e = 0; e < 3; e++)
      for (size_t k = 0; k < sizeof near - 1; k++) {
        char v[32];
        for (size_t i = 0; i < vlen; i++) v[i] = i % 3 == 2 ? near[(k + i) % (sizeof near - 1)] : (char)('a' + i % 26);
        v[vlen] = 0;
        snprintf(in, sizeof in, "data: %s%s%s", v, ends[e], ends[e]);
        snprintf(want, sizeof want, "|%s\n", v);
        expect(in, want, false);
      }
}

static void test_leading_space(void **st) {
  (void)st;
  expect("data:nospace\n\n", "|nospace\n", false);
  expect("data:  two\n\n", "| two\n", false);  /* only one space is removed */
  expect("data: \n\n", "|\n", false);          /* empty data still dispatches */
  expect("data:\n\n", "|\n", false);
  expect("data\n\n", "|\n", false);            /* no colon: field with empty value */
  expect("data: a:b: c\n\n", "|a:b: c\n", false);
}

static void test_multiline(void **st) {
  (void)st;
  expect("data: one\ndata: two\ndata: three\n\n", "|one\ntwo\nthree\n", false);
  expect("data: one\ndata:\ndata: three\n\n", "|one\n\nthree\n", false);
  expect("data:\ndata:\n\n", "|\n\n", false);
}

static void test_event_names(void **st) {
  (void)st;
  expect("event: ping\ndata: 1\n\ndata: 2\n\n", "ping|1\n|2\n", false);
  expect("event:delta\nevent: last\ndata: x\n\n", "last|x\n", false);
  /* A name without data is dropped and does not leak into the next event. */
  expect("event: lonely\n\ndata: y\n\n", "|y\n", false);
  expect("data: x\nevent: after\n\n", "after|x\n", false);
}

static void test_comments_and_ignored(void **st) {
  (void)st;
  expect(": keep-alive\n\n", "", false);
  expect(":\ndata: a\n: mid comment\ndata: b\n\n", "|a\nb\n", false);
  expect("id: 42\nretry: 1000\ndata: z\n\n", "|z\n", false);
  expect("foo: bar\nDATA: no\nData: no\ndata : no\ndata: yes\n\n", "|yes\n", false);
  expect("\n\n\n", "", false); /* blank lines without data dispatch nothing */
}

static void test_finish_pending(void **st) {
  (void)st;
  expect("data: a\n\ndata: partial\n", "|a\n", true);
  expect("data: a\n\ndata: cut mid-li", "|a\n", true);
  expect("data: a\n\n: partial comment", "|a\n", false);
  expect("data: a\n\nevent: x\n", "|a\n", false);
  expect("data: a\n\n", "|a\n", false);
  /* finish resets: the parser can start a new stream */
  kl_sse_parser p;
  sink s = {KL_BUF_INIT, 0};
  kl_sse_init(&p, 0);
  assert_int_equal(kl_sse_feed(&p, "data: x\r", 8, on_ev, &s), 0);
  assert_true(kl_sse_finish(&p));
  assert_int_equal(kl_sse_feed(&p, "\ndata: y\n\n", 10, on_ev, &s), 0);
  assert_false(kl_sse_finish(&p));
  assert_string_equal(s.out.data, "|y\n");
  kl_sse_free(&p);
  kl_buf_free(&s.out);
}

static void test_max_event_bytes(void **st) {
  (void)st;
  kl_sse_parser p;
  sink s = {KL_BUF_INIT, 0};
  kl_sse_init(&p, 32);
  /* Small events pass; the size is per event, not per stream. */
  for (int i = 0; i < 10; i++) assert_int_equal(kl_sse_feed(&p, "data: 0123456789\n\n", 18, on_ev, &s), 0);
  assert_int_equal(s.n, 10);
  /* Many data lines that together exceed the limit. */
  /* data so far 10, then 21 bytes; the third line would make 21 + 16 > 32 */
  assert_int_equal(kl_sse_feed(&p, "data: 0123456789\n", 17, on_ev, &s), 0);
  assert_int_equal(kl_sse_feed(&p, "data: 0123456789\n", 17, on_ev, &s), 0);
  assert_int_equal(kl_sse_feed(&p, "data: 0123456789\n", 17, on_ev, &s), -1);
  assert_int_equal(kl_sse_feed(&p, "\n", 1, on_ev, &s), -1); /* dead after failure */
  assert_int_equal(s.n, 10);
  kl_sse_free(&p);

  /* One long unterminated line fails without waiting for its end, whole or bytewise. */
  kl_sse_init(&p, 32);
  char big[100];
  memset(big, 'x', sizeof big);
  memcpy(big, "data: ", 6);
  assert_int_equal(kl_sse_feed(&p, big, sizeof big, on_ev, &s), -1);
  kl_sse_free(&p);
  kl_sse_init(&p, 32);
  int rc = 0;
  size_t i;
  for (i = 0; i < sizeof big && rc == 0; i++) rc = kl_sse_feed(&p, big + i, 1, on_ev, &s);
  assert_int_equal(rc, -1);
  assert_int_equal(i, 33); /* failed on the 33rd byte */
  kl_sse_free(&p);

  /* Exactly at the limit is fine. */
  kl_sse_init(&p, 16);
  assert_int_equal(kl_sse_feed(&p, "data: 0123456789\n\n", 18, on_ev, &s), 0);
  assert_int_equal(s.n, 11);
  kl_sse_free(&p);
  kl_buf_free(&s.out);
}

/* A realistic OpenAI chat completion stream. */
static const char openai_stream[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\\n\"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,"
    "\"total_tokens\":12}}\n\n"
    "data: [DONE]\n\n";

static const char anthropic_stream[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25}}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void check_stream_splits(const char *in, int want_events) {
  size_t len = strlen(in);
  int n = 0;
  bool pend;
  char *whole = parse_whole(in, len, &pend, &n);
  assert_int_equal(n, want_events);
  assert_false(pend);
  char *bw = parse_bytewise(in, len, &pend);
  assert_string_equal(bw, whole);
  assert_false(pend);
  free(bw);
  /* Random splits, reproducible seed. */
  uint32_t seed = 12345;
  for (int round = 0; round < 300; round++) {
    size_t cuts[16];
    size_t nc = 1 + (size_t)round % 15;
    for (size_t i = 0; i < nc; i++) {
      seed = seed * 1103515245u + 12345u;
      cuts[i] = (seed >> 8) % (len + 1);
    }
    /* sort the cut points */
    for (size_t i = 1; i < nc; i++)
      for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
        size_t t = cuts[j];
        cuts[j] = cuts[j - 1];
        cuts[j - 1] = t;
      }
    char *got = parse_split(in, len, cuts, nc, &pend);
    assert_string_equal(got, whole);
    assert_false(pend);
    free(got);
  }
  free(whole);
}

static void test_openai_stream(void **st) {
  (void)st;
  check_stream_splits(openai_stream, 6);
  int n;
  char *whole = parse_whole(openai_stream, strlen(openai_stream), NULL, &n);
  /* the last event is the [DONE] sentinel; the third one kept its escaped newline */
  size_t wl = strlen(whole);
  assert_true(wl > 8);
  assert_string_equal(whole + wl - 8, "|[DONE]\n");
  assert_non_null(strstr(whole, "|{\"id\":\"chatcmpl-1\""));
  assert_non_null(strstr(whole, "\"content\":\"lo \\u00e9\\n\"}"));
  assert_null(strstr(whole, "OPENROUTER"));
  free(whole);
}

static void test_anthropic_stream(void **st) {
  (void)st;
  check_stream_splits(anthropic_stream, 5);
  char *whole = parse_whole(anthropic_stream, strlen(anthropic_stream), NULL, NULL);
  assert_true(strncmp(whole, "message_start|{", 15) == 0);
  assert_non_null(strstr(whole, "\nping|{\"type\": \"ping\"}\n"));
  assert_non_null(strstr(whole, "\nmessage_stop|{\"type\":\"message_stop\"}\n"));
  free(whole);
}

typedef struct {
  size_t len;
  char buf[16];
} rawcap;

static void on_raw(void *ud, const char *event, const char *data, size_t len) {
  (void)event;
  rawcap *r = ud;
  assert_true(len < sizeof r->buf);
  memcpy(r->buf, data, len + 1); /* includes the terminating NUL */
  r->len = len;
}

static void test_binary_data(void **st) {
  (void)st;
  /* Embedded NUL and high bytes pass through; len is authoritative and data is NUL-terminated. */
  const char in[] = "data: a\0b\xff\n\n";
  kl_sse_parser p;
  kl_sse_init(&p, 0);
  rawcap r = {0, {0}};
  assert_int_equal(kl_sse_feed(&p, in, sizeof in - 1, on_raw, &r), 0);
  assert_int_equal(r.len, 4);
  assert_memory_equal(r.buf, "a\0b\xff\0", 5);
  /* A NULL callback is tolerated (events are parsed and dropped). */
  assert_int_equal(kl_sse_feed(&p, "data: x\n\n", 10, NULL, NULL), 0);
  kl_sse_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_lf),
      cmocka_unit_test(test_line_endings), cmocka_unit_test(test_line_ends_in_words),
      cmocka_unit_test(test_leading_space),
      cmocka_unit_test(test_multiline),
      cmocka_unit_test(test_event_names),
      cmocka_unit_test(test_comments_and_ignored),
      cmocka_unit_test(test_finish_pending),
      cmocka_unit_test(test_max_event_bytes),
      cmocka_unit_test(test_openai_stream),
      cmocka_unit_test(test_anthropic_stream),
      cmocka_unit_test(test_binary_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
