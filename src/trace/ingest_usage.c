/* ingest_usage.c: foreign token counts and costs -> keel's usage buckets, converted once.
 *
 * keel stores non-overlapping buckets (input, input_cached, input_cache_write, output,
 * output_reasoning) so each is priced exactly once.  Senders disagree about what "input"
 * means, which is where double-billing of cache reads comes from:
 *   - Langfuse usage_details / usageDetails: already non-overlapping (input excludes cached
 *     reads, output excludes reasoning): copied bucket by bucket.  Its OpenAI-shaped variant
 *     (prompt_tokens, ...details) is converted with the OpenAI convention (kl_usage_from_openai).
 *   - OTel GenAI gen_ai.usage.input_tokens and OpenInference llm.token_count.prompt INCLUDE
 *     cache reads and writes; output_tokens / completion INCLUDE reasoning: subtracted out.
 *     When a sender's input is smaller than its cache counts it cannot have included them
 *     (some Anthropic instrumentations copy Anthropic's exclusive input_tokens): kept as is.
 * usage_json is kl_usage_to_json's map with the convention named, plus any further numeric
 * buckets the client sent (e.g. "audio_input") so nothing reported is lost.
 *
 * Costs: a client-given cost wins over keel's price table (Langfuse semantics); cost_json is
 * the client's per-bucket map with "total" and "source":"client" added. */
#include "trace/ingest_int.h"

#include <math.h>
#include <string.h>

#include "llm/kl_llm.h"

/* Langfuse / Anthropic-style keys of each bucket. */
static const char *const k_in[] = {"input", "input_tokens", "promptTokens", "prompt"};
static const char *const k_cached[] = {"input_cached_tokens", "cache_read_input_tokens", "input_cache_read",
                                       "input_cached", "cached_tokens"};
static const char *const k_write[] = {"input_cache_creation", "cache_creation_input_tokens", "input_cache_write",
                                      "input_cache_creation_tokens"};
static const char *const k_out[] = {"output", "output_tokens", "completionTokens", "completion"};
static const char *const k_reason[] = {"output_reasoning_tokens", "output_reasoning", "reasoning_tokens"};
/* not buckets: totals (derived) and legacy fields handled elsewhere */
static const char *const k_skip[] = {"total", "totalTokens", "total_tokens", "unit", "inputCost", "outputCost",
                                     "totalCost"};

static bool in_list(const char *key, const char *const *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(key, l[i]) == 0) return true;
  return false;
}
#define IN(key, l) in_list(key, l, sizeof l / sizeof l[0])

static bool count_of(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!isfinite(d) || d < 0 || d > 9007199254740992.0) return false;
  *out = (int64_t)d;
  return true;
}

static void set_usage(kl_ingest_obs *r, kl_arena *a, const kl_usage *u, const kl_buf *extra) {
  kl_obs *o = &r->obs;
  o->usage_input = u->input;
  o->usage_input_cached = u->input_cached;
  o->usage_input_cache_write = u->input_cache_write;
  o->usage_output = u->output;
  o->usage_output_reasoning = u->output_reasoning;
  o->usage_estimated = false;
  kl_buf b = KL_BUF_INIT;
  kl_usage_to_json(u, &b);
  if (extra && extra->len) {
    b.data[--b.len] = 0; /* reopen the object */
    kl_buf_append(&b, extra->data, extra->len);
    kl_buf_putc(&b, '}');
  }
  o->usage_json = kl_arena_strndup(a, b.data, b.len);
  kl_buf_free(&b);
  r->set |= KL_INGEST_F_USAGE;
}

