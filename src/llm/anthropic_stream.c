/* anthropic_stream.c: streamed responses.  Three incremental state machines, each fed one
 * SSE event at a time by the caller's SSE parser:
 *
 *   kl_anth_a2o     Anthropic events -> OpenAI chunks (an OpenAI client on an Anthropic deployment)
 *   kl_anth_o2a     OpenAI chunks -> Anthropic events (an Anthropic client on an OpenAI deployment)
 *   kl_anth_stream  Anthropic events -> the final message + usage (tracing)
 *
 * Output goes through a callback instead of a returned list because the gateway writes each
 * event to the client as soon as it exists; translation must never buffer a response.  The
 * only thing held back is o2a's message_delta: Anthropic sends usage with the stop reason,
 * OpenAI sends usage in a chunk after the finish chunk, so o2a waits for [DONE] (or finish()).
 *
 * Anthropic identifies blocks by an `index` chosen by the server; state keeps a small table
 * from that index to what the block is, bounded (MAX_BLOCKS) so a hostile upstream cannot make
 * us allocate without limit.  Events after the end, and unknown ones, are ignored rather than
 * treated as errors: new event types appear regularly and pings can arrive at any time. */
#include "llm/anthropic_int.h"

#include <string.h>

#define MAX_BLOCKS 256

static cJSON *parse_obj(const char *data, size_t len) {
  cJSON *j = data ? kl_json_parse(data, len, NULL) : NULL;
  if (j && !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    j = NULL;
  }
  return j;
}

/* The event type: data.type, else the SSE event name. */
static const char *ev_type(const cJSON *j, const char *event) {
  const char *t = anth_str(j, "type");
  return t ? t : event ? event : "";
}

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  char *p = strdup(s);
  if (!p) abort();
  return p;
}

static void set_str(char **slot, const char *s) {
  if (!s || !*s) return;
  free(*slot);
  *slot = xstrdup(s);
}

/* Updates only the counts present: message_delta usage is cumulative and, depending on the
 * API version, carries output_tokens alone or all four. */
