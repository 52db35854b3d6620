/* guard_stream.c: output rails on a streamed answer: a sliding window with hold-back.
 *
 * Streamed text is released to the client as it arrives, minus the last `holdback` bytes,
 * which stay in `held` until more text (or the end) shows whether they start an entity.
 * The output rails run over `carry` (the last CARRY bytes already released, unchanged) +
 * `held`: an entity split across two chunks, or across the release boundary of the previous
 * window, is seen whole.  They run once `held` has grown an eighth of the hold-back past it
 * (and at the end), not on every chunk: a model's chunks are a token or two, so a check per
 * chunk rescanned the ~400 bytes of carry and hold-back for every ~6 new ones.  A 1 KiB answer
 * in ~170 chunks (bench/guard_rails.sh's streams): keel CPU per railed stream 2.3 ms -> 1.3 ms,
 * against 1.4-1.5 ms for the plain one, which writes every chunk (a quarter: 1.1 ms).  Text
 * still leaves only after a window that saw it, so nothing unchecked reaches the client; it
 * leaves in steps of at least holdback / 8 bytes (16 by default, a few tokens; a hold-back
 * of 0 checks every chunk).
 *
 * Chunks that arrive in one loop round share one window.  An upstream ahead of keel (a fast
 * model, the bench's mock, a busy loop) hands over dozens of chunks per read, and a window per
 * eighth of the hold-back then rescanned the same ~400 bytes a few dozen times a read.  A chunk
 * that only carries text, past the threshold, leaves the window `due`; call.c's check handle
 * runs it at the end of the round, just before it writes the round's events, so the text leaves
 * no later than it did.  Any other chunk (finish, tool calls, usage, an error) runs it first,
 * in order.  The burst of test_gateway_chat.c: 26 windows -> 1-4.  A model whose tokens come
 * tens of ms apart gets a round per chunk and the windows of before.
 *
 * Released text goes out in the chunk that released it when that chunk has text of its own;
 * otherwise (a due window, a finish chunk's empty delta) in a copy of a text-only chunk of the
 * upstream's (`tmpl_*`, taken once per window), and a chunk without text then follows as it
 * came, byte for byte.  Findings decide what is released:
 *   - a BLOCK finding ends the stream with an error event, fail closed: nothing after it
 *     reaches the client (what went before it did: that is the price of streaming, and the
 *     hold-back is how much of it a rail gets to see first);
 *   - rewriting findings (redact / mask / hash) are applied to the released text; the
 *     release boundary never cuts a finding or a UTF-8 sequence;
 *   - with anonymise-and-restore, placeholders in the answer are replaced by their values
 *     just before they go out; the boundary never cuts a placeholder either.
 * Scanners that judge a whole text (json, token_limit, refusal, regex must_match) skip the
 * windows (kl_guard_text.partial) and run once over the complete answer at its end; so
 * does the GUARDRAIL observation, whose offsets are into the complete answer.  keel writes
 * the chunks itself from the upstream's (same id, model, fields), replacing delta.content.
 * Only choice 0 is filtered: chat.c refuses n > 1 streams on models with output rails. */
#include "gateway/gw_internal.h"

#include <stdlib.h>
#include <string.h>

#define CARRY 256  /* bytes of released text re-scanned with the next window */

/* Rails run inside the upstream's callbacks, where the call must not end: they mark it
 * failed (the upstream is then aborted, and call.c answers with these fields). */
static void mark_fail(kl_gw_call *c, int status, const char *type, const char *code, const char *msg) {
  if (c->fail) return;
  c->fail = msg;
  c->fail_status = status;
  c->fail_type = type;
  c->fail_code = code;
}

bool kl_gw_guard_stream_on(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  if (!gd) return false;
  gd->stream_rails = gd->r->local[KL_GUARD_OUTPUT] || gd->vault.n;
  return gd->stream_rails;
}

#define HOLD_KEY_MAX (16 * 1024)  /* an open private key is held at most this far back (real ones: a few KB) */
#define HOLD_TOKEN_MAX 2048        /* a token still growing is held back whole up to this length */

