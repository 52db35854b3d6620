/* openai_stream.c: assembles a streamed chat completion from its chunks.
 *
 * The gateway relays each chunk to the client as it arrives and feeds a copy here, so at the
 * end keel has the same message a non-streamed call would have returned (for the trace) and
 * the usage (for cost).  Only choice 0 is assembled (n > 1 is rare and the trace records one
 * output).  Tool calls arrive as fragments keyed by `index`: the first fragment carries id,
 * type and function.name, later ones append to function.arguments.  State is heap-owned
 * because a stream outlives any single request arena callback; limits on the number of tool
 * calls keep a hostile upstream from making us allocate without bound. */
#include "llm/kl_llm.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOOL_CALLS 128

typedef struct tool_call {
  int64_t index;
  char *id, *type, *name;
  kl_buf args;
} tool_call;

struct kl_chat_stream {
  char *id, *model, *finish_reason, *role;
  kl_buf content;
  tool_call *tcs;
  size_t ntc;
  kl_usage usage;
  size_t deltas;
  bool done, finish;
  kl_chunk_choice c0; /* choice 0 of the last chunk (kl_chat_stream_choice0) */
  kl_arena *scratch;  /* the last chunk's tree when kl_json_parse_arena took it */
  cJSON *last;        /* the last chunk's tree (in scratch, or cJSON's), until the next feed */
  bool last_in_arena;
};

/* Lets the last chunk's tree go. */
static void drop_last(kl_chat_stream *s) {
  if (s->last_in_arena) kl_arena_reset(s->scratch);
  else cJSON_Delete(s->last);
  s->last = NULL;
  s->last_in_arena = false;
  s->c0 = (kl_chunk_choice){0};
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) abort();
  return p;
}

/* Replaces *slot with a copy of s when s is a non-empty string (every chunk repeats the id
 * and the model: the same one is not copied again). */
static void set_str(char **slot, const cJSON *v) {
  if (!cJSON_IsString(v) || !v->valuestring[0] || (*slot && !strcmp(*slot, v->valuestring))) return;
  free(*slot);
  *slot = xstrdup(v->valuestring);
}

kl_chat_stream *kl_chat_stream_new(void) {
  kl_chat_stream *s = calloc(1, sizeof *s);
  if (!s) abort();
  return s;
}

void kl_chat_stream_free(kl_chat_stream *s) {
  if (!s) return;
  free(s->id);
  free(s->model);
  free(s->finish_reason);
  free(s->role);
  kl_buf_free(&s->content);
  for (size_t i = 0; i < s->ntc; i++) {
    free(s->tcs[i].id);
    free(s->tcs[i].type);
    free(s->tcs[i].name);
    kl_buf_free(&s->tcs[i].args);
  }
  free(s->tcs);
  drop_last(s);
  kl_arena_free(s->scratch);
  free(s);
}

static tool_call *tool_slot(kl_chat_stream *s, int64_t index) {
  for (size_t i = 0; i < s->ntc; i++)
    if (s->tcs[i].index == index) return &s->tcs[i];
  if (s->ntc >= MAX_TOOL_CALLS) return NULL;
  tool_call *n = realloc(s->tcs, (s->ntc + 1) * sizeof *n);
  if (!n) abort();
  s->tcs = n;
  tool_call *t = &s->tcs[s->ntc++];
  memset(t, 0, sizeof *t);
  t->index = index;
  return t;
}

/* Merges one delta.tool_calls array; true when it carried anything. */
static bool merge_tool_calls(kl_chat_stream *s, const cJSON *arr) {
  bool any = false;
  int pos = 0;
  const cJSON *tc;
  cJSON_ArrayForEach(tc, arr) {
    if (!cJSON_IsObject(tc)) continue;
    /* servers that omit index send one call per array position */
    int64_t index = kl_json_int(tc, "index", pos++);
    tool_call *t = tool_slot(s, index);
    if (!t) continue;
    set_str(&t->id, cJSON_GetObjectItemCaseSensitive(tc, "id"));
    set_str(&t->type, cJSON_GetObjectItemCaseSensitive(tc, "type"));
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    if (cJSON_IsObject(fn)) {
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
      if (!t->name) set_str(&t->name, name);
      const char *args = kl_json_str(fn, "arguments");
      if (args) kl_buf_puts(&t->args, args);
    }
    any = true;
  }
  return any;
}