static void merge_usage(kl_usage *u, const cJSON *usage) {
  if (!cJSON_IsObject(usage)) return;
  u->present = true;
  u->convention = "anthropic";
  kl_usage_read_cost(u, usage);
  static const char *const keys[] = {"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                                     "output_tokens"};
  int64_t *slots[] = {&u->input, &u->input_cached, &u->input_cache_write, &u->output};
  for (size_t i = 0; i < 4; i++) {
    if (!cJSON_IsNumber(anth_get(usage, keys[i]))) continue;
    int64_t v = kl_json_int(usage, keys[i], 0);
    *slots[i] = v < 0 ? 0 : v;
  }
}

static void emit_json(kl_anth_emit_fn emit, void *ud, const char *event, cJSON *j) {
  char *p = anth_print(j);
  emit(ud, event, p, strlen(p));
  cJSON_free(p);
  cJSON_Delete(j);
}

void kl_anth_emit_sse(void *ud, const char *event, const char *data, size_t len) {
  kl_buf *b = ud;
  if (event && *event) kl_buf_printf(b, "event: %s\n", event);
  kl_buf_puts(b, "data: ");
  kl_buf_append(b, data, len);
  kl_buf_puts(b, "\n\n");
}

/* ====================== Anthropic -> OpenAI ====================== */

typedef struct a2o_block {
  int64_t index;
  char kind;  /* 't' text, 'u' tool_use, 'r' thinking, 'o' other (ignored) */
  int tool;   /* OpenAI tool_calls index */
} a2o_block;

struct kl_anth_a2o {
  kl_anth_emit_fn emit;
  void *ud;
  bool include_usage, started, ended;
  int64_t created;
  char *id, *model;
  kl_usage usage;
  a2o_block blocks[MAX_BLOCKS];
  size_t nblocks;
  int ntools;
};

kl_anth_a2o *kl_anth_a2o_new(bool include_usage, int64_t created, kl_anth_emit_fn emit, void *ud) {
  kl_anth_a2o *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->include_usage = include_usage;
  s->created = created;
  s->emit = emit;
  s->ud = ud;
  return s;
}

void kl_anth_a2o_free(kl_anth_a2o *s) {
  if (!s) return;
  free(s->id);
  free(s->model);
  free(s);
}

kl_usage kl_anth_a2o_usage(const kl_anth_a2o *s) { return s->usage; }

static cJSON *chunk_head(kl_anth_a2o *s) {
  cJSON *c = anth_nn(cJSON_CreateObject());
  anth_add_str(c, "id", s->id ? s->id : "");
  anth_add_str(c, "object", "chat.completion.chunk");
  anth_add_num(c, "created", (double)s->created);
  anth_add_str(c, "model", s->model ? s->model : "");
  return c;
}

/* Emits a chunk with choice 0 carrying `delta` (owned) and finish_reason (may be NULL). */
static void a2o_chunk(kl_anth_a2o *s, cJSON *delta, const char *finish) {
  cJSON *c = chunk_head(s);
  cJSON *ch = anth_push(anth_add(c, "choices", cJSON_CreateArray()), cJSON_CreateObject());
  anth_add_num(ch, "index", 0);
  anth_add(ch, "delta", delta);
  anth_add(ch, "logprobs", cJSON_CreateNull());
  anth_add(ch, "finish_reason", finish ? cJSON_CreateString(finish) : cJSON_CreateNull());
  emit_json(s->emit, s->ud, NULL, c);
}

static void a2o_start(kl_anth_a2o *s) {
  if (s->started) return;
  s->started = true;
  cJSON *d = anth_nn(cJSON_CreateObject());
  anth_add_str(d, "role", "assistant");
  anth_add_str(d, "content", "");
  a2o_chunk(s, d, NULL);
}

static void a2o_text(kl_anth_a2o *s, const char *key, const char *text) {
  if (!text || !*text) return;
  cJSON *d = anth_nn(cJSON_CreateObject());
  anth_add_str(d, key, text);
  a2o_chunk(s, d, NULL);
}

/* A tool_calls delta: id/name on the first fragment of a call, arguments on every one. */
static void a2o_tool(kl_anth_a2o *s, int tool, const char *id, const char *name, const char *args) {
  cJSON *d = anth_nn(cJSON_CreateObject());
  cJSON *tc = anth_push(anth_add(d, "tool_calls", cJSON_CreateArray()), cJSON_CreateObject());
  anth_add_num(tc, "index", tool);
  if (id || name) {
    anth_add_str(tc, "id", id);
    anth_add_str(tc, "type", "function");
  }
  cJSON *fn = anth_add(tc, "function", cJSON_CreateObject());
  if (id || name) anth_add_str(fn, "name", name);
  anth_add_str(fn, "arguments", args);
  a2o_chunk(s, d, NULL);
}

static a2o_block *a2o_find(kl_anth_a2o *s, int64_t index) {
  for (size_t i = 0; i < s->nblocks; i++)
    if (s->blocks[i].index == index) return &s->blocks[i];
  return NULL;
}

static void a2o_block_start(kl_anth_a2o *s, const cJSON *j) {
  const cJSON *cb = anth_get(j, "content_block");
  int64_t index = kl_json_int(j, "index", (int64_t)s->nblocks);
  if (a2o_find(s, index) || s->nblocks >= MAX_BLOCKS) return;
  a2o_block *b = &s->blocks[s->nblocks++];
  b->index = index;
  const char *t = anth_str(cb, "type");
  b->kind = !t ? 'o' : strcmp(t, "text") == 0 ? 't' : strcmp(t, "tool_use") == 0 ? 'u' : strcmp(t, "thinking") == 0 ? 'r' : 'o';
  if (b->kind == 't') a2o_text(s, "content", anth_str(cb, "text"));
  if (b->kind == 'r') a2o_text(s, "reasoning_content", anth_str(cb, "thinking"));
  if (b->kind == 'u') {
    b->tool = s->ntools++;
    /* the real API sends input {} here and the JSON in deltas; a non-empty input is sent whole */
    const cJSON *input = anth_get(cb, "input");
    char *args = cJSON_IsObject(input) && input->child ? anth_print(input) : NULL;
    a2o_tool(s, b->tool, anth_str(cb, "id") ? anth_str(cb, "id") : "", anth_str(cb, "name") ? anth_str(cb, "name") : "",
             args ? args : "");
    cJSON_free(args);
  }
}

static void a2o_block_delta(kl_anth_a2o *s, const cJSON *j) {
  const cJSON *d = anth_get(j, "delta");
  a2o_block *b = a2o_find(s, kl_json_int(j, "index", 0));
  const char *dt = anth_str(d, "type");
  if (anth_str(d, "text") && (!dt || strcmp(dt, "text_delta") == 0) && (!b || b->kind == 't')) {
    a2o_text(s, "content", anth_str(d, "text"));
  } else if (dt && strcmp(dt, "thinking_delta") == 0 && (!b || b->kind == 'r')) {
    a2o_text(s, "reasoning_content", anth_str(d, "thinking"));
  } else if (b && b->kind == 'u' && dt && strcmp(dt, "input_json_delta") == 0) {
    const char *pj = anth_str(d, "partial_json");
    if (pj && *pj) a2o_tool(s, b->tool, NULL, NULL, pj);
  }
}

kl_anth_ev kl_anth_a2o_feed(kl_anth_a2o *s, const char *event, const char *data, size_t len) {
  cJSON *j = parse_obj(data, len);
  if (!j) return KL_ANTH_EV_INVALID;
  const char *t = ev_type(j, event);
  kl_anth_ev rc = KL_ANTH_EV_OK;
  if (s->ended) {
    rc = KL_ANTH_EV_IGNORED;
  } else if (strcmp(t, "message_start") == 0) {
    const cJSON *m = anth_get(j, "message");
    set_str(&s->id, anth_str(m, "id"));
    set_str(&s->model, anth_str(m, "model"));
    merge_usage(&s->usage, anth_get(m, "usage"));
    a2o_start(s);
  } else if (strcmp(t, "content_block_start") == 0) {
    a2o_start(s);
    a2o_block_start(s, j);
  } else if (strcmp(t, "content_block_delta") == 0) {
    a2o_start(s);
    a2o_block_delta(s, j);
  } else if (strcmp(t, "content_block_stop") == 0) {
    /* nothing: OpenAI has no block boundaries */
  } else if (strcmp(t, "message_delta") == 0) {
    a2o_start(s);
    merge_usage(&s->usage, anth_get(j, "usage"));
    const char *fr = kl_anth_finish_reason(anth_str(anth_get(j, "delta"), "stop_reason"));
    if (fr) a2o_chunk(s, anth_nn(cJSON_CreateObject()), fr);
  } else if (strcmp(t, "message_stop") == 0) {
    a2o_start(s);
    if (s->include_usage) {
      cJSON *c = chunk_head(s);
      anth_add(c, "choices", cJSON_CreateArray());
      anth_add(c, "usage", kl_anth_openai_usage_new(&s->usage));
      emit_json(s->emit, s->ud, NULL, c);
    }
    s->emit(s->ud, NULL, "[DONE]", 6);
    s->ended = true;
    rc = KL_ANTH_EV_END;
  } else if (strcmp(t, "error") == 0) {
    kl_buf b = KL_BUF_INIT;
    kl_anth_error_to_openai(&b, 500, data, len);
    s->emit(s->ud, NULL, b.data, b.len);
    kl_buf_free(&b);
    s->ended = true;
    rc = KL_ANTH_EV_ERROR;
  } else {
    rc = KL_ANTH_EV_IGNORED; /* ping, and event types newer than this code */
  }
  cJSON_Delete(j);
  return rc;
}

/* ====================== OpenAI -> Anthropic ====================== */

typedef struct o2a_tool {
  int64_t oai_index;
  int64_t block;
} o2a_tool;

struct kl_anth_o2a {
  kl_anth_emit_fn emit;
  void *ud;
  int64_t input_tokens;
  char *id, *model;
  const char *stop_reason;
  bool started, finished, ended;
  char open_kind;      /* 0 none, 't' text, 'u' tool */
  int64_t open_block;  /* Anthropic index of the open block */
  int64_t next_block;
  kl_usage usage;
  o2a_tool tools[MAX_BLOCKS];
  size_t ntools;
};

kl_anth_o2a *kl_anth_o2a_new(int64_t input_tokens, kl_anth_emit_fn emit, void *ud) {
  kl_anth_o2a *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->input_tokens = input_tokens < 0 ? 0 : input_tokens;
  s->emit = emit;
  s->ud = ud;
  return s;
}

void kl_anth_o2a_free(kl_anth_o2a *s) {
  if (!s) return;
  free(s->id);
  free(s->model);
  free(s);
}

kl_usage kl_anth_o2a_usage(const kl_anth_o2a *s) { return s->usage; }

static cJSON *ev_obj(const char *type) {
  cJSON *e = anth_nn(cJSON_CreateObject());
  anth_add_str(e, "type", type);
  return e;
}

static void o2a_start(kl_anth_o2a *s) {
  if (s->started) return;
  s->started = true;
  cJSON *e = ev_obj("message_start");
  cJSON *m = anth_add(e, "message", cJSON_CreateObject());
  anth_add_str(m, "id", s->id ? s->id : "");
  anth_add_str(m, "type", "message");
  anth_add_str(m, "role", "assistant");
  anth_add_str(m, "model", s->model ? s->model : "");
  anth_add(m, "content", cJSON_CreateArray());
  anth_add(m, "stop_reason", cJSON_CreateNull());
  anth_add(m, "stop_sequence", cJSON_CreateNull());
  cJSON *u = anth_add(m, "usage", cJSON_CreateObject());
  anth_add_num(u, "input_tokens", (double)s->input_tokens);
  anth_add_num(u, "output_tokens", 0);
  emit_json(s->emit, s->ud, "message_start", e);
}

static void o2a_close(kl_anth_o2a *s) {
  if (!s->open_kind) return;
  cJSON *e = ev_obj("content_block_stop");
  anth_add_num(e, "index", (double)s->open_block);
  emit_json(s->emit, s->ud, "content_block_stop", e);
  s->open_kind = 0;
}

/* Opens a block (closing the open one); `cb` is the content_block object (owned). */
static int64_t o2a_open(kl_anth_o2a *s, char kind, cJSON *cb) {
  o2a_close(s);
  s->open_kind = kind;
  s->open_block = s->next_block++;
  cJSON *e = ev_obj("content_block_start");
  anth_add_num(e, "index", (double)s->open_block);
  anth_add(e, "content_block", cb);
  emit_json(s->emit, s->ud, "content_block_start", e);
  return s->open_block;
}

static void o2a_delta(kl_anth_o2a *s, int64_t block, const char *dtype, const char *key, const char *val) {
  cJSON *e = ev_obj("content_block_delta");
  anth_add_num(e, "index", (double)block);
  cJSON *d = anth_add(e, "delta", cJSON_CreateObject());
  anth_add_str(d, "type", dtype);
  anth_add_str(d, key, val);
  emit_json(s->emit, s->ud, "content_block_delta", e);
}

static void o2a_tool_calls(kl_anth_o2a *s, const cJSON *tcs) {
  int pos = 0;
  const cJSON *tc;
  cJSON_ArrayForEach(tc, tcs) {
    if (!cJSON_IsObject(tc)) continue;
    int64_t oi = kl_json_int(tc, "index", pos++);
    const cJSON *fn = anth_get(tc, "function");
    o2a_tool *t = NULL;
    for (size_t i = 0; i < s->ntools; i++)
      if (s->tools[i].oai_index == oi) t = &s->tools[i];
    if (!t) {
      if (s->ntools >= MAX_BLOCKS) continue;
      cJSON *cb = ev_obj("tool_use");
      anth_add_str(cb, "id", anth_str(tc, "id"));
      anth_add_str(cb, "name", anth_str(fn, "name"));
      anth_add(cb, "input", cJSON_CreateObject());
      t = &s->tools[s->ntools++];
      t->oai_index = oi;
      t->block = o2a_open(s, 'u', cb);
    }
    const char *args = anth_str(fn, "arguments");
    if (args && *args) o2a_delta(s, t->block, "input_json_delta", "partial_json", args);
  }
}

static void o2a_final(kl_anth_o2a *s) {
  o2a_start(s);
  o2a_close(s);
  cJSON *e = ev_obj("message_delta");
  cJSON *d = anth_add(e, "delta", cJSON_CreateObject());
  anth_add_str(d, "stop_reason", s->stop_reason ? s->stop_reason : "end_turn");
  anth_add(d, "stop_sequence", cJSON_CreateNull());
  kl_usage u = s->usage;
  if (!u.present) u.input = s->input_tokens;
  anth_add(e, "usage", kl_anth_usage_new(&u));
  emit_json(s->emit, s->ud, "message_delta", e);
  emit_json(s->emit, s->ud, "message_stop", ev_obj("message_stop"));
  s->ended = true;
}

kl_anth_ev kl_anth_o2a_feed(kl_anth_o2a *s, const char *data, size_t len) {
  while (len && (*data == ' ' || *data == '\t')) data++, len--;
  while (len && (data[len - 1] == ' ' || data[len - 1] == '\r' || data[len - 1] == '\n')) len--;
  if (s->ended) return KL_ANTH_EV_IGNORED;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    o2a_final(s);
    return KL_ANTH_EV_END;
  }
  cJSON *j = parse_obj(data, len);
  if (!j) return KL_ANTH_EV_INVALID;
  const cJSON *err = anth_get(j, "error");
  const char *object = anth_str(j, "object");
  if (err || (object && strcmp(object, "error") == 0)) {
    kl_buf b = KL_BUF_INIT;
    kl_anth_error_from_openai(&b, 500, data, len);
    s->emit(s->ud, "error", b.data, b.len);
    kl_buf_free(&b);
    s->ended = true;
    cJSON_Delete(j);
    return KL_ANTH_EV_ERROR;
  }
  set_str(&s->id, anth_str(j, "id"));
  set_str(&s->model, anth_str(j, "model"));
  o2a_start(s);
  if (cJSON_IsObject(anth_get(j, "usage"))) s->usage = kl_usage_from_openai(anth_get(j, "usage"));
  const cJSON *c;
  cJSON_ArrayForEach(c, anth_get(j, "choices")) {
    if (!cJSON_IsObject(c) || kl_json_int(c, "index", 0) != 0) continue;
    const cJSON *d = anth_get(c, "delta");
    const char *text = anth_str(d, "content");
    if (text && *text) {
      if (s->open_kind != 't') {
        cJSON *cb = ev_obj("text");
        anth_add_str(cb, "text", "");
        o2a_open(s, 't', cb);
      }
      o2a_delta(s, s->open_block, "text_delta", "text", text);
    }
    const cJSON *tcs = anth_get(d, "tool_calls");
    if (cJSON_IsArray(tcs)) o2a_tool_calls(s, tcs);
    const char *fr = anth_str(c, "finish_reason");
    if (fr && *fr) {
      o2a_close(s);
      s->stop_reason = kl_anth_stop_reason(fr);
      s->finished = true;
    }
  }
  cJSON_Delete(j);
  return KL_ANTH_EV_OK;
}

