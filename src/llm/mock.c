/* mock.c: the deterministic mock LLM (the `mock` provider and `keel mock-upstream`).
 *
 * Tests of the gateway need an upstream that behaves like OpenAI, byte for byte reproducibly,
 * and that can misbehave on demand.  So the mock plans its whole answer up front from the
 * request alone: everything derives from a 64-bit FNV-1a hash of the request with `stream`
 * and `stream_options` removed (so a streamed and a non-streamed call give the same answer;
 * their concatenated deltas equal the non-streamed content), including `id` and `created`.
 * No clock, no randomness.  The caller (net/cli) only executes the plan: latency, chunk
 * delays, resets and hangs are I/O, which this layer does not do.
 *
 * The answer: "Mock answer to: <first words of the last user message>." plus 3..12 words
 * picked by the hash; after a tool result, a sentence quoting the result; with tools (and
 * tool_choice not "none") a call to the first or the named tool with arguments built from
 * its JSON schema; with response_format json_object/json_schema a JSON object string.
 * Usage: prompt = ceil(chars of all message texts / 4) + 3 per message; completion =
 * ceil(chars of the answer (tool name + arguments for calls) / 4) + x-mock-reasoning-tokens.
 *
 * The other endpoints (mock_anthropic.c, mock_embed.c, mock_responses.c) follow the same
 * recipe; the helpers they share with this file are defined here and declared in mock_int.h. */
#include "llm/mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_FINGERPRINT "fp_keel_mock"
#define SCHEMA_DEPTH 8

static const char *const filler[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                                     "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"};

typedef struct mock_ctx {
  kl_arena *a;
  kl_header_fn hdr;
  void *ud;
  kl_chat_req req;
  uint64_t h;
  char id[40];
  int64_t created;
  /* the answer */
  kl_buf content;        /* text content (empty for a tool call) */
  bool tool_call;
  const char *tool_name;
  kl_buf tool_args;
  char tool_id[24];
  const char *finish;
  int64_t prompt, completion, cached, reasoning;
  /* streamed chunks, heap array of arena strings */
  const char **chunks;
  size_t nchunks, cap;
} mock_ctx;

#define child_of mock_child
#define utf8_back mock_utf8_back
#define schema_value mock_schema_value
#define mix mock_mix

int64_t mock_header_int(kl_header_fn hdr, void *ud, const char *name, int64_t def, int64_t max) {
  const char *v = hdr ? hdr(ud, name) : NULL;
  if (!v || !*v) return def;
  char *end;
  long long n = strtoll(v, &end, 10);
  while (*end == ' ') end++;
  if (*end || n < 0) return def;
  return n > max ? max : n;
}

static int64_t header_int(const mock_ctx *c, const char *name, int64_t def, int64_t max) {
  return mock_header_int(c->hdr, c->ud, name, def, max);
}

uint64_t mock_fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

uint64_t mock_seed(const cJSON *root) {
  cJSON *canon = cJSON_Duplicate(root, 1);
  if (!canon) abort();
  cJSON_DeleteItemFromObjectCaseSensitive(canon, "stream");
  cJSON_DeleteItemFromObjectCaseSensitive(canon, "stream_options");
  char *p = cJSON_PrintUnformatted(canon);
  uint64_t h = p ? mock_fnv1a(p, strlen(p)) : 0;
  cJSON_free(p);
  cJSON_Delete(canon);
  return h;
}

uint64_t mock_mix(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Appends the text of a message's content (a string or an array of parts). */
static void content_text(const cJSON *msg, kl_buf *out) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
  if (cJSON_IsString(c)) {
    kl_buf_puts(out, c->valuestring);
    return;
  }
  const cJSON *part;
  for (part = child_of(c); part; part = part->next) {
    const char *t = kl_json_str(part, "text");
    if (!t) continue;
    if (out->len) kl_buf_putc(out, ' ');
    kl_buf_puts(out, t);
  }
}

