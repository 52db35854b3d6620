/* guard_classify.c: the HTTP classifier rails (a prompt-injection or toxicity model server).
 *
 * keel POSTs {"text": ...} (the user and tool texts of the request) to each classifier of the
 * policy on the call's own loop, through the same upstream client as provider calls (pooled
 * keep-alive connections, the built-in HTTP/1.1 client for http://).  INPUT classifiers gate
 * the provider call: it starts when all of them have passed.  DURING classifiers run in
 * parallel with it: call.c holds the answer (the body, or the stream's events and its end)
 * while any is pending, and this file replays what was held once they pass.
 *
 * A classifier that fails (timeout, refused connection, an error status, an answer that is
 * not {label, score}) follows its scanner's fail_open setting: open lets the call through
 * (the observation says why), closed refuses it with 503 `guardrail_unavailable`.
 *
 * Lifetime: each classifier call lives in the request arena; kl_gw_guard_cls_cancel (from
 * release) cancels those still in flight, so no callback can touch a finished call.  Every
 * path that may end the call does so last, without touching the call afterwards. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <string.h>

struct kl_gw_cls {
  kl_gw_cls *next;
  kl_gw_call *c;
  const kl_guard_scanner_cfg *cfg;
  kl_guard_stage st;
  kl_upstream_call *up;
  int status;
  kl_buf body;
  int64_t t0;
};

typedef void (*then_fn)(kl_gw_call *c);

/* The texts a classifier judges: what the user (or a tool) wrote, not the system prompt. */
static const char *classifier_input(kl_gw_call *c, const cJSON *root) {
  kl_buf t = KL_BUF_INIT;
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
  for (const cJSON *m = msgs ? msgs->child : NULL; m; m = m->next) {
    const char *role = kl_json_str(m, "role");
    if (!role || (strcmp(role, "user") && strcmp(role, "tool"))) continue;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(content)) {
      if (t.len) kl_buf_putc(&t, '\n');
      kl_buf_puts(&t, content->valuestring);
    }
    for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p; p = p->next) {
      const char *s = kl_json_str(p, "text");
      if (!s) continue;
      if (t.len) kl_buf_putc(&t, '\n');
      kl_buf_puts(&t, s);
    }
  }
  kl_buf body = KL_BUF_INIT;
  kl_buf_puts(&body, "{\"text\":");
  kl_buf_json_str(&body, t.data ? t.data : "", t.len);
  kl_buf_putc(&body, '}');
  const char *out = kl_arena_strndup(c->arena, body.data, body.len);
  kl_buf_free(&t);
  kl_buf_free(&body);
  return out;
}

static void unlink_cls(kl_gw_guard *gd, kl_gw_cls *k) {
  for (kl_gw_cls **p = &gd->cls; *p; p = &(*p)->next)
    if (*p == k) {
      *p = k->next;
      return;
    }
}

/* Replays what call.c held while DURING rails were pending, then what ended meanwhile. */
static void deliver_held(kl_gw_call *c) {
  kl_gw_guard *gd = c->guard;
  kl_buf ev = gd->held_events;
  gd->held_events = (kl_buf)KL_BUF_INIT;
  for (size_t off = 0; off < ev.len && !c->fail;) {
    const char *name = ev.data + off;
    size_t nl = strlen(name);
    uint64_t n;
    memcpy(&n, ev.data + off + nl + 1, sizeof n);
    const char *data = ev.data + off + nl + 1 + sizeof n;
    c->ops->on_event(c, nl ? name : NULL, data, (size_t)n);
    off += nl + 1 + sizeof n + (size_t)n;
  }
  kl_buf_free(&ev);
  if (gd->held_end) kl_gw_stream_done(c, gd->held_end_pending);
  else if (gd->held_body) c->ops->body_done(c);
  else if (c->fail) kl_gw_stream_done(c, false);  /* a rail failed the stream: abort the upstream */
}