bool kl_anth_o2a_finish(kl_anth_o2a *s) {
  if (s->ended) return true;
  if (!s->finished) return false;
  o2a_final(s);
  return true;
}

/* ====================== the Anthropic stream assembler ====================== */

typedef struct ablock {
  int64_t index;
  char kind;      /* 't' text, 'u' tool_use, 'r' thinking, 'o' other (kept as started) */
  cJSON *block;   /* content_block from content_block_start */
  kl_buf text;    /* text / thinking / partial JSON */
} ablock;

struct kl_anth_stream {
  cJSON *msg;  /* message_start's message (content replaced at result time) */
  ablock blocks[MAX_BLOCKS];
  size_t nblocks;
  char *stop_reason, *stop_sequence;
  kl_usage usage;
  bool stop;
};

kl_anth_stream *kl_anth_stream_new(void) {
  kl_anth_stream *s = calloc(1, sizeof *s);
  if (!s) abort();
  return s;
}

void kl_anth_stream_free(kl_anth_stream *s) {
  if (!s) return;
  cJSON_Delete(s->msg);
  for (size_t i = 0; i < s->nblocks; i++) {
    cJSON_Delete(s->blocks[i].block);
    kl_buf_free(&s->blocks[i].text);
  }
  free(s->stop_reason);
  free(s->stop_sequence);
  free(s);
}

