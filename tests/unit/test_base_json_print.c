/* test_base_json_print.c: kl_json_write and kl_json_print_arena give cJSON_PrintUnformatted's
 * bytes exactly (json_print.c): documents of many shapes, every escape, numbers at the edges
 * of printf's formats, random doubles, hand-built trees cJSON's parser never makes (raw nodes,
 * invalid types, NULL strings and names), and the buffer and arena plumbing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kl_base.h"

/* Both printers on j: the same bytes, or both failing. */
static void check_tree(const cJSON *j) {
  char *want = cJSON_PrintUnformatted(j);
  kl_buf b = KL_BUF_INIT;
  kl_buf_puts(&b, "prefix");
  bool ok = kl_json_write(&b, j);
  kl_arena *a = kl_arena_new(64);
  char *arena = kl_json_print_arena(a, j);
  if (!want) {
    if (ok) fail_msg("cJSON fails, kl_json_write gave %s", b.data);
    assert_string_equal(b.data, "prefix"); /* unchanged on failure */
    assert_null(arena);
  } else {
    if (!ok) fail_msg("kl_json_write failed where cJSON gives %s", want);
    if (strcmp(b.data + 6, want) != 0) fail_msg("kl_json_write: got %s, want %s", b.data + 6, want);
    assert_int_equal(b.len, 6 + strlen(want));
    assert_non_null(arena);
    if (strcmp(arena, want) != 0) fail_msg("kl_json_print_arena: got %s, want %s", arena, want);
  }
  cJSON_free(want);
  kl_buf_free(&b);
  kl_arena_free(a);
}

static void check_text(const char *text) {
  cJSON *j = cJSON_Parse(text);
  if (!j) fail_msg("test input does not parse: %s", text);
  check_tree(j);
  cJSON_Delete(j);
}

static void check_number(double v) {
  cJSON *n = cJSON_CreateNumber(v);
  check_tree(n);
  cJSON_Delete(n);
}

static void test_shapes(void **st) {
  (void)st;
  static const char *const docs[] = {
      "{}", "[]", "null", "true", "false", "0", "\"\"", "[[]]", "[{}]", "{\"a\":{}}", "[[[[[[1]]]]]]",
      "{\"a\":1,\"b\":[1,2,3],\"c\":{\"d\":null,\"e\":true,\"f\":false},\"g\":\"h\"}",
      "[1, 2.5, -3, \"x\", null, true, false, [], {}, [null], {\"\":\"\"}]",
      ("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
       "{\"role\":\"user\",\"content\":\"Give me one short sentence about the sea.\"}],\"temperature\":0.7,"
       "\"max_tokens\":256,\"stream\":false,\"stop\":[\"\\n\\n\",\"END\"]}"),
      ("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
       "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}"),
      "{\"dup\":1,\"dup\":2,\"dup\":[3]}",
      "  { \"spaced\" :  [ 1 , 2 ] , \"x\" : { } }  ",
  };
  for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) check_text(docs[i]);
  /* deep nesting, both kinds */
  kl_buf d = KL_BUF_INIT;
  for (int i = 0; i < 400; i++) kl_buf_puts(&d, i % 2 ? "{\"k\":" : "[");
  kl_buf_puts(&d, "1");
  for (int i = 399; i >= 0; i--) kl_buf_puts(&d, i % 2 ? "}" : "]");
  check_text(d.data);
  kl_buf_free(&d);
  /* long arrays and strings: several buffer and arena growths */
  kl_buf big = KL_BUF_INIT;
  kl_buf_putc(&big, '[');
  for (int i = 0; i < 5000; i++)
    kl_buf_printf(&big, "%s{\"i\":%d,\"s\":\"item %d \\\" \\\\ \\n\"}", i ? "," : "", i, i);
  kl_buf_putc(&big, ']');
  check_text(big.data);
  kl_buf_free(&big);
}