/* Bytes of the tokens secrets rules look for: base64 and base64url, hex, JWTs' dots. */
static bool token_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '+' || c == '/' || c == '=' ||
         c == '_' || c == '-' || c == '.';
}

/* Where a release may end: not inside a finding, a UTF-8 sequence or a placeholder, and not
 * inside what may still become an entity longer than the hold-back: */
static size_t release_point(const kl_gw_guard *gd, const kl_guard_result *res, size_t want) {
  size_t cl = gd->carry.len, b = cl + want, end = cl + gd->held.len;
  for (size_t i = 0; i < res->n; i++) {
    const kl_guard_finding *f = &res->findings[i];
    if (f->start < b && f->end > b && f->start >= cl) b = f->start;
  }
  /* a private key's BEGIN line without its END line (longer than any window: secrets.c):
   * nothing from its start on leaves until it is closed or the answer ends */
  if (res->hold && res->hold_from < b && end - res->hold_from <= HOLD_KEY_MAX)
    b = res->hold_from > cl ? res->hold_from : cl;
  size_t rel = b - cl;
  const char *h = gd->held.data;
  /* a token the release point cuts that still runs to the end of what came (a JWT, a long key:
   * more than the hold-back, not complete yet, so no rule has seen it whole) waits whole for
   * its end; a token with an end in sight was checked whole by this window already */
  if (rel > 0 && rel < gd->held.len && token_byte((unsigned char)h[rel]) && token_byte((unsigned char)h[rel - 1])) {
    size_t e = rel, t = rel;
    while (e < gd->held.len && token_byte((unsigned char)h[e])) e++;
    while (t > 0 && token_byte((unsigned char)h[t - 1])) t--;
    if (e == gd->held.len && e - t <= HOLD_TOKEN_MAX) rel = t;
  }
  while (rel > 0 && rel < gd->held.len && ((unsigned char)h[rel] & 0xC0) == 0x80) rel--;
  if (gd->vault.n && rel < gd->held.len) {
    /* a '<' in the last 48 bytes without its '>' may start a placeholder */
    for (size_t i = rel; i > 0 && rel - i < 48; i--)
      if (h[i - 1] == '>') break;
      else if (h[i - 1] == '<') {
        rel = i - 1;
        break;
      }
  }
  return rel;
}

/* Releases held[0, rel): rewritten per the findings inside it, placeholders restored. */
static char *release(kl_gw_call *c, const kl_guard_result *res, size_t rel, size_t *out_len) {
  kl_gw_guard *gd = c->guard;
  size_t cl = gd->carry.len;
  kl_guard_finding *f = res->n ? kl_arena_alloc(c->arena, res->n * sizeof *f) : NULL;
  size_t nf = 0;
  for (size_t i = 0; i < res->n; i++)
    if (res->findings[i].start >= cl && res->findings[i].end <= cl + rel) {
      f[nf] = res->findings[i];
      f[nf].start -= cl;
      f[nf].end -= cl;
      nf++;
    }
  size_t len;
  char *text = kl_guard_apply(gd->r->policy, gd->held.data ? gd->held.data : "", rel, f, nf, KL_GUARD_ALLOW,
                              c->arena, &len);
  kl_buf_append(&gd->stored, text, len);  /* what the trace keeps: rewritten, not restored */
  if (gd->vault.n) text = kl_guard_restore(&gd->vault, text, len, c->arena, &len);
  /* carry = the tail of the original text, for the next window */
  kl_buf_append(&gd->carry, gd->held.data, rel);
  if (gd->carry.len > CARRY) {
    size_t drop = gd->carry.len - CARRY;
    memmove(gd->carry.data, gd->carry.data + drop, CARRY);
    gd->carry.len = CARRY;
  }
  memmove(gd->held.data, gd->held.data + rel, gd->held.len - rel);
  gd->held.len -= rel;
  *out_len = len;
  return text;
}