bool kl_anth_stream_saw_stop(const kl_anth_stream *s) { return s->stop; }

static ablock *as_block(kl_anth_stream *s, int64_t index, const cJSON *cb) {
  for (size_t i = 0; i < s->nblocks; i++)
    if (s->blocks[i].index == index) return &s->blocks[i];
  if (s->nblocks >= MAX_BLOCKS) return NULL;
  ablock *b = &s->blocks[s->nblocks++];
  memset(b, 0, sizeof *b);
  b->index = index;
  if (cJSON_IsObject(cb)) {
    b->block = anth_dup(cb);
  } else { /* a delta without a start: tolerate, as text */
    b->block = ev_obj("text");
    anth_add_str(b->block, "text", "");
  }
  const char *t = anth_str(b->block, "type");
  b->kind = !t ? 'o' : strcmp(t, "text") == 0 ? 't' : strcmp(t, "tool_use") == 0 ? 'u' : strcmp(t, "thinking") == 0 ? 'r' : 'o';
  return b;
}

static void as_delta(kl_anth_stream *s, const cJSON *j) {
  const cJSON *d = anth_get(j, "delta");
  ablock *b = as_block(s, kl_json_int(j, "index", 0), NULL);
  if (!b || !cJSON_IsObject(d)) return;
  const char *dt = anth_str(d, "type");
  const char *v = NULL;
  if (b->kind == 't') v = anth_str(d, "text");
  else if (b->kind == 'r' && dt && strcmp(dt, "thinking_delta") == 0) v = anth_str(d, "thinking");
  else if (b->kind == 'u') v = anth_str(d, "partial_json");
  if (v) kl_buf_puts(&b->text, v);
  const char *sig = anth_str(d, "signature");
  if (b->kind == 'r' && sig && dt && strcmp(dt, "signature_delta") == 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(b->block, "signature");
    anth_add_str(b->block, "signature", sig);
  }
}

