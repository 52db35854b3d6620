/* fuzz_anthropic.c: the Anthropic wire-format code on hostile bytes.  Every input goes through
 * request validation and both request translators, both response translators, the error
 * mappers, and (split into lines, each "event<TAB>data" or just data) the three stream state
 * machines.  Invariants checked, beyond "no crash, no leak": a translated request is valid on
 * the other side (OpenAI -> Anthropic output passes kl_anth_req_validate; Anthropic -> OpenAI
 * output passes kl_chat_req_parse), and every emitted stream event is JSON (or [DONE]). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/anthropic.h"

static void check_emit(void *ud, const char *event, const char *data, size_t len) {
  (void)event;
  size_t *n = ud;
  (*n)++;
  if (strlen(data) != len) abort();
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) return;
  cJSON *j = kl_json_parse(data, len, NULL);
  if (!cJSON_IsObject(j)) abort();
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  kl_arena *a = kl_arena_new(4096);
  kl_err err;

  kl_anth_req r;
  if (kl_anth_req_parse(s, size, &r, &err) == 0) {
    cJSON *o = kl_anth_req_to_openai(r.root, &err);
    if (o) {
      char *p = cJSON_PrintUnformatted(o);
      kl_chat_req cr;
      if (kl_chat_req_parse(NULL, p, strlen(p), &cr, &err) != 0) abort();
      cJSON_Delete(cr.root);
      free(p);
      cJSON *back = kl_anth_req_from_openai(o, &err);
      cJSON_Delete(back);
      cJSON_Delete(o);
    }
    cJSON_Delete(r.root);
  }
  cJSON *j = kl_json_parse(s, size, NULL);
  if (j) {
    cJSON *an = kl_anth_req_from_openai(j, &err);
    if (an) {
      if (kl_anth_req_validate(an, &err) != 0) {
        fprintf(stderr, "translated request invalid: %s\n", err.msg);
        abort();
      }
      cJSON_Delete(an);
    }
    cJSON_Delete(kl_anth_resp_to_openai(j, 1, &err));
    cJSON_Delete(kl_anth_resp_from_openai(j, &err));
    cJSON_Delete(j);
  }
  kl_chat_result res;
  kl_anth_resp_parse(a, s, size, &res, &err);
  kl_buf b = KL_BUF_INIT;
  kl_anth_error_to_openai(&b, 500, s, size);
  kl_anth_error_from_openai(&b, 429, s, size);
  kl_buf_free(&b);

  size_t emitted = 0;
  kl_anth_a2o *a2o = kl_anth_a2o_new(size && (data[0] & 1), 1, check_emit, &emitted);
  kl_anth_o2a *o2a = kl_anth_o2a_new(size ? data[0] : 0, check_emit, &emitted);
  kl_anth_stream *as = kl_anth_stream_new();
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && s[i] != '\n') continue;
    char *line = strndup(s + start, i - start);
    if (!line) abort();
    size_t n = strlen(line);
    char *tab = strchr(line, '\t');
    const char *ev = NULL, *d = line;
    if (tab) *tab = 0, ev = line, d = tab + 1, n -= (size_t)(d - line);
    kl_anth_a2o_feed(a2o, ev, d, n);
    kl_anth_o2a_feed(o2a, d, n);
    kl_anth_stream_feed(as, ev, d, n);
    free(line);
    start = i + 1;
  }
  kl_anth_o2a_finish(o2a);
  kl_anth_stream_result(as, a, &res);
  cJSON_Delete(kl_anth_stream_message(as));
  kl_anth_a2o_free(a2o);
  kl_anth_o2a_free(o2a);
  kl_anth_stream_free(as);
  kl_arena_free(a);
  return 0;
}