/* A window's BLOCK finding f ends the stream.  The stream then never reaches final_check, so the
 * blocking window is the output rail's observation (every rail that runs is one): its findings,
 * moved from the window's offsets to the answer's (the window starts `base` bytes in). */
static void stream_block(kl_gw_call *c, kl_guard_result *res, const kl_guard_finding *f, size_t base) {
  kl_gw_guard *gd = c->guard;
  const char *msg = kl_gw_guard_block_message(c, "answer", f, NULL);
  for (size_t i = 0; i < res->n; i++) {
    res->findings[i].start += base;
    res->findings[i].end += base;
  }
  gd->finished = true;
  kl_gw_guard_part part = {.part = "choices[0].message.content", .res = *res};
  kl_gw_guard_observe(c, KL_GUARD_OUTPUT, &part, 1, KL_GUARD_BLOCK, msg, kl_gw_now(c) - (int64_t)(res->us * 1e3),
                      res->us);
  kl_metrics_guard(c->g->metrics, "output", kl_guard_action_name(KL_GUARD_BLOCK), res->us);
  mark_fail(c, 400, "invalid_request_error", "guardrail_blocked", msg);
}

/* Scans carry + held; returns the text to release now (NULL after blocking the stream). */
static char *window(kl_gw_call *c, bool final, size_t *out_len) {
  kl_gw_guard *gd = c->guard;
  kl_buf w = KL_BUF_INIT;
  kl_buf_append(&w, gd->carry.data, gd->carry.len);
  kl_buf_append(&w, gd->held.data, gd->held.len);
  kl_guard_text in = {.text = w.data ? w.data : "", .len = w.len, .stage = KL_GUARD_OUTPUT, .partial = true,
                      .canary = gd->canary[0] ? gd->canary : NULL};
  kl_guard_result res = {0};
  kl_err err = {0};
  gd->due = false;  /* this window sees every chunk's text so far */
  gd->tmpl_fresh = false;
  bool ok = !gd->r->local[KL_GUARD_OUTPUT] || kl_guard_check(gd->r->policy, &in, c->arena, &res, &err) == 0;
  kl_buf_free(&w);
  gd->windows++;
  gd->windows_us += res.us;
  if (!ok) {
    mark_fail(c, 500, "server_error", "guardrail_error", kl_arena_strdup(c->arena, err.msg));
    return NULL;
  }
  for (size_t i = 0; i < res.n; i++)
    if (res.findings[i].action == KL_GUARD_BLOCK && res.findings[i].end > gd->carry.len) {
      stream_block(c, &res, &res.findings[i], gd->full.len - gd->held.len - gd->carry.len);
      return NULL;
    }
  size_t want = final ? gd->held.len : gd->held.len > gd->r->holdback ? gd->held.len - gd->r->holdback : 0;
  size_t rel = final ? want : release_point(gd, &res, want);
  return release(c, &res, rel, out_len);
}

/* Writes chunk (the upstream's, parsed) with its choice-0 delta.content set to text.  Until
 * some text is released, chunks without text (the role chunk) wait in `head`: a block before
 * the first release is then still a plain HTTP 400, not a stream that ends in an error. */
static void emit_json(kl_gw_call *c, const char *event, const char *s, size_t slen, size_t len, bool hold) {
  kl_gw_guard *gd = c->guard;
  if (hold && !len && !c->stream_started) {
    kl_buf_puts(&gd->head, event ? event : "");
    kl_buf_putc(&gd->head, 0);
    kl_buf_append(&gd->head, s, slen);
    kl_buf_putc(&gd->head, 0);
    return;
  }
  for (size_t off = 0; off < gd->head.len;) {
    const char *ev = gd->head.data + off, *data = ev + strlen(ev) + 1;
    kl_gw_stream_event(c, *ev ? ev : NULL, data, strlen(data));
    off = (size_t)(data + strlen(data) + 1 - gd->head.data);
  }
  kl_buf_reset(&gd->head);
  kl_gw_stream_event(c, event, s, slen);
}