size_t mock_utf8_back(const char *s, size_t n) {
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

/* Up to 8 whitespace-separated words of s, single-spaced, at most ~100 bytes. */
static void first_words(const char *s, kl_buf *out) {
  int words = 0;
  while (*s && words < 8 && out->len < 100) {
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
    if (!*s) break;
    size_t n = strcspn(s, " \n\t\r");
    if (out->len + n > 100) n = utf8_back(s, 100 - out->len);
    if (!n) break;
    if (words++) kl_buf_putc(out, ' ');
    kl_buf_append(out, s, n);
    s += n;
    while (*s && !(*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++;
  }
}

/* A JSON value satisfying (loosely) a JSON schema: strings "mock", numbers 1, booleans true,
 * enums their first value, arrays [], objects every property. */
void mock_schema_value(kl_buf *out, const cJSON *schema, int depth) {
  if (!cJSON_IsObject(schema) || depth > SCHEMA_DEPTH) {
    kl_buf_puts(out, "\"mock\"");
    return;
  }
  const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
  const cJSON *cn = cJSON_GetObjectItemCaseSensitive(schema, "const");
  const cJSON *pick = cJSON_IsArray(en) && cJSON_GetArraySize(en) > 0 ? en->child : cn;
  if (pick) {
    char *p = cJSON_PrintUnformatted(pick);
    if (p) kl_buf_puts(out, p), cJSON_free(p);
    else kl_buf_puts(out, "null");
    return;
  }
  static const char *const alts[] = {"anyOf", "oneOf", "allOf"};
  for (size_t i = 0; i < 3; i++) {
    const cJSON *alt = cJSON_GetObjectItemCaseSensitive(schema, alts[i]);
    if (cJSON_IsArray(alt) && alt->child) return schema_value(out, alt->child, depth + 1);
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
  const char *t = cJSON_IsString(type) ? type->valuestring : NULL;
  const cJSON *ti;
  for (ti = child_of(type); ti; ti = ti->next) {
    if (cJSON_IsString(ti) && strcmp(ti->valuestring, "null") != 0) { t = ti->valuestring; break; }
  }
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  if (!t) t = cJSON_IsObject(props) ? "object" : "string";
  if (strcmp(t, "object") == 0) {
    kl_buf_putc(out, '{');
    bool first = true;
    const cJSON *p;
    for (p = child_of(props); p; p = p->next) {
      if (!first) kl_buf_putc(out, ',');
      first = false;
      kl_buf_json_str(out, p->string, strlen(p->string));
      kl_buf_putc(out, ':');
      schema_value(out, p, depth + 1);
    }
    /* required names without a property schema still get a value */
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    for (p = child_of(req); p; p = p->next) {
      if (!cJSON_IsString(p) || (cJSON_IsObject(props) && cJSON_HasObjectItem(props, p->valuestring))) continue;
      if (!first) kl_buf_putc(out, ',');
      first = false;
      kl_buf_json_str(out, p->valuestring, strlen(p->valuestring));
      kl_buf_puts(out, ":\"mock\"");
    }
    kl_buf_putc(out, '}');
  } else if (strcmp(t, "array") == 0) {
    kl_buf_puts(out, "[]");
  } else if (strcmp(t, "number") == 0 || strcmp(t, "integer") == 0) {
    kl_buf_putc(out, '1');
  } else if (strcmp(t, "boolean") == 0) {
    kl_buf_puts(out, "true");
  } else if (strcmp(t, "null") == 0) {
    kl_buf_puts(out, "null");
  } else {
    kl_buf_puts(out, "\"mock\"");
  }
}

void mock_schema_object(kl_buf *out, const cJSON *schema) {
  size_t start = out->len;
  mock_schema_value(out, schema, 0);
  if (out->data[start] != '{') { /* arguments must be an object */
    out->len = start;
    out->data[start] = 0;
    kl_buf_puts(out, "{}");
  }
}

void mock_sentence(uint64_t *rng, const char *prompt, bool after_tool, kl_buf *out) {
  kl_buf words = KL_BUF_INIT;
  first_words(prompt ? prompt : "", &words);
  kl_buf_puts(out, after_tool ? "Mock answer using the tool result: " : "Mock answer to: ");
  kl_buf_puts(out, words.len ? words.data : "(empty prompt)");
  kl_buf_putc(out, '.');
  int extra = 3 + (int)(mix(rng) % 10);
  for (int i = 0; i < extra; i++) {
    kl_buf_putc(out, ' ');
    kl_buf_puts(out, filler[mix(rng) % (sizeof filler / sizeof filler[0])]);
  }
  kl_buf_putc(out, '.');
  kl_buf_free(&words);
}

bool mock_limit(kl_buf *text, double limit) {
  if (!(limit >= 1) || (double)((text->len + 3) / 4) <= limit) return false;
  size_t keep = limit * 4 < (double)text->len ? (size_t)(limit * 4) : text->len;
  keep = utf8_back(text->data, keep);
  text->len = keep;
  text->data[keep] = 0;
  return true;
}

/* The tool to call, or NULL for a text answer. */
static const cJSON *pick_tool(const cJSON *root, const cJSON *last) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (!cJSON_IsArray(tools)) return NULL;
  const char *lr = kl_json_str(last, "role");
  if (lr && (strcmp(lr, "tool") == 0 || strcmp(lr, "function") == 0)) return NULL;
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
  if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0) return NULL;
  const char *want = NULL;
  if (cJSON_IsObject(choice)) want = kl_json_str(cJSON_GetObjectItemCaseSensitive(choice, "function"), "name");
  const cJSON *t, *first = NULL;
  cJSON_ArrayForEach(t, tools) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
    const char *name = kl_json_str(fn, "name");
    if (!name) continue;
    if (!first) first = fn;
    if (want && strcmp(want, name) == 0) return fn;
  }
  return first;
}

static void build_answer(mock_ctx *c) {
  const cJSON *root = c->req.root, *msgs = c->req.messages, *m;
  size_t chars = 0, nmsgs = 0;
  const cJSON *last = NULL, *last_user = NULL;
  kl_buf t = KL_BUF_INIT;
  cJSON_ArrayForEach(m, msgs) {
    kl_buf_reset(&t);
    content_text(m, &t);
    chars += t.len;
    nmsgs++;
    last = m;
    const char *role = kl_json_str(m, "role");
    if (role && strcmp(role, "user") == 0) last_user = m;
  }
  c->prompt = (int64_t)((chars + 3) / 4 + 3 * nmsgs);
  uint64_t rng = c->h;
  snprintf(c->tool_id, sizeof c->tool_id, "call_%016llx", (unsigned long long)mix(&rng));

  const cJSON *tool = pick_tool(root, last);
  if (tool) {
    c->tool_call = true;
    c->tool_name = kl_json_str(tool, "name");
    mock_schema_object(&c->tool_args, cJSON_GetObjectItemCaseSensitive(tool, "parameters"));
    c->finish = "tool_calls";
    c->completion = (int64_t)((strlen(c->tool_name) + c->tool_args.len + 3) / 4);
    kl_buf_free(&t);
    return;
  }

  /* x-mock-content: a fixed answer, but not twice in one conversation */
  const char *fixed = c->hdr ? c->hdr(c->ud, "x-mock-content") : NULL;
  cJSON_ArrayForEach(m, msgs) {
    const char *role = kl_json_str(m, "role"), *mc = kl_json_str(m, "content");
    if (fixed && role && !strcmp(role, "assistant") && mc && !strcmp(mc, fixed)) fixed = NULL;
  }
  if (fixed) {
    /* "{system}" stands for the system prompt: a model leaking its instructions */
    const char *sys = NULL;
    cJSON_ArrayForEach(m, msgs) {
      const char *role = kl_json_str(m, "role");
      if (!sys && role && (!strcmp(role, "system") || !strcmp(role, "developer"))) sys = kl_json_str(m, "content");
    }
    const char *at = strstr(fixed, "{system}");
    if (at && sys) {
      kl_buf_append(&c->content, fixed, (size_t)(at - fixed));
      kl_buf_puts(&c->content, sys);
      kl_buf_puts(&c->content, at + 8);
    } else {
      kl_buf_puts(&c->content, fixed);
    }
    kl_buf_free(&t);
    c->finish = "stop";
    c->completion = (int64_t)((c->content.len + 3) / 4);
    return;
  }

  /* the sentence */
  kl_buf text = KL_BUF_INIT;
  const char *lr = kl_json_str(last, "role");
  bool after_tool = lr && (strcmp(lr, "tool") == 0 || strcmp(lr, "function") == 0);
  kl_buf_reset(&t);
  content_text(after_tool ? last : last_user ? last_user : last, &t);
  mock_sentence(&rng, t.data, after_tool, &text);

  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
  const char *rft = kl_json_str(rf, "type");
  if (rft && strcmp(rft, "json_schema") == 0) {
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    schema_value(&c->content, cJSON_GetObjectItemCaseSensitive(js, "schema"), 0);
    if (c->content.data[0] != '{') rft = "json_object", kl_buf_reset(&c->content);
  }
  if (rft && strcmp(rft, "json_object") == 0) {
    kl_buf_puts(&c->content, "{\"answer\":");
    kl_buf_json_str(&c->content, text.data, text.len);
    kl_buf_putc(&c->content, '}');
  } else if (!c->content.len) {
    kl_buf_append(&c->content, text.data, text.len);
  }
  kl_buf_free(&text);
  kl_buf_free(&t);

  c->finish = "stop";
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens");
  if (!cJSON_IsNumber(mt)) mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
  if (mock_limit(&c->content, cJSON_IsNumber(mt) ? mt->valuedouble : 0)) c->finish = "length";
  c->completion = (int64_t)((c->content.len + 3) / 4);
}

static void usage_json(const mock_ctx *c, kl_buf *b) {
  int64_t completion = c->completion + c->reasoning;
  kl_buf_printf(b,
                "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
                "\"prompt_tokens_details\":{\"cached_tokens\":%lld},"
                "\"completion_tokens_details\":{\"reasoning_tokens\":%lld}}",
                (long long)c->prompt, (long long)completion, (long long)(c->prompt + completion),
                (long long)c->cached, (long long)c->reasoning);
}

static void tool_calls_json(const mock_ctx *c, kl_buf *b, const char *args, size_t args_len, bool head) {
  kl_buf_puts(b, "[{\"index\":0,");
  if (head) {
    kl_buf_puts(b, "\"id\":");
    kl_buf_json_str(b, c->tool_id, strlen(c->tool_id));
    kl_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
    kl_buf_json_str(b, c->tool_name, strlen(c->tool_name));
    kl_buf_puts(b, ",\"arguments\":");
  } else {
    kl_buf_puts(b, "\"function\":{\"arguments\":");
  }
  kl_buf_json_str(b, args, args_len);
  kl_buf_puts(b, "}}]");
}

static void full_body(const mock_ctx *c, kl_buf *b) {
  kl_buf_printf(b, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":", c->id,
                (long long)c->created);
  kl_buf_json_str(b, c->req.model, strlen(c->req.model));
  kl_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (c->tool_call) {
    kl_buf_puts(b, "null,\"tool_calls\":");
    kl_buf_puts(b, "[{\"id\":");
    kl_buf_json_str(b, c->tool_id, strlen(c->tool_id));
    kl_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":");
    kl_buf_json_str(b, c->tool_name, strlen(c->tool_name));
    kl_buf_puts(b, ",\"arguments\":");
    kl_buf_json_str(b, c->tool_args.data, c->tool_args.len);
    kl_buf_puts(b, "}}]");
  } else {
    kl_buf_json_str(b, c->content.data ? c->content.data : "", c->content.len);
  }
  kl_buf_printf(b, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":", c->finish);
  usage_json(c, b);
  kl_buf_puts(b, ",\"system_fingerprint\":\"" MOCK_FINGERPRINT "\"}");
}

