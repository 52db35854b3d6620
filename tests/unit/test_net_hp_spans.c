/* test_net_hp_spans.c: the request parser's spans (URL, header names and values) are built
 * straight in the request arena and names are lower-cased through one table: every byte as
 * a header-name character against isalnum/tolower and RFC 9110's token list, a head split at
 * every offset giving the same request as in one piece, and a head fed a byte at a time using
 * a bounded amount of arena. */
#include "net/http_internal.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
  kl_hp hp;
  kl_http_req req;
  kl_arena *arena;
} fx;

static void fx_init(fx *f) {
  memset(f, 0, sizeof *f);
  kl_hp_init(&f->hp, 65536, 1 << 20);
  f->arena = kl_arena_new(0);
  f->req.arena = f->arena;
  kl_hp_begin(&f->hp, &f->req);
}

static void fx_free(fx *f) {
  kl_hp_free(&f->hp);
  kl_arena_free(f->arena);
}

/* Feeds s in pieces: the first `first` bytes, then the rest `step` at a time (0: at once). */
static kl_hp_ev feed(fx *f, const char *s, size_t len, size_t first, size_t step) {
  size_t off = 0;
  while (off < len) {
    size_t n = off == 0 && first ? first : step ? step : len - off;
    if (n > len - off) n = len - off;
    size_t used;
    kl_hp_ev ev = kl_hp_feed(&f->hp, s + off, n, &used);
    off += used;
    if (ev == KL_HP_MSG || ev == KL_HP_ERR) return ev;
    if (ev == KL_HP_MORE) assert_int_equal(used, n);
  }
  return KL_HP_MORE;
}

static bool ref_tchar(int c) { return c && (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)); }

static void test_every_name_byte(void **st) {
  (void)st;
  for (int c = 0; c < 256; c++) {
    char req[64];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nAx%cZ: v\r\n\r\n", c ? c : '?');
    if (c == 0) req[18] = 0; /* a NUL in the name */
    fx f;
    fx_init(&f);
    kl_hp_ev ev = feed(&f, req, (size_t)n, 0, 0);
    if (c == ':') { /* ends the name */
      assert_int_equal(ev, KL_HP_MSG);
      assert_string_equal(f.req.headers[0].name, "ax");
      assert_string_equal(f.req.headers[0].value, "Z: v");
    } else if (ref_tchar(c)) {
      assert_int_equal(ev, KL_HP_MSG);
      assert_int_equal(f.req.nheaders, 1);
      char want[8] = {'a', 'x', (char)tolower(c), 'z', 0};
      assert_string_equal(f.req.headers[0].name, want);
      assert_string_equal(f.req.headers[0].value, "v");
    } else {
      if (ev != KL_HP_ERR) fail_msg("byte 0x%02x accepted in a header name", c);
      assert_int_equal(f.hp.err_status, 400);
    }
    fx_free(&f);
  }
}

static const char REQ[] =
    "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: example.test\r\nContent-Type:application/json\r\n"
    "X-Keel-User:  \t alice \t \r\nEmpty:\r\nX-Spaces:   \r\nAuthorization: Bearer sk-abc\r\n"
    "Content-Length: 2\r\n\r\n{}";

static void check_req(const fx *f) {
  assert_string_equal(f->req.method, "POST");
  assert_string_equal(f->req.target, "/v1/chat/completions?x=1");
  assert_string_equal(f->req.path, "/v1/chat/completions");
  assert_string_equal(f->req.query, "x=1");
  static const char *want[][2] = {{"host", "example.test"}, {"content-type", "application/json"},
                                  {"x-keel-user", "alice"}, {"empty", ""}, {"x-spaces", ""},
                                  {"authorization", "Bearer sk-abc"}, {"content-length", "2"}};
  assert_int_equal(f->req.nheaders, sizeof want / sizeof *want);
  for (size_t i = 0; i < f->req.nheaders; i++) {
    assert_string_equal(f->req.headers[i].name, want[i][0]);
    assert_string_equal(f->req.headers[i].value, want[i][1]);
  }
  assert_int_equal(f->req.body_len, 2);
  assert_string_equal(f->req.body, "{}");
}

static void test_split_everywhere(void **st) {
  (void)st;
  size_t len = sizeof REQ - 1;
  for (size_t first = 1; first < len; first++) { /* one split at every offset */
    fx f;
    fx_init(&f);
    assert_int_equal(feed(&f, REQ, len, first, 0), KL_HP_MSG);
    check_req(&f);
    fx_free(&f);
  }
  for (size_t step = 1; step < 8; step++) { /* many splits */
    fx f;
    fx_init(&f);
    assert_int_equal(feed(&f, REQ, len, 0, step), KL_HP_MSG);
    check_req(&f);
    fx_free(&f);
  }
}

/* A long header value and URL a byte at a time: a split span is copied into a buffer twice
 * its size, so the arena holds a small multiple of the head, not its square. */
static void test_byte_at_a_time_is_bounded(void **st) {
  (void)st;
  kl_buf r = KL_BUF_INIT;
  kl_buf_puts(&r, "GET /");
  for (int i = 0; i < 4000; i++) kl_buf_putc(&r, 'u');
  kl_buf_puts(&r, " HTTP/1.1\r\nX-Long: ");
  for (int i = 0; i < 20000; i++) kl_buf_putc(&r, 'v');
  kl_buf_puts(&r, "\r\n\r\n");
  fx f;
  fx_init(&f);
  assert_int_equal(feed(&f, r.data, r.len, 0, 1), KL_HP_MSG);
  assert_int_equal(strlen(f.req.target), 4001);
  assert_int_equal(strlen(f.req.headers[0].value), 20000);
  assert_true(kl_arena_used(f.arena) < 8 * r.len);
  fx_free(&f);
  kl_buf_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_name_byte),
      cmocka_unit_test(test_split_everywhere),
      cmocka_unit_test(test_byte_at_a_time_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