bool kl__usage_langfuse(const cJSON *map, kl_ingest_obs *r, kl_arena *a) {
  if (!cJSON_IsObject(map)) return false;
  kl_usage u = {0};
  if (cJSON_GetObjectItemCaseSensitive(map, "prompt_tokens") ||
      cJSON_GetObjectItemCaseSensitive(map, "completion_tokens")) {
    u = kl_usage_from_openai(map);
    if (!u.present) return false;
    u.cost_reported = false; /* a cost inside usage is read below, as the client's cost */
    u.convention = "openai";
    set_usage(r, a, &u, NULL);
    return true;
  }
  bool any = false, seen[5] = {0};
  kl_buf extra = KL_BUF_INIT;
  const cJSON *it;
  cJSON_ArrayForEach(it, map) {
    int64_t n;
    const char *k = it->string;
    if (!k || IN(k, k_skip) || !count_of(it, &n)) continue;
    int b = IN(k, k_in) ? 0 : IN(k, k_cached) ? 1 : IN(k, k_write) ? 2 : IN(k, k_out) ? 3 : IN(k, k_reason) ? 4 : -1;
    any = true;
    if (b < 0) {
      kl_buf_putc(&extra, ',');
      kl_buf_json_str(&extra, k, strlen(k));
      kl_buf_printf(&extra, ":%lld", (long long)n);
      continue;
    }
    if (seen[b]) continue; /* two spellings of one bucket: the first wins, never the sum */
    seen[b] = true;
    int64_t *dst[5] = {&u.input, &u.input_cached, &u.input_cache_write, &u.output, &u.output_reasoning};
    *dst[b] = n;
  }
  if (any) {
    u.present = true;
    u.convention = "langfuse";
    set_usage(r, a, &u, &extra);
  }
  kl_buf_free(&extra);
  /* legacy usage {inputCost, outputCost, totalCost} */
  if (!(r->set & KL_INGEST_F_COST)) {
    cJSON *c = cJSON_CreateObject();
    static const char *const legacy[][2] = {{"inputCost", "input"}, {"outputCost", "output"}, {"totalCost", "total"}};
    for (size_t i = 0; i < 3; i++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, legacy[i][0]);
      if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(c, legacy[i][1], v->valuedouble);
    }
    if (c->child) kl__cost_map(c, r, a);
    cJSON_Delete(c);
  }
  return any;
}

void kl__usage_inclusive(kl_ingest_obs *r, kl_arena *a, const char *convention, int64_t in, int64_t out,
                         int64_t cache_read, int64_t cache_write, int64_t reasoning) {
  if (in < 0 && out < 0 && cache_read < 0 && cache_write < 0 && reasoning < 0) return;
  kl_usage u = {.present = true, .convention = convention};
  u.input_cached = cache_read > 0 ? cache_read : 0;
  u.input_cache_write = cache_write > 0 ? cache_write : 0;
  u.output_reasoning = reasoning > 0 ? reasoning : 0;
  if (in > 0) {
    int64_t cache = u.input_cached + u.input_cache_write;
    u.input = in >= cache ? in - cache : in;
  }
  if (out > 0) u.output = out >= u.output_reasoning ? out - u.output_reasoning : out;
  set_usage(r, a, &u, NULL);
}

static bool cost_of(const cJSON *v, double *out) {
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) return false;
  *out = v->valuedouble;
  return true;
}

bool kl__cost_map(const cJSON *map, kl_ingest_obs *r, kl_arena *a) {
  if (!cJSON_IsObject(map)) return false;
  double total = -1, sum = 0, x;
  bool parts = false;
  cJSON *out = cJSON_CreateObject();
  const cJSON *it;
  cJSON_ArrayForEach(it, map) {
    if (!it->string || !cost_of(it, &x)) continue;
    if (strcmp(it->string, "total") == 0) {
      total = x;
      continue;
    }
    parts = true;
    sum += x;
    kl__json_set(out, it->string, cJSON_CreateNumber(x));
  }
  if (total < 0 && !parts) {
    cJSON_Delete(out);
    return false;
  }
  if (total < 0) total = sum;
  kl__json_set(out, "total", cJSON_CreateNumber(total));
  kl__json_set(out, "source", cJSON_CreateString("client"));
  r->obs.cost_usd = total;
  r->obs.cost_json = kl__json_print(a, out);
  r->set |= KL_INGEST_F_COST;
  cJSON_Delete(out);
  return true;
}

void kl__cost_total(kl_ingest_obs *r, kl_arena *a, double total) {
  if (!isfinite(total) || total < 0) return;
  r->obs.cost_usd = total;
  r->obs.cost_json = kl_arena_sprintf(a, "{\"total\":%.17g,\"source\":\"client\"}", total);
  r->set |= KL_INGEST_F_COST;
}