static void push_chunk(mock_ctx *c, const char *s, size_t n) {
  if (c->nchunks == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    const char **nc = realloc(c->chunks, c->cap * sizeof *nc);
    if (!nc) abort();
    c->chunks = nc;
  }
  c->chunks[c->nchunks++] = kl_arena_strndup(c->a, s, n);
}

/* One chat.completion.chunk event with the given delta JSON (finish NULL = null). */
static void chunk(mock_ctx *c, const char *delta, const char *finish) {
  kl_buf b = KL_BUF_INIT;
  kl_buf_printf(&b, "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":", c->id,
                (long long)c->created);
  kl_buf_json_str(&b, c->req.model, strlen(c->req.model));
  kl_buf_printf(&b, ",\"system_fingerprint\":\"" MOCK_FINGERPRINT "\",\"choices\":[{\"index\":0,\"delta\":%s,"
                    "\"logprobs\":null,\"finish_reason\":", delta);
  if (finish) kl_buf_printf(&b, "\"%s\"}]}\n\n", finish);
  else kl_buf_puts(&b, "null}]}\n\n");
  push_chunk(c, b.data, b.len);
  kl_buf_free(&b);
}

/* Splits s into pieces: n > 0 pieces of about equal size (at UTF-8 boundaries), or, with
 * n <= 0, one piece per word (each piece but the first starts with its leading space).
 * Returns the number of pieces; ends[i] is the end offset of piece i. */