static void cls_done(void *ud, kl_upstream_status st, const char *errmsg) {
  kl_gw_cls *k = ud;
  kl_gw_call *c = k->c;
  kl_gw_guard *gd = c->guard;
  k->up = NULL;
  unlink_cls(gd, k);
  if (k->st == KL_GUARD_INPUT) gd->pending_input--;
  else gd->pending--;
  const char *name = k->cfg->name ? k->cfg->name : "classifier";
  double score = 0;
  const char *label = NULL, *problem = NULL;
  kl_err err = {0};
  if (st != KL_UP_OK) problem = kl_arena_sprintf(c->arena, "classifier %s failed: %s", name, errmsg ? errmsg : "transport error");
  else if (k->status != 200) problem = kl_arena_sprintf(c->arena, "classifier %s answered HTTP %d", name, k->status);
  else if (kl_guard_classifier_verdict(k->cfg, k->body.data ? k->body.data : "", k->body.len, &score, &label, c->arena,
                                       &err) != 0)
    problem = kl_arena_strdup(c->arena, err.msg);
  kl_buf_free(&k->body);
  double thr = k->cfg->threshold > 0 ? k->cfg->threshold : 0.5;
  kl_guard_action act = k->cfg->action ? k->cfg->action : KL_GUARD_BLOCK;
  bool unsafe = !problem && score >= thr;
  kl_guard_action verdict = problem ? (k->cfg->fail_open ? KL_GUARD_ALLOW : KL_GUARD_BLOCK)
                            : unsafe ? act : KL_GUARD_ALLOW;
  /* the observation: a finding over the whole input when the model flagged it */
  kl_gw_guard_part part = {.part = "messages"};
  kl_guard_finding f = {.scanner = name, .type = label ? label : "CLASSIFIER", .rule = k->cfg->url, .score = score,
                        .action = act};
  if (unsafe) {
    part.res.findings = &f;
    part.res.n = 1;
  }
  double us = (double)(kl_mono_ns() - k->t0) / 1e3;
  const char *msg = NULL;
  if (problem && verdict == KL_GUARD_BLOCK) msg = problem;
  else if (unsafe && verdict == KL_GUARD_BLOCK)
    msg = kl_arena_sprintf(c->arena, "guardrail policy '%s' blocked the request: %s labelled it %s (score %.2f)",
                           gd->r->name, name, f.type, score);
  kl_gw_guard_observe(c, k->st, &part, 1, verdict, msg ? msg : problem, kl_gw_now(c) - (int64_t)(us * 1e3), us);
  kl_metrics_guard(c->g->metrics, kl_guard_stage_name(k->st), kl_guard_action_name(verdict), us);
  if (verdict == KL_GUARD_BLOCK) {
    if (problem) kl_gw_fail(c, 503, "server_error", "guardrail_unavailable", msg);
    else kl_gw_fail(c, 400, "invalid_request_error", "guardrail_blocked", msg);
    return;  /* the call is over (its arena, k included, may be gone) */
  }
  if (k->st == KL_GUARD_INPUT) {
    if (gd->pending_input == 0 && gd->then) {
      then_fn then = gd->then;
      gd->then = NULL;
      then(c);
    }
    return;
  }
  if (gd->pending == 0 && !c->finished) deliver_held(c);
}

static void cls_response(void *ud, int status, const kl_http_header *h, size_t n) {
  (void)h; (void)n;
  ((kl_gw_cls *)ud)->status = status;
}

static int cls_data(void *ud, const char *data, size_t len) {
  kl_gw_cls *k = ud;
  if (k->body.len + len > (1u << 20)) return 1;  /* a verdict is small */
  kl_buf_append(&k->body, data, len);
  return 0;
}

static bool start_one(kl_gw_call *c, const kl_guard_scanner_cfg *cfg, kl_guard_stage st, const char *body) {
  kl_gw_cls *k = kl_arena_calloc(c->arena, sizeof *k);
  k->c = c;
  k->cfg = cfg;
  k->st = st;
  k->t0 = kl_mono_ns();
  static const char *const hdr[] = {"Content-Type: application/json", "Accept: application/json",
                                    "User-Agent: keel/0.1"};
  kl_upstream_opts o = {
      .method = "POST",
      .url = cfg->url,
      .headers = hdr,
      .nheaders = 3,
      .body = body,
      .body_len = strlen(body),
      .connect_timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 1000,
      .total_timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 1000,
  };
  kl_upstream_cbs cbs = {cls_response, cls_data, cls_done};
  kl_err err = {0};
  k->up = kl_upstream_start(c->w->upstream, &o, &cbs, k, &err);
  if (!k->up) return false;
  k->next = c->guard->cls;
  c->guard->cls = k;
  if (st == KL_GUARD_INPUT) c->guard->pending_input++;
  else c->guard->pending++;
  return true;
}

int kl_gw_guard_classify(kl_gw_call *c, const cJSON *root, void (*then)(kl_gw_call *c)) {
  kl_gw_guard *gd = c->guard;
  if (!gd || (!gd->r->n_cls[KL_GUARD_INPUT] && !gd->r->n_cls[KL_GUARD_DURING])) return 1;
  kl_gw_activate(c);  /* from here the call ends through kl_gw_fail / complete */
  const char *body = classifier_input(c, root);
  const kl_guard_scanner_cfg *cfgs[16];
  for (int st = KL_GUARD_INPUT; st <= KL_GUARD_DURING; st++) {
    size_t n = kl_guard_policy_classifiers(gd->r->policy, (kl_guard_stage)st, cfgs, 16);
    for (size_t i = 0; i < n && i < 16; i++)
      if (!start_one(c, cfgs[i], (kl_guard_stage)st, body) && !cfgs[i]->fail_open) {
        kl_gw_fail(c, 503, "server_error", "guardrail_unavailable",
                   kl_arena_sprintf(c->arena, "classifier %s could not be started", cfgs[i]->url));
        return -1;
      }
  }
  if (gd->pending_input == 0) return 1;  /* only DURING classifiers: the call starts now */
  gd->then = then;
  return 0;
}

bool kl_gw_guard_holding(const kl_gw_call *c) { return c->guard && c->guard->pending > 0; }

void kl_gw_guard_cls_cancel(kl_gw_call *c) {
  for (kl_gw_cls *k = c->guard->cls; k; k = k->next) {
    if (k->up) kl_upstream_cancel(k->up);
    k->up = NULL;
    kl_buf_free(&k->body);
  }
  c->guard->cls = NULL;
}