kl_chunk_kind kl_chat_stream_feed(kl_chat_stream *s, const char *data, size_t len) {
  drop_last(s);
  while (len && (*data == ' ' || *data == '\t')) data++, len--;
  while (len && (data[len - 1] == ' ' || data[len - 1] == '\r' || data[len - 1] == '\n')) len--;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    s->done = true;
    return KL_CHUNK_DONE;
  }
  /* A chunk is a few hundred bytes parsed for a few fields, ~170 of them in a 1 KiB answer:
   * in cJSON, one malloc and free per node was most of a plain stream's CPU (bench:
   * 24k instructions a chunk).  The arena parser builds the same tree; what it refuses
   * (\u escapes, ...) goes to cJSON, which decides.  The tree is kept until the next chunk
   * (kl_chat_stream_choice0): the stream rails read the same one. */
  if (!s->scratch) s->scratch = kl_arena_new(8192);
  cJSON *j = kl_json_parse_arena(s->scratch, data, len);
  bool in_arena = j != NULL;
  if (!j) j = kl_json_parse(data, len, NULL);
  if (!j) return KL_CHUNK_INVALID;
  kl_chunk_kind kind = KL_CHUNK_CONTENT;
  /* the members each object's one walk finds (kl_json_fields): a lookup per member, nine per
   * chunk, was a quarter of a chunk's cost outside the parse */
  static const char *const top_keys[] = {"choices", "usage", "error", "object", "id", "model"};
  static const char *const choice_keys[] = {"index", "delta", "finish_reason"};
  static const char *const delta_keys[] = {"role", "content", "tool_calls"};
  const cJSON *top[6];
  kl_json_fields(j, top_keys, 6, top);
  const cJSON *choices = top[0], *usage = top[1], *err = top[2], *object = top[3];
  if (!cJSON_IsObject(j)) {
    kind = KL_CHUNK_INVALID;
  } else if ((err && !cJSON_IsNull(err)) || (cJSON_IsString(object) && strcmp(object->valuestring, "error") == 0)) {
    /* {"error":{...}} (OpenAI, most proxies) or {"object":"error",...} (vLLM) */
    kind = KL_CHUNK_ERROR;
  } else if (!cJSON_IsArray(choices) && !cJSON_IsObject(usage)) {
    kind = KL_CHUNK_INVALID;
  } else {
    set_str(&s->id, top[4]);
    set_str(&s->model, top[5]);
    if (cJSON_IsObject(usage)) s->usage = kl_usage_from_openai(usage);
    if (cJSON_GetArraySize(choices) == 0 && cJSON_IsObject(usage)) kind = KL_CHUNK_USAGE_ONLY;
    const cJSON *c;
    cJSON_ArrayForEach(c, choices) {
      if (!cJSON_IsObject(c)) continue;
      const cJSON *cf[3], *df[3] = {NULL, NULL, NULL};
      kl_json_fields(c, choice_keys, 3, cf);
      if (kl_json_int_of(cf[0], 0) != 0) continue;
      const cJSON *delta = cf[1], *fr = cf[2];
      bool carried = false;
      if (cJSON_IsObject(delta)) {
        kl_json_fields(delta, delta_keys, 3, df);
        set_str(&s->role, df[0]);
        const char *text = cJSON_IsString(df[1]) ? df[1]->valuestring : NULL;
        if (text && *text) kl_buf_puts(&s->content, text), carried = true;
        if (cJSON_IsArray(df[2]) && merge_tool_calls(s, df[2])) carried = true;
      }
      if (!s->c0.choice) s->c0 = (kl_chunk_choice){.choice = c, .delta = delta, .content = df[1], .finish_reason = fr};
      if (carried) s->deltas++;
      if (cJSON_IsString(fr) && fr->valuestring[0]) {
        set_str(&s->finish_reason, fr);
        s->finish = true;
      }
    }
  }
  s->last = j;
  s->last_in_arena = in_arena;
  return kind;
}

const kl_chunk_choice *kl_chat_stream_choice0(const kl_chat_stream *s) { return &s->c0; }

size_t kl_chat_stream_deltas(const kl_chat_stream *s) { return s->deltas; }
bool kl_chat_stream_saw_done(const kl_chat_stream *s) { return s->done; }
bool kl_chat_stream_saw_finish(const kl_chat_stream *s) { return s->finish; }

static int tc_cmp(const void *a, const void *b) {
  const tool_call *x = a, *y = b;
  return (x->index > y->index) - (x->index < y->index);
}

void kl_chat_stream_result(kl_chat_stream *s, kl_arena *a, kl_chat_result *out) {
  memset(out, 0, sizeof *out);
  out->usage = s->usage;
  out->id = kl_arena_strdup(a, s->id);
  out->model = kl_arena_strdup(a, s->model);
  out->finish_reason = kl_arena_strdup(a, s->finish_reason);
  if (s->ntc > 1) qsort(s->tcs, s->ntc, sizeof *s->tcs, tc_cmp);
  kl_buf b = KL_BUF_INIT;
  const char *role = s->role ? s->role : "assistant";
  kl_buf_puts(&b, "{\"role\":");
  kl_buf_json_str(&b, role, strlen(role));
  kl_buf_puts(&b, ",\"content\":");
  if (s->content.len == 0 && s->ntc > 0) kl_buf_puts(&b, "null");
  else kl_buf_json_str(&b, s->content.data ? s->content.data : "", s->content.len);
  if (s->ntc > 0) {
    kl_buf_puts(&b, ",\"tool_calls\":[");
    for (size_t i = 0; i < s->ntc; i++) {
      const tool_call *t = &s->tcs[i];
      const char *type = t->type ? t->type : "function";
      if (i) kl_buf_putc(&b, ',');
      kl_buf_puts(&b, "{\"id\":");
      if (t->id) kl_buf_json_str(&b, t->id, strlen(t->id));
      else kl_buf_puts(&b, "null");
      kl_buf_puts(&b, ",\"type\":");
      kl_buf_json_str(&b, type, strlen(type));
      kl_buf_puts(&b, ",\"function\":{\"name\":");
      if (t->name) kl_buf_json_str(&b, t->name, strlen(t->name));
      else kl_buf_puts(&b, "null");
      kl_buf_puts(&b, ",\"arguments\":");
      kl_buf_json_str(&b, t->args.data ? t->args.data : "", t->args.len);
      kl_buf_puts(&b, "}}");
    }
    kl_buf_putc(&b, ']');
  }
  kl_buf_putc(&b, '}');
  out->output_json = kl_arena_strndup(a, b.data, b.len);
  kl_buf_free(&b);
}