size_t mock_split(const char *s, size_t len, long n, size_t *ends, size_t max) {
  size_t k = 0;
  if (len == 0) return 0;
  if (n > 0) {
    if ((size_t)n > len) n = (long)len;
    size_t prev = 0;
    for (long i = 1; i <= n && k < max; i++) {
      size_t e = i == n ? len : utf8_back(s, len * (size_t)i / (size_t)n);
      if (e > prev) ends[k++] = prev = e;
    }
    if (k && ends[k - 1] != len) ends[k - 1] = len;
    return k;
  }
  size_t i = 0;
  while (i < len && k < max) {
    while (i < len && s[i] == ' ') i++;
    while (i < len && s[i] != ' ') i++;
    ends[k++] = i;
  }
  if (ends[k - 1] != len) ends[k - 1] = len;
  return k;
}

static void build_stream(mock_ctx *c, kl_mock_plan *out, kl_mock_fault fault) {
  long nparts = (long)header_int(c, "x-mock-chunks", 0, 100000);
  kl_buf d = KL_BUF_INIT;
  chunk(c, c->tool_call ? "{\"role\":\"assistant\",\"content\":null}" : "{\"role\":\"assistant\",\"content\":\"\"}",
        NULL);
  const char *text = c->tool_call ? c->tool_args.data : c->content.data;
  size_t len = c->tool_call ? c->tool_args.len : c->content.len;
  size_t max = len + 1;
  size_t *ends = malloc(max * sizeof *ends);
  if (!ends) abort();
  size_t np = mock_split(text ? text : "", len, c->tool_call && nparts <= 0 ? 4 : nparts, ends, max);
  size_t first_content = c->nchunks;
  if (c->tool_call) {
    tool_calls_json(c, &d, "", 0, true);
    kl_buf b = KL_BUF_INIT;
    kl_buf_printf(&b, "{\"tool_calls\":%s}", d.data);
    chunk(c, b.data, NULL);
    kl_buf_free(&b);
  }
  for (size_t i = 0, start = 0; i < np; start = ends[i++]) {
    kl_buf_reset(&d);
    if (c->tool_call) {
      kl_buf_puts(&d, "{\"tool_calls\":");
      tool_calls_json(c, &d, text + start, ends[i] - start, false);
      kl_buf_putc(&d, '}');
    } else {
      kl_buf_puts(&d, "{\"content\":");
      kl_buf_json_str(&d, text + start, ends[i] - start);
      kl_buf_putc(&d, '}');
    }
    chunk(c, d.data, NULL);
  }
  free(ends);
  size_t ncontent = c->nchunks - first_content;
  kl_buf_free(&d);

  if (fault == KL_MOCK_TRUNCATE) {
    c->nchunks = first_content + (ncontent + 1) / 2; /* some content, no finish/usage/[DONE] */
  } else {
    chunk(c, "{}", c->finish);
    if (c->req.client_include_usage) {
      kl_buf b = KL_BUF_INIT;
      kl_buf_printf(&b, "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
                    c->id, (long long)c->created);
      kl_buf_json_str(&b, c->req.model, strlen(c->req.model));
      kl_buf_puts(&b, ",\"system_fingerprint\":\"" MOCK_FINGERPRINT "\",\"choices\":[],\"usage\":");
      usage_json(c, &b);
      kl_buf_puts(&b, "}\n\n");
      push_chunk(c, b.data, b.len);
      kl_buf_free(&b);
    }
    push_chunk(c, "data: [DONE]\n\n", 14);
  }
  if (fault == KL_MOCK_MALFORMED) {
    /* insert one event whose data is cut-off JSON in the middle of the content */
    char bad[96];
    int n = snprintf(bad, sizeof bad, "data: {\"id\":\"%s\",\"choices\":[{\"delta\":\n\n", c->id);
    push_chunk(c, bad, (size_t)n);
    size_t at = first_content + ncontent / 2;
    const char *ins = c->chunks[c->nchunks - 1];
    memmove(&c->chunks[at + 1], &c->chunks[at], (c->nchunks - 1 - at) * sizeof *c->chunks);
    c->chunks[at] = ins;
  }
  out->stream = true;
  out->content_type = "text/event-stream";
  out->chunks = kl_arena_alloc(c->a, (c->nchunks ? c->nchunks : 1) * sizeof(char *));
  memcpy(out->chunks, c->chunks, c->nchunks * sizeof(char *));
  out->nchunks = c->nchunks;
  if (fault == KL_MOCK_RESET) out->reset_after = c->nchunks / 2 ? c->nchunks / 2 : 1;
}

