/* usage.c: token usage normalised into non-overlapping buckets.
 *
 * Providers disagree on whether "input" includes cache reads (OpenAI: yes, Anthropic: no) and
 * whether "output" includes reasoning (OpenAI: yes).  Double counting either is the classic
 * cost bug, so keel converts exactly once, here at the boundary, into buckets that never
 * overlap; every consumer (prices, traces, OTel export) adds buckets instead of subtracting.
 * Integers are read with kl_json_int because cJSON's valueint saturates at INT_MAX.
 *
 * The convention a usage object came in is recorded with the buckets (and stored with the
 * observation), so a surprising count can be traced back to how the provider reported it.
 * A cost the upstream reports itself (OpenRouter, LiteLLM) is kept beside the buckets: it
 * knows discounts and surcharges no price table does, so the tracer prefers it. */
#include "llm/kl_llm.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

void kl_usage_read_cost(kl_usage *u, const cJSON *usage) {
  static const char *const keys[] = {"cost", "total_cost"};
  for (size_t i = 0; i < 2; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, keys[i]);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) {
      u->cost_reported = true;
      u->reported_cost = v->valuedouble;
      return;
    }
  }
}

kl_usage kl_usage_from_openai(const cJSON *usage) {
  kl_usage u = {.reported_cost = -1};
  if (!cJSON_IsObject(usage)) return u;
  u.present = true;
  u.convention = "openai";
  kl_usage_read_cost(&u, usage);
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

kl_usage kl_usage_from_responses(const cJSON *usage) {
  kl_usage u = {.reported_cost = -1};
  if (!cJSON_IsObject(usage)) return u;
  u.present = true;
  u.convention = "responses";
  kl_usage_read_cost(&u, usage);
  int64_t in = nonneg(kl_json_int(usage, "input_tokens", 0)), out = nonneg(kl_json_int(usage, "output_tokens", 0));
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(usage, "input_tokens_details");
  const cJSON *od = cJSON_GetObjectItemCaseSensitive(usage, "output_tokens_details");
  int64_t cached = cJSON_IsObject(id) ? nonneg(kl_json_int(id, "cached_tokens", 0)) : 0;
  int64_t reas = cJSON_IsObject(od) ? nonneg(kl_json_int(od, "reasoning_tokens", 0)) : 0;
  /* as for OpenAI: a detail larger than its total caps at the total */
  if (cached > in) cached = in;
  if (reas > out) reas = out;
  u.input = in - cached;
  u.input_cached = cached;
  u.output = out - reas;
  u.output_reasoning = reas;
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
  /* once per traced call: digits without printf (numfmt.c) */
  kl_buf_puts(out, "{\"input\":");
  kl_buf_i64(out, u->input);
  kl_buf_puts(out, ",\"input_cached\":");
  kl_buf_i64(out, u->input_cached);
  kl_buf_puts(out, ",\"input_cache_write\":");
  kl_buf_i64(out, u->input_cache_write);
  kl_buf_puts(out, ",\"output\":");
  kl_buf_i64(out, u->output);
  kl_buf_puts(out, ",\"output_reasoning\":");
  kl_buf_i64(out, u->output_reasoning);
  kl_buf_puts(out, ",\"total\":");
  kl_buf_i64(out, kl_usage_input_total(u) + kl_usage_output_total(u));
  if (u->convention) {
    kl_buf_puts(out, ",\"convention\":");
    kl_buf_json_str(out, u->convention, strlen(u->convention));
  }
  if (u->cost_reported) {
    kl_buf_puts(out, ",\"reported_cost\":");
    kl_buf_g15(out, u->reported_cost);
  }
  kl_buf_putc(out, '}');
}