kl_anth_ev kl_anth_stream_feed(kl_anth_stream *s, const char *event, const char *data, size_t len) {
  cJSON *j = parse_obj(data, len);
  if (!j) return KL_ANTH_EV_INVALID;
  const char *t = ev_type(j, event);
  kl_anth_ev rc = KL_ANTH_EV_OK;
  if (strcmp(t, "message_start") == 0) {
    const cJSON *m = anth_get(j, "message");
    if (cJSON_IsObject(m)) {
      cJSON_Delete(s->msg);
      s->msg = anth_dup(m);
      merge_usage(&s->usage, anth_get(m, "usage"));
    }
  } else if (strcmp(t, "content_block_start") == 0) {
    const cJSON *cb = anth_get(j, "content_block");
    if (cJSON_IsObject(cb)) as_block(s, kl_json_int(j, "index", (int64_t)s->nblocks), cb);
  } else if (strcmp(t, "content_block_delta") == 0) {
    as_delta(s, j);
  } else if (strcmp(t, "content_block_stop") == 0) {
  } else if (strcmp(t, "message_delta") == 0) {
    const cJSON *d = anth_get(j, "delta");
    set_str(&s->stop_reason, anth_str(d, "stop_reason"));
    set_str(&s->stop_sequence, anth_str(d, "stop_sequence"));
    merge_usage(&s->usage, anth_get(j, "usage"));
  } else if (strcmp(t, "message_stop") == 0) {
    s->stop = true;
    rc = KL_ANTH_EV_END;
  } else if (strcmp(t, "error") == 0) {
    rc = KL_ANTH_EV_ERROR;
  } else {
    rc = KL_ANTH_EV_IGNORED;
  }
  cJSON_Delete(j);
  return rc;
}