/* ================= shared with the other endpoints (mock_int.h) ================= */

kl_mock_fault mock_ctl_begin(kl_header_fn hdr, void *ud, const kl_mock_opts *opts, kl_mock_plan *out,
                             mock_fault_err *e) {
  memset(out, 0, sizeof *out);
  memset(e, 0, sizeof *e);
  out->status = 200;
  out->content_type = "application/json";
  out->latency_ms = (int)mock_header_int(hdr, ud, "x-mock-latency-ms", opts ? opts->latency_ms : 0, 600000);
  out->chunk_delay_ms =
      (int)mock_header_int(hdr, ud, "x-mock-chunk-delay-ms", opts ? opts->chunk_delay_ms : 0, 600000);

  /* transport-level faults do not look at the body */
  const char *f = hdr ? hdr(ud, "x-mock-fault") : NULL;
  if (!f || !*f) return KL_MOCK_OK;
  if (strcmp(f, "429") == 0) {
    e->status = 429;
    snprintf(e->msg, sizeof e->msg, "mock fault: rate limited");
    e->code = "rate_limit_exceeded";
    return KL_MOCK_STATUS;
  } else if (strncmp(f, "status=", 7) == 0) {
    char *end;
    long st = strtol(f + 7, &end, 10);
    if (*end || st < 100 || st > 599) st = 500;
    e->status = (int)st;
    snprintf(e->msg, sizeof e->msg, "mock fault: injected status %ld", st);
    return KL_MOCK_STATUS;
  } else if (strcmp(f, "hang") == 0) {
    out->fault = KL_MOCK_HANG;
    return KL_MOCK_HANG;
  } else if (strcmp(f, "reset") == 0) {
    return KL_MOCK_RESET;
  } else if (strcmp(f, "malformed") == 0) {
    return KL_MOCK_MALFORMED;
  } else if (strcmp(f, "truncate") == 0) {
    return KL_MOCK_TRUNCATE;
  }
  e->status = 400;
  snprintf(e->msg, sizeof e->msg,
           "x-mock-fault: unknown value '%.60s' (status=NNN, 429, hang, reset, malformed, truncate)", f);
  return KL_MOCK_STATUS;
}