static void test_strings(void **st) {
  (void)st;
  /* every byte value 1..255 alone, and inside runs of plain text */
  for (int c = 1; c < 256; c++) {
    char s[8] = {(char)c, 0};
    cJSON *j = cJSON_CreateString(s);
    check_tree(j);
    cJSON_Delete(j);
    char t[16];
    snprintf(t, sizeof t, "ab%ccd%c", c, c);
    j = cJSON_CreateString(t);
    check_tree(j);
    cJSON_Delete(j);
    /* at every position of strings long enough to be checked eight bytes at a time */
    for (size_t len = 7; len <= 25; len += 9)
      for (size_t pos = 0; pos < len; pos++) {
        char l[32];
        memset(l, 'x', len);
        l[len] = 0;
        l[pos] = (char)c;
        if (pos + 3 < len) l[pos + 3] = (char)(c ^ 0x80 ? c ^ 0x80 : 1); /* a neighbour across the 0x80 line */
        j = cJSON_CreateString(l);
        check_tree(j);
        cJSON_Delete(j);
      }
  }
  static const char *const strs[] = {"", "plain", "q\"uote", "back\\slash", "/slash", "\b\f\n\r\t", "\x01\x1f\x7f",
                                     "caf\xc3\xa9", "\xe2\x82\xac euro", "\xf0\x9f\x98\x80", "\xff\xfe invalid UTF-8",
                                     "\xc3", "tab\tin the middle\tand end\t", "\"\"\"\\\\\\"};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, strs[i], strs[i]); /* the name is escaped like a value */
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "arr"), cJSON_CreateString(strs[i]));
    check_tree(o);
    cJSON_Delete(o);
  }
  /* all bytes in a row, forwards and backwards: many escapes in every sixteen-byte block */
  char all[512];
  for (int i = 0; i < 255; i++) all[i] = (char)(i + 1), all[254 + 255 - i] = (char)(i + 1);
  all[510] = 0;
  cJSON *j = cJSON_CreateString(all);
  check_tree(j);
  cJSON_Delete(j);
  /* parsed \u escapes: controls, a NUL cut, surrogate pairs */
  check_text("[\"\\u0000x\",\"\\u0001\\u001f\\u0020\",\"\\ud83d\\ude00\",\"\\u00e9\\u20ac\",\"\\/\"]");
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_numbers(void **st) {
  (void)st;
  double fixed[] = {0.0, -0.0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 0.5, -0.5, 1e300, -1e300, 1e-300,
                    5e-324, -5e-324, DBL_MIN, DBL_MAX, -DBL_MAX, 9007199254740992.0, 9007199254740993.0,
                    -9007199254740992.0, 4503599627370496.5, 1e15, 1e15 - 1, -1e15 + 1, 1e15 + 1, 1e16, 1e17,
                    999999999999999.0, 99999999999999.9, 123456789012345.0, 1234567890123456.0, 2147483647.0,
                    2147483648.0, -2147483648.0, -2147483649.0, 4294967296.0, (double)INT64_MAX, (double)INT64_MIN,
                    1e-5, 1e-4, 1.5e-5, 0.0001, 0.001, 123.456, 3.14159265358979, 2.718281828459045, 1e21, 1e22,
                    1e23, 0.7, 0.9, 1.1, 100.0, 1e100, 6.02214076e23, 1.602176634e-19, NAN, -NAN, INFINITY,
                    -INFINITY};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_number(fixed[i]);
  /* integers of every size, and their neighbours */
  for (int e = 0; e < 64; e++) {
    double p = ldexp(1, e);
    double around[] = {p, p - 1, p + 1, -p, -p + 1, -p - 1, p / 10, p * 10, p + 0.5, p - 0.25};
    for (size_t i = 0; i < sizeof around / sizeof *around; i++) check_number(around[i]);
  }
  for (int i = 0; i < 20000; i++) check_number((double)(int64_t)(next() % 2000000001) - 1000000000);
  /* random doubles: every bit pattern (NaNs and infinities included), then decimal-looking ones */
  for (int i = 0; i < 100000; i++) {
    uint64_t r = next();
    double d;
    memcpy(&d, &r, sizeof d);
    check_number(d);
  }
  for (int i = 0; i < 100000; i++) {
    double m = (double)(next() % 100000000) / pow(10, (double)(next() % 12));
    check_number(next() % 2 ? m : -m);
  }
  /* numbers written in text, as a parser reads them */
  check_text("[0.1,1E2,-0,-0.0,1e-7,123456789.123456789,1.5e308,4.9e-324,0.30000000000000004,12345678901234567890]");
}