static int ablock_cmp(const void *a, const void *b) {
  const ablock *x = a, *y = b;
  return (x->index > y->index) - (x->index < y->index);
}

/* The content array (new tree) from the blocks, in index order. */
static cJSON *as_content(const kl_anth_stream *s) {
  ablock tmp[MAX_BLOCKS]; /* shallow copies, sorted; the state itself stays in arrival order */
  if (s->nblocks) memcpy(tmp, s->blocks, s->nblocks * sizeof *tmp);
  qsort(tmp, s->nblocks, sizeof *tmp, ablock_cmp);
  cJSON *arr = anth_nn(cJSON_CreateArray());
  for (size_t i = 0; i < s->nblocks; i++) {
    const ablock *b = &tmp[i];
    cJSON *o = anth_push(arr, anth_dup(b->block));
    const char *key = b->kind == 't' ? "text" : b->kind == 'r' ? "thinking" : NULL;
    if (key) {
      kl_buf v = KL_BUF_INIT;
      const char *start = anth_str(o, key);
      if (start) kl_buf_puts(&v, start);
      if (b->text.len) kl_buf_append(&v, b->text.data, b->text.len);
      cJSON_DeleteItemFromObjectCaseSensitive(o, key);
      anth_add_str(o, key, v.data ? v.data : "");
      kl_buf_free(&v);
    } else if (b->kind == 'u' && b->text.len) {
      cJSON *input = kl_json_parse(b->text.data, b->text.len, NULL);
      cJSON_DeleteItemFromObjectCaseSensitive(o, "input");
      /* invalid JSON (a truncated stream) is kept as the raw text: the trace should show it */
      anth_add(o, "input", input ? input : cJSON_CreateString(b->text.data));
    }
  }
  return arr;
}

