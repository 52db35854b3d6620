/* mock_anthropic.c: the mock LLM's Anthropic Messages endpoint (POST /v1/messages).
 *
 * Same recipe as the chat mock (mock.c): the request is validated with the anthropic library
 * (a 400 in Anthropic's error shape otherwise), the whole answer is planned from a hash of the
 * request without `stream`, so a streamed and a non-streamed call carry the same text, and
 * the control headers inject the same faults, rendered as Anthropic errors (529 is
 * overloaded_error, as the real API says when it is busy).
 *
 * The answer: the chat mock's sentence about the last user turn (or about the tool_result it
 * carries), cut at max_tokens (stop_reason max_tokens); or, with tools and a tool_choice other
 * than {type:none}, and no tool_result in the last user turn, a tool_use block for the named
 * (tool_choice {type:tool}) or first tool, input built from its input_schema.
 * Usage follows Anthropic's convention: the prompt (ceil(chars of system + message texts / 4)
 * + 3 per message) is split into input_tokens + cache_read_input_tokens +
 * cache_creation_input_tokens; x-mock-cache-read-tokens (or x-mock-cached-tokens) and
 * x-mock-cache-write-tokens move that many prompt tokens out of input_tokens.
 * output_tokens includes x-mock-reasoning-tokens (Anthropic counts thinking as output).
 *
 * The stream is the real event sequence: message_start, content_block_start, ping,
 * content_block_delta (text_delta per word or x-mock-chunks pieces; input_json_delta pieces),
 * content_block_stop, message_delta, message_stop.  truncate keeps half of the deltas and
 * nothing after them; malformed inserts one event whose data is cut-off JSON. */
#include "llm/anthropic.h"
#include "llm/mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct anth_mock {
  kl_arena *a;
  kl_header_fn hdr;
  void *ud;
  kl_anth_req req;
  uint64_t h;
  char id[40];
  char tool_id[40];
  const char *tool_name;  /* non-NULL: the answer is a tool_use block */
  kl_buf text;            /* the text, or the tool input JSON */
  const char *stop;
  int64_t prompt, input, cache_read, cache_write, output;
} anth_mock;

/* Appends the text of a content value (string or blocks); tool_result blocks contribute their
 * own content's text only when `results` is set. */
static void blocks_text(const cJSON *content, kl_buf *out, bool results) {
  if (cJSON_IsString(content)) {
    if (out->len) kl_buf_putc(out, ' ');
    kl_buf_puts(out, content->valuestring);
    return;
  }
  const cJSON *b;
  for (b = mock_child(content); b; b = b->next) {
    const char *type = kl_json_str(b, "type");
    if (!type) continue;
    if (strcmp(type, "text") == 0 && kl_json_str(b, "text")) {
      if (out->len) kl_buf_putc(out, ' ');
      kl_buf_puts(out, kl_json_str(b, "text"));
    } else if (results && strcmp(type, "tool_result") == 0) {
      blocks_text(cJSON_GetObjectItemCaseSensitive(b, "content"), out, false);
    }
  }
}

static bool has_tool_result(const cJSON *content) {
  const cJSON *b;
  for (b = cJSON_IsArray(content) ? content->child : NULL; b; b = b->next) {
    const char *type = kl_json_str(b, "type");
    if (type && strcmp(type, "tool_result") == 0) return true;
  }
  return false;
}

/* The tool to call (an element of tools with an input_schema), or NULL. */
static const cJSON *pick_tool(const kl_anth_req *r, bool after_tool) {
  if (!cJSON_IsArray(r->tools) || after_tool) return NULL;
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(r->root, "tool_choice");
  const char *ct = kl_json_str(choice, "type");
  if (ct && strcmp(ct, "none") == 0) return NULL;
  const char *want = ct && strcmp(ct, "tool") == 0 ? kl_json_str(choice, "name") : NULL;
  const cJSON *t, *first = NULL;
  cJSON_ArrayForEach(t, r->tools) {
    const char *name = kl_json_str(t, "name");
    if (!name || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t, "input_schema"))) continue;
    if (!first) first = t;
    if (want && strcmp(want, name) == 0) return t;
  }
  return first;
}