void mock_error_plan(kl_arena *a, kl_header_fn hdr, void *ud, kl_mock_plan *out, int status, const char *body,
                     size_t len) {
  out->fault = KL_MOCK_STATUS;
  out->status = status;
  out->stream = false;
  out->content_type = "application/json";
  out->body = kl_arena_strndup(a, body, len);
  out->body_len = len;
  if (status == 429) out->retry_after_s = (int)mock_header_int(hdr, ud, "x-mock-retry-after", 1, 86400);
}

void mock_body_plan(kl_arena *a, kl_mock_plan *out, kl_mock_fault fault, const char *body, size_t len) {
  out->fault = fault;
  out->stream = false;
  if (fault == KL_MOCK_RESET) {
    out->body = NULL; /* reset before answering */
    out->body_len = 0;
    return;
  }
  /* malformed / truncate: the body stops in the middle of the JSON */
  size_t n = fault == KL_MOCK_OK ? len : len / 2;
  out->body = kl_arena_strndup(a, body, n);
  out->body_len = n;
}

void mock_chunks_push(mock_chunks *c, const char *s, size_t n) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    const char **nv = realloc(c->v, c->cap * sizeof *nv);
    if (!nv) abort();
    c->v = nv;
  }
  c->v[c->n++] = kl_arena_strndup(c->a, s, n);
}