/* Trees cJSON's parser never builds but its printer takes (and kl_json_write must answer alike). */
static void test_hand_built(void **st) {
  (void)st;
  cJSON *raw = cJSON_CreateRaw("{\"raw\" :  [1, 2]}");
  check_tree(raw);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "r", raw);
  check_tree(o);
  free(raw->valuestring); /* a raw node without text: the whole print fails */
  raw->valuestring = NULL;
  check_tree(o);
  check_tree(raw);
  cJSON_Delete(o);

  cJSON *s = cJSON_CreateString("x");
  free(s->valuestring);
  s->valuestring = NULL; /* prints "" */
  check_tree(s);
  cJSON_Delete(s);

  cJSON *named = cJSON_CreateObject();
  cJSON_AddNumberToObject(named, "a", 1);
  cJSON_AddNumberToObject(named, "b", 2);
  free(named->child->string);
  named->child->string = NULL; /* a member without a name prints "" as its name */
  check_tree(named);
  cJSON_Delete(named);

  cJSON *arr = cJSON_CreateArray();
  cJSON_AddItemToArray(arr, cJSON_CreateNumber(1));
  arr->child->string = (char *)"ignored"; /* array elements print without names */
  check_tree(arr);
  arr->child->string = NULL;
  cJSON_Delete(arr);

  cJSON *inv = cJSON_CreateNull();
  for (int type = 0; type < 1024; type++) { /* every kind, flags, and invalid combinations */
    inv->type = type; /* no valuestring: a string prints "", a raw node fails */
    check_tree(inv);
  }
  inv->type = cJSON_NULL;
  cJSON *wrap = cJSON_CreateArray();
  cJSON_AddItemToArray(wrap, cJSON_CreateTrue());
  cJSON_AddItemToArray(wrap, inv);
  inv->type = cJSON_Invalid; /* an invalid node deep down fails the whole print */
  check_tree(wrap);
  inv->type = cJSON_NULL;
  cJSON_Delete(wrap);

  /* references (flag 256) and constant names (512) print like the plain nodes */
  cJSON *target = cJSON_CreateString("shared");
  cJSON *refs = cJSON_CreateObject();
  cJSON_AddItemReferenceToObject(refs, "one", target);
  cJSON_AddItemToObjectCS(refs, "const", cJSON_CreateNumber(2.5));
  check_tree(refs);
  cJSON_Delete(refs);
  cJSON_Delete(target);

  /* a number whose valueint disagrees with valuedouble: cJSON 1.7.15 prints valuedouble */
  cJSON *n = cJSON_CreateNumber(5);
  n->valuedouble = 5.5;
  check_tree(n);
  n->valuedouble = -0.0;
  check_tree(n);
  n->valueint = 7;
  n->valuedouble = 0.0;
  check_tree(n);
  cJSON_Delete(n);

  check_tree(NULL);
}

/* The arena tree (json_arena.c) prints the same, and kl_json_pick writes values as cJSON would. */
static void test_arena_tree_and_pick(void **st) {
  (void)st;
  const char *body = "{\"model\":\"m\",\"temperature\":0.7,\"n\":2,\"stop\":[\"a\",\"b\"],\"seed\":null,"
                     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},\"stream\":false,"
                     "\"temperature\":1.5}";
  kl_arena *a = kl_arena_new(256);
  cJSON *t = kl_json_parse_arena(a, body, strlen(body));
  assert_non_null(t);
  cJSON *c = cJSON_Parse(body);
  char *want = cJSON_PrintUnformatted(c);
  assert_string_equal(kl_json_print_arena(a, t), want);
  cJSON_free(want);

  static const char *const keys[] = {"temperature", "top_p", "n", "stream", "stop", "seed", "tool_choice", "missing"};
  kl_buf b = KL_BUF_INIT;
  assert_int_equal(kl_json_pick(&b, t, keys, sizeof keys / sizeof *keys), 5);
  /* the first "temperature" wins, null is skipped, values print as cJSON prints them */
  assert_string_equal(b.data, "\"temperature\":0.7,\"n\":2,\"stream\":false,\"stop\":[\"a\",\"b\"],"
                              "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}");
  kl_buf_reset(&b);
  assert_int_equal(kl_json_pick(&b, NULL, keys, 3), 0);
  assert_int_equal(b.len, 0);
  kl_buf_free(&b);

  /* kl_json_get and kl_json_fields answer as cJSON's lookup */
  static const char *const names[] = {"model", "temperature", "n", "absent", "", "stream"};
  const cJSON *found[6];
  kl_json_fields(t, names, 6, found);
  for (size_t i = 0; i < 6; i++) {
    assert_ptr_equal(found[i], cJSON_GetObjectItemCaseSensitive(t, names[i]));
    assert_ptr_equal(kl_json_get(t, names[i]), cJSON_GetObjectItemCaseSensitive(t, names[i]));
  }
  assert_null(kl_json_get(NULL, "model"));
  assert_null(kl_json_get(t, NULL));
  cJSON_Delete(c);
  kl_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_hand_built),
      cmocka_unit_test(test_arena_tree_and_pick),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
