/* mock_responses.c: the mock LLM's OpenAI Responses endpoint (POST /v1/responses).
 *
 * Same recipe as the chat mock (mock.c): the plan derives from a hash of the request without
 * `stream` / `stream_options`, so streamed and non-streamed calls carry the same answer and
 * the response object in the final response.completed event is byte-identical to the
 * non-streamed body.  Faults and usage headers are the chat mock's (errors in OpenAI's shape).
 *
 * Request (checked loosely, as a proxy would): model, input (a string or a non-empty array of
 * items: messages {role, content: string | parts}, function_call_output {call_id, output},
 * function_call, and other typed items passed over), instructions, tools (function tools are
 * flat: {type:"function", name, parameters}), tool_choice, stream, max_output_tokens.
 * The answer: the chat mock's sentence about the last user message (or about the last item's
 * output when it is a function_call_output), cut at max_output_tokens (status "incomplete",
 * incomplete_details.reason "max_output_tokens"); or, with function tools, tool_choice not
 * "none" and a last item that is not a function_call_output, a function_call item for the
 * named or first tool with arguments built from its parameters schema.
 * Usage: input_tokens = ceil(chars of instructions + item texts / 4) + 3 per item (cached ones
 * included, OpenAI's convention) with x-mock-cached-tokens as input_tokens_details.cached_tokens;
 * output_tokens = ceil(chars / 4) + x-mock-reasoning-tokens (output_tokens_details).
 *
 * The stream: response.created, response.in_progress, response.output_item.added, then for a
 * message response.content_part.added, response.output_text.delta (per word or x-mock-chunks
 * pieces), response.output_text.done, response.content_part.done (for a function call
 * response.function_call_arguments.delta / .done), response.output_item.done and
 * response.completed (response.incomplete when cut).  Every event is "event: T\ndata: {...}"
 * with "type": T and a "sequence_number" counting from 0. */
#include "llm/mock_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct resp_mock {
  kl_arena *a;
  kl_header_fn hdr;
  void *ud;
  cJSON *root;
  const char *model;
  bool stream;
  uint64_t h;
  char id[40], item_id[40], call_id[40];
  const cJSON *tool;  /* non-NULL: a function_call answer */
  kl_buf text;        /* the text, or the arguments */
  bool incomplete;
  int64_t prompt, output, cached, reasoning;
  int seq;
} resp_mock;

static bool str_is(const char *s, const char *v) { return s && strcmp(s, v) == 0; }

static const char *item_type(const cJSON *it) {
  const char *t = kl_json_str(it, "type");
  return t ? t : "message";
}

/* Validates the request; NULL or a message for a 400 (*param names the field; msg is room
 * for messages that name an item). */
static const char *check(const cJSON *root, const char **param, char msg[160]) {
  if (!cJSON_IsObject(root)) return "body: must be a JSON object";
  const char *model = kl_json_str(root, "model");
  if (!model || !*model) return *param = "model", "model: required (a non-empty string)";
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
  *param = "input";
  if (!in || cJSON_IsNull(in)) return "input: required";
  if (!cJSON_IsString(in)) {
    if (!cJSON_IsArray(in) || !in->child) return "input: must be a string or a non-empty array of items";
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, in) {
      const char *t = kl_json_str(it, "type");
      if (!cJSON_IsObject(it) || (cJSON_HasObjectItem(it, "type") && !t)) {
        snprintf(msg, 160, "input[%d]: must be an object with a string type", i);
        return msg;
      }
      t = item_type(it);
      if (str_is(t, "message")) {
        const char *role = kl_json_str(it, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!str_is(role, "user") && !str_is(role, "assistant") && !str_is(role, "system") && !str_is(role, "developer")) {
          snprintf(msg, 160, "input[%d].role: must be user, assistant, system or developer", i);
          return msg;
        }
        if (!cJSON_IsString(c) && !cJSON_IsArray(c)) {
          snprintf(msg, 160, "input[%d].content: must be a string or an array of parts", i);
          return msg;
        }
      } else if (str_is(t, "function_call_output")) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "output");
        if (!kl_json_str(it, "call_id") || (!cJSON_IsString(o) && !cJSON_IsArray(o))) {
          snprintf(msg, 160, "input[%d]: function_call_output needs call_id and output", i);
          return msg;
        }
      }
      i++;
    }
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "instructions");
  if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) return *param = "instructions", "instructions: must be a string";
  v = cJSON_GetObjectItemCaseSensitive(root, "stream");
  if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) return *param = "stream", "stream: must be a boolean";
  v = cJSON_GetObjectItemCaseSensitive(root, "max_output_tokens");
  if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble == floor(v->valuedouble)))
    return *param = "max_output_tokens", "max_output_tokens: must be a positive integer";
  v = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (v && !cJSON_IsNull(v)) {
    *param = "tools";
    if (!cJSON_IsArray(v)) return "tools: must be an array";
    const cJSON *t;
    cJSON_ArrayForEach(t, v) {
      const char *tt = kl_json_str(t, "type");
      if (!tt) return "tools: every tool needs a string type";
      if (str_is(tt, "function") && !kl_json_str(t, "name")) return "tools: a function tool needs a name";
    }
  }
  *param = NULL;
  return NULL;
}