static void build_answer(anth_mock *m) {
  kl_buf t = KL_BUF_INIT;
  size_t chars = 0, nmsgs = 0;
  blocks_text(m->req.system, &t, false);
  chars += t.len;
  const cJSON *msg, *last_user = NULL;
  cJSON_ArrayForEach(msg, m->req.messages) {
    kl_buf_reset(&t);
    blocks_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &t, true);
    chars += t.len;
    nmsgs++;
    const char *role = kl_json_str(msg, "role");
    if (role && strcmp(role, "user") == 0) last_user = msg;
  }
  m->prompt = (int64_t)((chars + 3) / 4 + 3 * nmsgs);
  uint64_t rng = m->h;
  snprintf(m->tool_id, sizeof m->tool_id, "toolu_mock_%016llx", (unsigned long long)mock_mix(&rng));

  const cJSON *content = cJSON_GetObjectItemCaseSensitive(last_user, "content");
  bool after_tool = has_tool_result(content);
  const cJSON *tool = pick_tool(&m->req, after_tool);
  if (tool) {
    m->tool_name = kl_json_str(tool, "name");
    mock_schema_object(&m->text, cJSON_GetObjectItemCaseSensitive(tool, "input_schema"));
    m->stop = "tool_use";
    m->output = mock_tokens(strlen(m->tool_name) + m->text.len);
  } else {
    kl_buf_reset(&t);
    if (after_tool) {
      /* the sentence quotes the tool result(s) */
      const cJSON *b;
      for (b = content->child; b; b = b->next) {
        const char *type = kl_json_str(b, "type");
        if (type && strcmp(type, "tool_result") == 0) blocks_text(cJSON_GetObjectItemCaseSensitive(b, "content"), &t, false);
      }
    } else {
      blocks_text(content, &t, false);
    }
    mock_sentence(&rng, t.data, after_tool, &m->text);
    m->stop = mock_limit(&m->text, (double)m->req.max_tokens) ? "max_tokens" : "end_turn";
    m->output = mock_tokens(m->text.len);
  }
  kl_buf_free(&t);
}

static void usage_json(const anth_mock *m, kl_buf *b, int64_t output) {
  kl_buf_printf(b,
                "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,\"cache_read_input_tokens\":%lld,"
                "\"output_tokens\":%lld}",
                (long long)m->input, (long long)m->cache_write, (long long)m->cache_read, (long long)output);
}

static void tool_block(const anth_mock *m, kl_buf *b, bool with_input) {
  kl_buf_puts(b, "{\"type\":\"tool_use\",\"id\":");
  kl_buf_json_str(b, m->tool_id, strlen(m->tool_id));
  kl_buf_puts(b, ",\"name\":");
  kl_buf_json_str(b, m->tool_name, strlen(m->tool_name));
  kl_buf_puts(b, ",\"input\":");
  kl_buf_puts(b, with_input ? m->text.data : "{}");
  kl_buf_putc(b, '}');
}

