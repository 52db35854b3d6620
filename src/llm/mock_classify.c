/* mock_classify.c: the mock's text classifier (POST /classify), the stand-in for the
 * prompt-injection and toxicity model servers keel's `classifier` guardrail calls.
 *
 * Body {"text": "..."}; answer {"label": "INJECTION", "score": 0.97} when the text (lower-
 * cased) holds an instruction-override phrase, else {"label": "SAFE", "score": 0.99}.
 * Markers in the text drive the failure paths the gateway must handle: "classifier-slow"
 * answers after 5 s, "classifier-error" answers HTTP 500, "classifier-garbage" answers a body
 * that is not JSON. */
#include "llm/mock_int.h"

#include <ctype.h>
#include <string.h>

static bool contains_ci(const char *s, const char *needle) {
  size_t n = strlen(needle);
  for (; *s; s++) {
    size_t i = 0;
    while (i < n && s[i] && tolower((unsigned char)s[i]) == needle[i]) i++;
    if (i == n) return true;
  }
  return false;
}

void kl_mock_classify(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                      const kl_mock_opts *opts, kl_mock_plan *out) {
  (void)hdr; (void)hdr_ud; (void)opts;
  *out = (kl_mock_plan){.status = 200, .content_type = "application/json"};
  kl_err err = {0};
  cJSON *j = kl_json_parse(body, len, &err);
  const char *text = kl_json_str(j, "text");
  if (!text) {
    out->status = 400;
    out->body = "{\"error\":{\"message\":\"expected {\\\"text\\\": string}\",\"type\":\"invalid_request_error\"}}";
    out->body_len = strlen(out->body);
    cJSON_Delete(j);
    return;
  }
  static const char *const attacks[] = {"ignore all previous instructions", "ignore previous instructions",
                                         "ignore the above", "disregard your instructions", "you are now dan"};
  bool attack = false;
  for (size_t i = 0; i < sizeof attacks / sizeof *attacks && !attack; i++) attack = contains_ci(text, attacks[i]);
  if (contains_ci(text, "classifier-slow")) out->latency_ms = 5000;
  if (contains_ci(text, "classifier-error")) {
    out->status = 500;
    out->body = "{\"error\":{\"message\":\"model crashed\",\"type\":\"server_error\"}}";
  } else if (contains_ci(text, "classifier-garbage")) {
    out->body = "<html>bad gateway</html>";
  } else {
    out->body = attack ? "{\"label\":\"INJECTION\",\"score\":0.97}" : "{\"label\":\"SAFE\",\"score\":0.99}";
  }
  out->body_len = strlen(out->body);
  (void)a;
  cJSON_Delete(j);
}
