/* usage.c: token usage normalised into non-overlapping buckets.
 *
 * Providers disagree on whether "input" includes cache reads (OpenAI: yes, Anthropic: no) and
 * whether "output" includes reasoning (OpenAI: yes).  Double counting either is the classic
 * cost bug, so keel converts exactly once, here at the boundary, into buckets that never
 * overlap; every consumer (prices, traces, OTel export) adds buckets instead of subtracting.
 * Integers are read with kl_json_int because cJSON's valueint saturates at INT_MAX. */
#include "llm/kl_llm.h"

#include <inttypes.h>

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

kl_usage kl_usage_from_openai(const cJSON *usage) {
  kl_usage u = {0};
  if (!cJSON_IsObject(usage)) return u;
  u.present = true;
  int64_t prompt = nonneg(kl_json_int(usage, "prompt_tokens", 0));
  int64_t completion = nonneg(kl_json_int(usage, "completion_tokens", 0));
  const cJSON *pd = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
  const cJSON *cd = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens_details");
  int64_t cached = cJSON_IsObject(pd) ? nonneg(kl_json_int(pd, "cached_tokens", 0)) : 0;
  int64_t reasoning = cJSON_IsObject(cd) ? nonneg(kl_json_int(cd, "reasoning_tokens", 0)) : 0;
  /* An upstream reporting more cached than prompt tokens is wrong about one of them; trust
   * the detail (it is what the discount applies to) and never go negative. */
  u.input = nonneg(prompt - cached);
  u.input_cached = cached;
  u.output = nonneg(completion - reasoning);
  u.output_reasoning = reasoning;
  return u;
}

int64_t kl_usage_input_total(const kl_usage *u) {
  return u ? u->input + u->input_cached + u->input_cache_write : 0;
}

int64_t kl_usage_output_total(const kl_usage *u) {
  return u ? u->output + u->output_reasoning : 0;
}

void kl_usage_to_json(const kl_usage *u, kl_buf *out) {
  kl_usage z = {0};
  if (!u) u = &z;
  kl_buf_printf(out,
                "{\"input\":%" PRId64 ",\"input_cached\":%" PRId64 ",\"input_cache_write\":%" PRId64
                ",\"output\":%" PRId64 ",\"output_reasoning\":%" PRId64 ",\"total\":%" PRId64 "}",
                u->input, u->input_cached, u->input_cache_write, u->output, u->output_reasoning,
                kl_usage_input_total(u) + kl_usage_output_total(u));
}