void mock_chunks_event(mock_chunks *c, const char *event, const char *data, size_t len) {
  kl_buf b = KL_BUF_INIT;
  kl_buf_printf(&b, "event: %s\ndata: ", event);
  kl_buf_append(&b, data, len);
  kl_buf_puts(&b, "\n\n");
  mock_chunks_push(c, b.data, b.len);
  kl_buf_free(&b);
}

void mock_chunks_insert(mock_chunks *c, size_t at, const char *s) {
  if (at > c->n) at = c->n;
  mock_chunks_push(c, s, strlen(s));
  const char *ins = c->v[c->n - 1];
  memmove(&c->v[at + 1], &c->v[at], (c->n - 1 - at) * sizeof *c->v);
  c->v[at] = ins;
}

void mock_chunks_plan(mock_chunks *c, kl_mock_plan *out, kl_mock_fault fault) {
  out->fault = fault;
  out->stream = true;
  out->content_type = "text/event-stream";
  out->chunks = kl_arena_alloc(c->a, (c->n ? c->n : 1) * sizeof(char *));
  if (c->n) memcpy(out->chunks, c->v, c->n * sizeof(char *));
  out->nchunks = c->n;
  if (fault == KL_MOCK_RESET) out->reset_after = c->n / 2 ? c->n / 2 : 1;
  free(c->v);
  c->v = NULL;
  c->n = c->cap = 0;
}

/* ================= chat completions ================= */

static void error_plan(mock_ctx *c, kl_mock_plan *out, int status, const char *msg, const char *code) {
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, status, NULL, msg, NULL, code);
  mock_error_plan(c->a, c->hdr, c->ud, out, status, b.data, b.len);
  kl_buf_free(&b);
}

void kl_mock_chat(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                  const kl_mock_opts *opts, kl_mock_plan *out) {
  mock_ctx c = {.a = a, .hdr = hdr, .ud = hdr_ud};
  mock_fault_err fe;
  kl_mock_fault fault = mock_ctl_begin(hdr, hdr_ud, opts, out, &fe);
  if (fault == KL_MOCK_HANG) return;
  if (fault == KL_MOCK_STATUS) {
    error_plan(&c, out, fe.status, fe.msg, fe.code);
    return;
  }

  kl_err err;
  kl_err_clear(&err);
  if (kl_chat_req_parse(NULL, body, len, &c.req, &err) < 0) {
    error_plan(&c, out, 400, err.msg, NULL);
    return;
  }
  /* the answer's seed: the request without its transport options */
  c.h = mock_seed(c.req.root);
  snprintf(c.id, sizeof c.id, "chatcmpl-mock-%016llx", (unsigned long long)c.h);
  c.created = mock_created(c.h);
  c.req.model = kl_arena_strdup(a, c.req.model);

  build_answer(&c);
  c.reasoning = header_int(&c, "x-mock-reasoning-tokens", 0, 1000000000);
  c.cached = header_int(&c, "x-mock-cached-tokens", 0, 1000000000);
  if (c.cached > c.prompt) c.cached = c.prompt;

  out->fault = fault;
  if (c.req.stream) {
    build_stream(&c, out, fault);
  } else {
    kl_buf b = KL_BUF_INIT;
    if (fault != KL_MOCK_RESET) full_body(&c, &b);
    mock_body_plan(a, out, fault, b.data, b.len);
    kl_buf_free(&b);
  }
  free(c.chunks);
  kl_buf_free(&c.content);
  kl_buf_free(&c.tool_args);
  kl_chat_req_free(&c.req);
}

void kl_mock_models(kl_arena *a, kl_mock_plan *out) {
  static const char *const ids[] = {"mock", "mock-large", "mock-small", "gpt-4o-mini", "gpt-4o"};
  memset(out, 0, sizeof *out);
  kl_buf b = KL_BUF_INIT;
  kl_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    kl_buf_printf(&b, "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"keel-mock\"}",
                  i ? "," : "", ids[i]);
  kl_buf_puts(&b, "]}");
  out->status = 200;
  out->content_type = "application/json";
  out->body = kl_arena_strndup(a, b.data, b.len);
  out->body_len = b.len;
  kl_buf_free(&b);
}