/* Appends the text of a message's content or of a function_call_output's output. */
static void item_text(const cJSON *c, kl_buf *out) {
  if (cJSON_IsString(c)) {
    if (out->len) kl_buf_putc(out, ' ');
    kl_buf_puts(out, c->valuestring);
    return;
  }
  const cJSON *p;
  for (p = mock_child(c); p; p = p->next) {
    const char *t = kl_json_str(p, "text");
    if (!t) continue;
    if (out->len) kl_buf_putc(out, ' ');
    kl_buf_puts(out, t);
  }
}

static const cJSON *pick_tool(const cJSON *root, bool after_tool) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (!cJSON_IsArray(tools) || after_tool) return NULL;
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
  if (cJSON_IsString(choice) && str_is(choice->valuestring, "none")) return NULL;
  const char *want = str_is(kl_json_str(choice, "type"), "function") ? kl_json_str(choice, "name") : NULL;
  const cJSON *t, *first = NULL;
  cJSON_ArrayForEach(t, tools) {
    const char *name = kl_json_str(t, "name");
    if (!str_is(kl_json_str(t, "type"), "function") || !name) continue;
    if (!first) first = t;
    if (want && strcmp(want, name) == 0) return t;
  }
  return first;
}

static void build_answer(resp_mock *m) {
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(m->root, "input");
  kl_buf t = KL_BUF_INIT;
  size_t chars = 0, nitems = 0;
  const char *ins = kl_json_str(m->root, "instructions");
  if (ins) chars += strlen(ins);
  const cJSON *last = NULL, *last_user = NULL, *it;
  if (cJSON_IsString(in)) {
    chars += strlen(in->valuestring);
    nitems = 1;
  }
  for (it = cJSON_IsArray(in) ? in->child : NULL; it; it = it->next) {
    const char *type = item_type(it);
    kl_buf_reset(&t);
    if (str_is(type, "message")) item_text(cJSON_GetObjectItemCaseSensitive(it, "content"), &t);
    else if (str_is(type, "function_call_output")) item_text(cJSON_GetObjectItemCaseSensitive(it, "output"), &t);
    else if (str_is(type, "function_call")) kl_buf_puts(&t, kl_json_str(it, "arguments") ? kl_json_str(it, "arguments") : "");
    chars += t.len;
    nitems++;
    last = it;
    if (str_is(type, "message") && str_is(kl_json_str(it, "role"), "user")) last_user = it;
  }
  m->prompt = (int64_t)((chars + 3) / 4 + 3 * nitems);
  uint64_t rng = m->h;
  uint64_t r = mock_mix(&rng);
  snprintf(m->call_id, sizeof m->call_id, "call_%016llx", (unsigned long long)r);

  bool after_tool = last && str_is(item_type(last), "function_call_output");
  m->tool = pick_tool(m->root, after_tool);
  if (m->tool) {
    snprintf(m->item_id, sizeof m->item_id, "fc_mock_%016llx", (unsigned long long)m->h);
    mock_schema_object(&m->text, cJSON_GetObjectItemCaseSensitive(m->tool, "parameters"));
    m->output = mock_tokens(strlen(kl_json_str(m->tool, "name")) + m->text.len);
  } else {
    snprintf(m->item_id, sizeof m->item_id, "msg_mock_%016llx", (unsigned long long)m->h);
    kl_buf_reset(&t);
    if (cJSON_IsString(in)) kl_buf_puts(&t, in->valuestring);
    else if (after_tool) item_text(cJSON_GetObjectItemCaseSensitive(last, "output"), &t);
    else if (last_user) item_text(cJSON_GetObjectItemCaseSensitive(last_user, "content"), &t);
    mock_sentence(&rng, t.data, after_tool, &m->text);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(m->root, "max_output_tokens");
    m->incomplete = mock_limit(&m->text, cJSON_IsNumber(mt) ? mt->valuedouble : 0);
    m->output = mock_tokens(m->text.len);
  }
  kl_buf_free(&t);
}

static void json_member(kl_buf *b, const cJSON *root, const char *key, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  kl_buf_printf(b, ",\"%s\":", key);
  char *p = v ? cJSON_PrintUnformatted(v) : NULL;
  kl_buf_puts(b, p ? p : def);
  cJSON_free(p);
}