cJSON *kl_anth_stream_message(const kl_anth_stream *s) {
  cJSON *m = s->msg ? anth_dup(s->msg) : ev_obj("message");
  static const char *const keys[] = {"content", "stop_reason", "stop_sequence", "usage"};
  for (size_t i = 0; i < 4; i++) cJSON_DeleteItemFromObjectCaseSensitive(m, keys[i]);
  if (!anth_get(m, "role")) anth_add_str(m, "role", "assistant");
  anth_add(m, "content", as_content(s));
  anth_add(m, "stop_reason", s->stop_reason ? cJSON_CreateString(s->stop_reason) : cJSON_CreateNull());
  anth_add(m, "stop_sequence", s->stop_sequence ? cJSON_CreateString(s->stop_sequence) : cJSON_CreateNull());
  anth_add(m, "usage", kl_anth_usage_new(&s->usage));
  return m;
}

void kl_anth_stream_result(const kl_anth_stream *s, kl_arena *a, kl_chat_result *out) {
  memset(out, 0, sizeof *out);
  out->usage = s->usage;
  out->id = kl_arena_strdup(a, anth_str(s->msg, "id"));
  out->model = kl_arena_strdup(a, anth_str(s->msg, "model"));
  out->finish_reason = kl_arena_strdup(a, s->stop_reason);
  cJSON *m = anth_nn(cJSON_CreateObject());
  anth_add_str(m, "role", "assistant");
  anth_add(m, "content", as_content(s));
  out->output_json = kl_json_print_arena(a, m);
  cJSON_Delete(m);
}