static void emit(kl_gw_call *c, const char *event, cJSON *chunk, cJSON *delta, const char *text, size_t len,
                 bool hold) {
  char *t = kl_arena_strndup(c->arena, text, len);
  if (cJSON_GetObjectItemCaseSensitive(delta, "content"))
    cJSON_ReplaceItemInObjectCaseSensitive(delta, "content", cJSON_CreateString(t));
  else cJSON_AddStringToObject(delta, "content", t);
  char *s = cJSON_PrintUnformatted(chunk);
  if (!s) abort();
  emit_json(c, event, s, strlen(s), len, hold);
  cJSON_free(s);
}

/* A key is a raw '"' after '{' or ',' (and blanks), and before ':': inside a JSON string a
 * '"' is always escaped, so nothing else looks like one.  With one key "content" in the chunk,
 * it is delta.content's (the caller saw that delta has content): the splice changes that value
 * and keeps every other byte of the upstream's chunk. */
static bool json_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

bool kl_gw_splice_content(const char *d, size_t n, const kl_buf *old, const char *text, size_t len, kl_buf *out) {
  static const char key[] = "\"content\"";
  size_t at = SIZE_MAX;
  for (const char *p = d; (p = memmem(p, n - (size_t)(p - d), key, sizeof key - 1)); p++) {
    size_t i = (size_t)(p - d), b = i, k = i + sizeof key - 1;
    while (b > 0 && json_blank(d[b - 1])) b--;
    if (!b || (d[b - 1] != '{' && d[b - 1] != ',')) continue;
    while (k < n && json_blank(d[k])) k++;
    if (k >= n || d[k] != ':') continue;
    if (at != SIZE_MAX) return false;  /* two keys "content": not this way */
    k++;
    while (k < n && json_blank(d[k])) k++;
    at = k;
  }
  if (at == SIZE_MAX || n - at < old->len || memcmp(d + at, old->data, old->len)) return false;
  kl_buf_append(out, d, at);
  kl_buf_json_str(out, text, len);
  kl_buf_append(out, d + at + old->len, n - at - old->len);
  return true;
}

/* The whole answer: whole-text rails, the observation; false = blocked. */
static bool final_check(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  if (!gd->r->local[KL_GUARD_OUTPUT]) return true;
  int64_t t0 = kl_gw_now(c);
  kl_gw_guard_part part = {.part = "choices[0].message.content"};
  kl_guard_text in = {.text = gd->full.data ? gd->full.data : "", .len = gd->full.len, .stage = KL_GUARD_OUTPUT,
                      .canary = gd->canary[0] ? gd->canary : NULL, .json_schema = gd->schema,
                      .json_schema_len = gd->schema_len, .expect_json = gd->expect_json};
  kl_err err = {0};
  if (kl_guard_check(gd->r->policy, &in, c->arena, &part.res, &err) != 0) {
    mark_fail(c, 500, "server_error", "guardrail_error", kl_arena_strdup(c->arena, err.msg));
    return false;
  }
  kl_guard_action v = part.res.action;
  if (v == KL_GUARD_REASK) v = KL_GUARD_BLOCK;  /* a streamed answer cannot be asked again */
  const kl_guard_finding *b = part.res.blocker;
  const char *msg = v == KL_GUARD_BLOCK && b ? kl_gw_guard_block_message(c, "answer", b, NULL) : NULL;
  kl_gw_guard_observe(c, KL_GUARD_OUTPUT, &part, 1, v, msg, t0, part.res.us);
  kl_metrics_guard(c->g->metrics, "output", kl_guard_action_name(v), part.res.us);
  if (v == KL_GUARD_BLOCK && b) {
    mark_fail(c, 400, "invalid_request_error", "guardrail_blocked", msg);
    return false;
  }
  return true;
}

/* Writes the chunk d[0, n), whose choice-0 delta.content is the JSON string old, with text in its
 * place: spliced into the upstream's bytes (most chunks), or through a tree emit may change. */
static void put_chunk(kl_gw_call *c, const char *event, const char *d, size_t n, const kl_buf *old, const char *text,
                      size_t len, bool hold);