static void part_json(const resp_mock *m, kl_buf *b, bool done) {
  kl_buf_puts(b, "{\"type\":\"output_text\",\"text\":");
  kl_buf_json_str(b, done ? m->text.data : "", done ? m->text.len : 0);
  kl_buf_puts(b, ",\"annotations\":[]}");
}

/* The output item; done = with its content and final status. */
static void item_json(const resp_mock *m, kl_buf *b, bool done) {
  const char *status = !done ? "in_progress" : m->incomplete ? "incomplete" : "completed";
  if (m->tool) {
    const char *name = kl_json_str(m->tool, "name");
    kl_buf_printf(b, "{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"%s\",\"arguments\":", m->item_id, status);
    kl_buf_json_str(b, done ? m->text.data : "", done ? m->text.len : 0);
    kl_buf_printf(b, ",\"call_id\":\"%s\",\"name\":", m->call_id);
    kl_buf_json_str(b, name, strlen(name));
    kl_buf_putc(b, '}');
    return;
  }
  kl_buf_printf(b, "{\"id\":\"%s\",\"type\":\"message\",\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
                m->item_id, status);
  if (done) part_json(m, b, true);
  kl_buf_puts(b, "]}");
}

/* The response object; done = final (output and usage), else as in response.created. */
static void response_json(const resp_mock *m, kl_buf *b, bool done) {
  const char *status = !done ? "in_progress" : m->incomplete ? "incomplete" : "completed";
  kl_buf_printf(b, "{\"id\":\"%s\",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\",\"error\":null,",
                m->id, (long long)mock_created(m->h), status);
  kl_buf_puts(b, done && m->incomplete ? "\"incomplete_details\":{\"reason\":\"max_output_tokens\"}"
                                       : "\"incomplete_details\":null");
  json_member(b, m->root, "instructions", "null");
  json_member(b, m->root, "max_output_tokens", "null");
  kl_buf_puts(b, ",\"model\":");
  kl_buf_json_str(b, m->model, strlen(m->model));
  kl_buf_puts(b, ",\"output\":[");
  if (done) item_json(m, b, true);
  kl_buf_puts(b, "],\"parallel_tool_calls\":true");
  json_member(b, m->root, "previous_response_id", "null");
  json_member(b, m->root, "tool_choice", "\"auto\"");
  json_member(b, m->root, "tools", "[]");
  kl_buf_puts(b, ",\"usage\":");
  if (done) {
    int64_t out = m->output + m->reasoning;
    kl_buf_printf(b,
                  "{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":%lld},\"output_tokens\":%lld,"
                  "\"output_tokens_details\":{\"reasoning_tokens\":%lld},\"total_tokens\":%lld}",
                  (long long)m->prompt, (long long)m->cached, (long long)out, (long long)m->reasoning,
                  (long long)(m->prompt + out));
  } else {
    kl_buf_puts(b, "null");
  }
  json_member(b, m->root, "metadata", "{}");
  kl_buf_putc(b, '}');
}

/* Starts an event's JSON: {"type":T,"sequence_number":N (the caller adds fields and '}'). */
static void ev_begin(resp_mock *m, kl_buf *d, const char *type) {
  kl_buf_reset(d);
  kl_buf_printf(d, "{\"type\":\"%s\",\"sequence_number\":%d", type, m->seq++);
}

static void ev_end(mock_chunks *ch, kl_buf *d, const char *type) {
  kl_buf_putc(d, '}');
  mock_chunks_event(ch, type, d->data, d->len);
}

static void ev_where(const resp_mock *m, kl_buf *d, bool content) {
  kl_buf_printf(d, ",\"item_id\":\"%s\",\"output_index\":0%s", m->item_id, content ? ",\"content_index\":0" : "");
}