/* The message object; `streaming` gives message_start's version (no content yet). */
static void message_json(const anth_mock *m, kl_buf *b, bool streaming) {
  kl_buf_printf(b, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", m->id);
  kl_buf_json_str(b, m->req.model, strlen(m->req.model));
  kl_buf_puts(b, ",\"content\":[");
  if (!streaming) {
    if (m->tool_name) {
      tool_block(m, b, true);
    } else {
      kl_buf_puts(b, "{\"type\":\"text\",\"text\":");
      kl_buf_json_str(b, m->text.data, m->text.len);
      kl_buf_putc(b, '}');
    }
  }
  kl_buf_puts(b, "],\"stop_reason\":");
  if (streaming) kl_buf_puts(b, "null");
  else kl_buf_printf(b, "\"%s\"", m->stop);
  kl_buf_puts(b, ",\"stop_sequence\":null,\"usage\":");
  usage_json(m, b, streaming ? 1 : m->output);
  kl_buf_putc(b, '}');
}

static void event(mock_chunks *ch, const char *name, kl_buf *data) {
  mock_chunks_event(ch, name, data->data, data->len);
  kl_buf_reset(data);
}

static void build_stream(anth_mock *m, kl_mock_plan *out, kl_mock_fault fault) {
  mock_chunks ch = {.a = m->a};
  kl_buf d = KL_BUF_INIT;
  kl_buf_puts(&d, "{\"type\":\"message_start\",\"message\":");
  message_json(m, &d, true);
  kl_buf_putc(&d, '}');
  event(&ch, "message_start", &d);
  kl_buf_puts(&d, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":");
  if (m->tool_name) tool_block(m, &d, false);
  else kl_buf_puts(&d, "{\"type\":\"text\",\"text\":\"\"}");
  kl_buf_putc(&d, '}');
  event(&ch, "content_block_start", &d);
  kl_buf_puts(&d, "{\"type\":\"ping\"}");
  event(&ch, "ping", &d);

  long nparts = (long)mock_header_int(m->hdr, m->ud, "x-mock-chunks", 0, 100000);
  size_t *ends = malloc((m->text.len + 1) * sizeof *ends);
  if (!ends) abort();
  size_t np = mock_split(m->text.data, m->text.len, m->tool_name && nparts <= 0 ? 4 : nparts, ends, m->text.len + 1);
  size_t first_delta = ch.n;
  for (size_t i = 0, start = 0; i < np; start = ends[i++]) {
    kl_buf_puts(&d, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":");
    kl_buf_puts(&d, m->tool_name ? "{\"type\":\"input_json_delta\",\"partial_json\":" : "{\"type\":\"text_delta\",\"text\":");
    kl_buf_json_str(&d, m->text.data + start, ends[i] - start);
    kl_buf_puts(&d, "}}");
    event(&ch, "content_block_delta", &d);
  }
  free(ends);

  if (fault == KL_MOCK_TRUNCATE) {
    ch.n = first_delta + (np + 1) / 2; /* some content, then a clean close: no stop events */
  } else {
    kl_buf_puts(&d, "{\"type\":\"content_block_stop\",\"index\":0}");
    event(&ch, "content_block_stop", &d);
    kl_buf_printf(&d, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},"
                      "\"usage\":{\"output_tokens\":%lld}}", m->stop, (long long)m->output);
    event(&ch, "message_delta", &d);
    kl_buf_puts(&d, "{\"type\":\"message_stop\"}");
    event(&ch, "message_stop", &d);
  }
  if (fault == KL_MOCK_MALFORMED)
    mock_chunks_insert(&ch, first_delta + np / 2,
                       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":\n\n");
  kl_buf_free(&d);
  mock_chunks_plan(&ch, out, fault);
}

static void error_plan(anth_mock *m, kl_mock_plan *out, int status, const char *msg) {
  kl_buf b = KL_BUF_INIT;
  kl_anth_error(&b, status, NULL, msg);
  mock_error_plan(m->a, m->hdr, m->ud, out, status, b.data, b.len);
  kl_buf_free(&b);
}

void kl_mock_messages(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                      const kl_mock_opts *opts, kl_mock_plan *out) {
  anth_mock m = {.a = a, .hdr = hdr, .ud = hdr_ud};
  mock_fault_err fe;
  kl_mock_fault fault = mock_ctl_begin(hdr, hdr_ud, opts, out, &fe);
  if (fault == KL_MOCK_HANG) return;
  if (fault == KL_MOCK_STATUS) {
    error_plan(&m, out, fe.status, fe.msg);
    return;
  }
  kl_err err;
  kl_err_clear(&err);
  if (kl_anth_req_parse(body, len, &m.req, &err) < 0) {
    error_plan(&m, out, 400, err.msg);
    return;
  }
  m.h = mock_seed(m.req.root);
  snprintf(m.id, sizeof m.id, "msg_mock_%016llx", (unsigned long long)m.h);
  build_answer(&m);

  int64_t left = m.prompt;
  int64_t read = mock_header_int(hdr, hdr_ud, "x-mock-cache-read-tokens", -1, 1000000000);
  if (read < 0) read = mock_header_int(hdr, hdr_ud, "x-mock-cached-tokens", 0, 1000000000);
  m.cache_read = read < left ? read : left;
  left -= m.cache_read;
  int64_t write = mock_header_int(hdr, hdr_ud, "x-mock-cache-write-tokens", 0, 1000000000);
  m.cache_write = write < left ? write : left;
  m.input = left - m.cache_write;
  m.output += mock_header_int(hdr, hdr_ud, "x-mock-reasoning-tokens", 0, 1000000000);

  if (m.req.stream) {
    build_stream(&m, out, fault);
  } else {
    kl_buf b = KL_BUF_INIT;
    if (fault != KL_MOCK_RESET) message_json(&m, &b, false);
    mock_body_plan(a, out, fault, b.data, b.len);
    kl_buf_free(&b);
  }
  kl_buf_free(&m.text);
  cJSON_Delete(m.req.root);
}