/* The delta of a chunk's choice 0 (its first choice with index 0, as kl_chat_stream_choice0
 * picks it), or NULL. */
static cJSON *delta_of(const cJSON *chunk) {
  cJSON *ch;
  cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(chunk, "choices")) {
    if (cJSON_IsObject(ch) && kl_json_int(ch, "index", 0) == 0) return cJSON_GetObjectItemCaseSensitive(ch, "delta");
  }
  return NULL;
}

/* `ch` is choice 0 of the chunk as the stream accumulator parsed it, read-only: the chunk is
 * not parsed again here (a 1 KiB answer's stream spent ~20k instructions a chunk in cJSON's
 * parse and delete), nor its members looked up again.  A chunk written back with its released
 * text is spliced (kl_gw_splice_content) or, failing that, parsed into a tree emit may change. */
bool kl_gw_guard_stream_chunk(kl_gw_call *c, const char *event, const char *data, size_t len,
                              const kl_chunk_choice *ch) {
  kl_gw_guard *gd = c->guard;
  const cJSON *delta = ch->delta;
  if (!cJSON_IsObject(delta)) {  /* not a content chunk after all: relay it, after the text before it */
    if (!kl_gw_guard_stream_due(c)) return false;
    kl_gw_stream_event(c, event, data, len);
    return true;
  }
  const cJSON *content = ch->content, *fr = ch->finish_reason;
  bool final = fr && !cJSON_IsNull(fr), text = cJSON_IsString(content);
  /* a delta of the one member "content" (the content found makes it a member) */
  bool text_only = text && !delta->child->next && !final;
  size_t n = text ? strlen(content->valuestring) : 0;
  if (text) {
    kl_buf_append(&gd->held, content->valuestring, n);
    kl_buf_append(&gd->full, content->valuestring, n);
  }
  if (text_only && !gd->tmpl_fresh) {
    /* the template released text goes out in when the chunk that released it has no text of
     * its own (a window run at the round's end, a finish chunk): one copy per window */
    kl_buf_reset(&gd->tmpl_event);
    kl_buf_puts(&gd->tmpl_event, event ? event : "");
    kl_buf_reset(&gd->tmpl_chunk);
    kl_buf_append(&gd->tmpl_chunk, data, len);
    kl_buf_reset(&gd->tmpl_old);
    kl_buf_json_str(&gd->tmpl_old, content->valuestring, n);
    gd->tmpl_fresh = true;
  }
  /* not yet an eighth of the hold-back past it: nothing to release, no window (see the top) */
  bool wait = !final && gd->held.len < gd->r->holdback + gd->r->holdback / 8;
  if (!wait && text_only) {  /* the window waits for the end of the round (see the top) */
    if (!gd->due) {
      gd->due = true;
      kl_gw_at_round_end(c);
    }
    return true;
  }
  size_t outn = 0;
  const char *out = wait ? "" : window(c, final, &outn);
  if (final) gd->finished = true;
  if (!out || (final && !final_check(c))) return false;
  if (!text && (!outn || gd->tmpl_chunk.len)) {
    /* a chunk without text (most finish chunks: an empty delta; a role, a tool call) goes out as
     * it came, after the text it released, in a chunk like the upstream's text chunks */
    if (outn)
      put_chunk(c, gd->tmpl_event.len ? gd->tmpl_event.data : NULL, gd->tmpl_chunk.data, gd->tmpl_chunk.len,
                &gd->tmpl_old, out, outn, true);
    emit_json(c, event, data, len, 0, !final);
  } else if (outn || !text_only) {  /* a chunk that only carried (now held) text is not written */
    kl_buf old = KL_BUF_INIT;
    if (text) kl_buf_json_str(&old, content->valuestring, n);
    put_chunk(c, event, data, len, &old, out, outn, !final);
    kl_buf_free(&old);
  }
  return true;
}