static void build_stream(resp_mock *m, kl_mock_plan *out, kl_mock_fault fault) {
  mock_chunks ch = {.a = m->a};
  kl_buf d = KL_BUF_INIT;
  static const char *const start[] = {"response.created", "response.in_progress"};
  for (int i = 0; i < 2; i++) {
    ev_begin(m, &d, start[i]);
    kl_buf_puts(&d, ",\"response\":");
    response_json(m, &d, false);
    ev_end(&ch, &d, start[i]);
  }
  ev_begin(m, &d, "response.output_item.added");
  kl_buf_puts(&d, ",\"output_index\":0,\"item\":");
  item_json(m, &d, false);
  ev_end(&ch, &d, "response.output_item.added");
  if (!m->tool) {
    ev_begin(m, &d, "response.content_part.added");
    ev_where(m, &d, true);
    kl_buf_puts(&d, ",\"part\":");
    part_json(m, &d, false);
    ev_end(&ch, &d, "response.content_part.added");
  }

  const char *delta_ev = m->tool ? "response.function_call_arguments.delta" : "response.output_text.delta";
  long nparts = (long)mock_header_int(m->hdr, m->ud, "x-mock-chunks", 0, 100000);
  size_t *ends = malloc((m->text.len + 1) * sizeof *ends);
  if (!ends) abort();
  size_t np = mock_split(m->text.data, m->text.len, m->tool && nparts <= 0 ? 4 : nparts, ends, m->text.len + 1);
  size_t first_delta = ch.n;
  for (size_t i = 0, s = 0; i < np; s = ends[i++]) {
    ev_begin(m, &d, delta_ev);
    ev_where(m, &d, !m->tool);
    kl_buf_puts(&d, ",\"delta\":");
    kl_buf_json_str(&d, m->text.data + s, ends[i] - s);
    if (!m->tool) kl_buf_puts(&d, ",\"logprobs\":[]");
    ev_end(&ch, &d, delta_ev);
  }
  free(ends);

  if (fault == KL_MOCK_TRUNCATE) {
    ch.n = first_delta + (np + 1) / 2; /* some content, then a clean close: no done events */
  } else {
    if (m->tool) {
      ev_begin(m, &d, "response.function_call_arguments.done");
      ev_where(m, &d, false);
      kl_buf_puts(&d, ",\"arguments\":");
      kl_buf_json_str(&d, m->text.data, m->text.len);
      ev_end(&ch, &d, "response.function_call_arguments.done");
    } else {
      ev_begin(m, &d, "response.output_text.done");
      ev_where(m, &d, true);
      kl_buf_puts(&d, ",\"text\":");
      kl_buf_json_str(&d, m->text.data, m->text.len);
      kl_buf_puts(&d, ",\"logprobs\":[]");
      ev_end(&ch, &d, "response.output_text.done");
      ev_begin(m, &d, "response.content_part.done");
      ev_where(m, &d, true);
      kl_buf_puts(&d, ",\"part\":");
      part_json(m, &d, true);
      ev_end(&ch, &d, "response.content_part.done");
    }
    ev_begin(m, &d, "response.output_item.done");
    kl_buf_puts(&d, ",\"output_index\":0,\"item\":");
    item_json(m, &d, true);
    ev_end(&ch, &d, "response.output_item.done");
    const char *fin = m->incomplete ? "response.incomplete" : "response.completed";
    ev_begin(m, &d, fin);
    kl_buf_puts(&d, ",\"response\":");
    response_json(m, &d, true);
    ev_end(&ch, &d, fin);
  }
  if (fault == KL_MOCK_MALFORMED)
    mock_chunks_insert(&ch, first_delta + np / 2,
                       "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n");
  kl_buf_free(&d);
  mock_chunks_plan(&ch, out, fault);
}

static void error_plan(resp_mock *m, kl_mock_plan *out, int status, const char *msg, const char *param,
                       const char *code) {
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, status, NULL, msg, param, code);
  mock_error_plan(m->a, m->hdr, m->ud, out, status, b.data, b.len);
  kl_buf_free(&b);
}

void kl_mock_responses(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                       const kl_mock_opts *opts, kl_mock_plan *out) {
  resp_mock m = {.a = a, .hdr = hdr, .ud = hdr_ud};
  mock_fault_err fe;
  kl_mock_fault fault = mock_ctl_begin(hdr, hdr_ud, opts, out, &fe);
  if (fault == KL_MOCK_HANG) return;
  if (fault == KL_MOCK_STATUS) {
    error_plan(&m, out, fe.status, fe.msg, NULL, fe.code);
    return;
  }
  kl_err err;
  kl_err_clear(&err);
  m.root = kl_json_parse(body, len, &err);
  const char *param = NULL;
  char room[160];
  const char *msg = m.root ? check(m.root, &param, room) : err.msg[0] ? err.msg : "body: not valid JSON";
  if (msg) {
    error_plan(&m, out, 400, msg, param, NULL);
    cJSON_Delete(m.root);
    return;
  }
  m.model = kl_json_str(m.root, "model");
  m.stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m.root, "stream"));
  m.h = mock_seed(m.root);
  snprintf(m.id, sizeof m.id, "resp_mock_%016llx", (unsigned long long)m.h);
  build_answer(&m);
  m.reasoning = mock_header_int(hdr, hdr_ud, "x-mock-reasoning-tokens", 0, 1000000000);
  m.cached = mock_header_int(hdr, hdr_ud, "x-mock-cached-tokens", 0, 1000000000);
  if (m.cached > m.prompt) m.cached = m.prompt;

  if (m.stream) {
    build_stream(&m, out, fault);
  } else {
    kl_buf b = KL_BUF_INIT;
    if (fault != KL_MOCK_RESET) response_json(&m, &b, true);
    mock_body_plan(a, out, fault, b.data, b.len);
    kl_buf_free(&b);
  }
  kl_buf_free(&m.text);
  cJSON_Delete(m.root);
}
