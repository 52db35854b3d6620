/* fuzz_guard_json.c: the JSON Schema compiler and validator, and the json scanner's check.
 * Input: schema text, NUL, instance text (no NUL: the whole input is both).
 * Invariants: nothing crashes, leaks or runs away (limits); a failed validation names a
 * keyword, a message and a JSON pointer; validation is deterministic and does not depend on
 * whether errors are reported; a verdict's span lies inside the text on a code point
 * boundary; whatever the strict syntax checker accepts, cJSON parses too (except numbers
 * longer than cJSON's 63-character buffer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "guard/json_schema.h"

static bool long_number(const char *s, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    run = strchr("0123456789+-.eE", s[i]) && s[i] ? run + 1 : 0;
    if (run >= 60) return true;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_log_set_level(KL_LOG_ERROR);  /* guard_json_check warns about every bad schema */
  const char *d = (const char *)data;
  const uint8_t *nul = memchr(data, 0, size);
  size_t slen = nul ? (size_t)(nul - data) : size;
  const char *inst = nul ? d + slen + 1 : d;
  size_t ilen = nul ? size - slen - 1 : size;

  kl_err err = {0};
  guard_schema *s = guard_schema_parse(d, slen, &err);
  if (!s && (err.code != 400 || !err.msg[0])) abort();
  cJSON *j = kl_json_parse(inst, ilen, &err);
  if (s && j) {
    guard_schema_error e1, e2;
    bool ok1 = guard_schema_validate(s, j, &e1);
    bool ok2 = guard_schema_validate(s, j, &e2);
    bool ok3 = guard_schema_validate(s, j, NULL);
    if (ok1 != ok2 || ok1 != ok3) abort();
    if (!ok1) {
      if (!e1.keyword || !e1.message[0] || (e1.path[0] && e1.path[0] != '/')) abort();
      if (strcmp(e1.keyword, e2.keyword) || strcmp(e1.path, e2.path) || strcmp(e1.message, e2.message)) abort();
    }
  }
  cJSON_Delete(j);
  guard_schema_free(s);

  bool deep = false;
  if (guard_json_syntax(inst, ilen, &deep) == (size_t)-1 && !long_number(inst, ilen)) {
    const char *end = NULL;
    cJSON *k = cJSON_ParseWithLengthOpts(inst, ilen, &end, 0);
    if (!k) abort();
    cJSON_Delete(k);
  }
  guard_json_verdict v;
  bool ok = guard_json_check(inst, ilen, nul ? d : NULL, slen, &v);
  if (!ok) {
    if (!v.type || !v.rule || v.start > v.end || v.end != ilen) abort();
    if (ilen && v.start >= ilen) abort();
    if (kl_utf8_valid(inst, ilen) && ilen && ((unsigned char)inst[v.start] & 0xC0) == 0x80) abort();
  }
  kl_arena *a = kl_arena_new(1024);
  const char *m = guard_json_reask_message(inst, ilen, nul ? d : NULL, slen, a);
  if ((m == NULL) != ok) abort();
  kl_arena_free(a);
  return 0;
}