static void put_chunk(kl_gw_call *c, const char *event, const char *d, size_t n, const kl_buf *old, const char *text,
                      size_t len, bool hold) {
  kl_buf spliced = KL_BUF_INIT;
  if (old->len && kl_gw_splice_content(d, n, old, text, len, &spliced)) {
    emit_json(c, event, spliced.data, spliced.len, len, hold);
  } else {
    cJSON *m = cJSON_ParseWithLength(d, n);
    if (!m) abort();  /* the accumulator parsed it: cJSON accepts it */
    emit(c, event, m, delta_of(m), text, len, hold);
    cJSON_Delete(m);
  }
  kl_buf_free(&spliced);
}

bool kl_gw_guard_stream_due(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  if (!gd || !gd->due || c->fail) return true;  /* a failing call releases nothing more */
  size_t outn = 0;
  const char *out = window(c, false, &outn);
  if (!out) return false;
  if (outn)
    put_chunk(c, gd->tmpl_event.len ? gd->tmpl_event.data : NULL, gd->tmpl_chunk.data, gd->tmpl_chunk.len, &gd->tmpl_old,
              out, outn, true);
  return true;
}

bool kl_gw_guard_stream_finish(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  if (!gd || !gd->stream_rails || gd->finished) return true;
  gd->finished = true;
  size_t outn = 0;
  char *out = window(c, true, &outn);
  if (!out) return false;
  if (outn && gd->tmpl_chunk.len) {
    /* the upstream ended without a finish chunk: the rest goes out like its text chunks */
    put_chunk(c, gd->tmpl_event.len ? gd->tmpl_event.data : NULL, gd->tmpl_chunk.data, gd->tmpl_chunk.len, &gd->tmpl_old,
              out, outn, false);
  } else if (outn) {
    /* nor any text-only chunk to copy: the rest goes out in a chunk of keel's own */
    cJSON *chunk = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(chunk, "choices"), *ch = cJSON_CreateObject();
    cJSON_AddStringToObject(chunk, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(ch, "delta");
    cJSON_AddItemToArray(choices, ch);
    emit(c, NULL, chunk, delta, out, outn, false);
    cJSON_Delete(chunk);
  }
  return final_check(c);
}

void kl_gw_guard_release(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  kl_gw_guard_cls_cancel(c);
  kl_buf_free(&gd->held);
  kl_buf_free(&gd->carry);
  kl_buf_free(&gd->full);
  kl_buf_free(&gd->stored);
  kl_buf_free(&gd->head);
  kl_buf_free(&gd->held_events);
  kl_buf_free(&gd->tmpl_event);
  kl_buf_free(&gd->tmpl_chunk);
  kl_buf_free(&gd->tmpl_old);
}

const char *kl_gw_guard_stored_output(kl_gw_call *c, const char *output_json) {
  kl_gw_guard *gd = c->guard;
  if (output_json) {
    /* the accumulator wrote the whole answer as its content (kl_buf_json_str, as here): the
     * stored text goes in its place; a tree only when that is not what it wrote */
    kl_buf old = KL_BUF_INIT, out = KL_BUF_INIT;
    kl_buf_json_str(&old, gd->full.data ? gd->full.data : "", gd->full.len);
    bool ok = kl_gw_splice_content(output_json, strlen(output_json), &old, gd->stored.data ? gd->stored.data : "",
                                   gd->stored.len, &out);
    const char *r = ok ? kl_arena_strndup(c->arena, out.data, out.len) : NULL;
    kl_buf_free(&old);
    kl_buf_free(&out);
    if (r) return r;
  }
  cJSON *m = output_json ? cJSON_Parse(output_json) : NULL;
  if (!m) {
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "assistant");
  }
  char *t = kl_arena_strndup(c->arena, gd->stored.data ? gd->stored.data : "", gd->stored.len);
  if (cJSON_GetObjectItemCaseSensitive(m, "content"))
    cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(t));
  else cJSON_AddStringToObject(m, "content", t);
  const char *out = kl_json_print_arena(c->arena, m);
  cJSON_Delete(m);
  return out;
}
