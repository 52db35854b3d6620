/* exporter.c: best-effort OTLP/HTTP delivery of observations (contract in kl_export.h).
 *
 * Threads.  Gateway threads call kl_exporter_submit(): clone (one malloc, outside the lock),
 * then a few instructions under the mutex to push onto a ring.  The ring is bounded and drops
 * its OLDEST entry when full: exporting must never slow or grow the gateway, the SQLite store
 * keeps the record, and under a long collector outage the newest spans are the ones worth
 * having when it comes back.  The exporter's own thread runs its own uv loop with its own
 * kl_upstream (the gateway's loops never see an export request), woken by a uv_async when a
 * full batch is waiting (or on flush / stop) and by a periodic timer for partial batches.
 *
 * One request in flight at a time: a collector is one endpoint, and ordering plus a single
 * retry state keep the logic small; at 512 spans per request that is far beyond what one
 * keel produces.  A batch being retried stays out of the ring (its encoded body is kept), so
 * memory is bounded by queue_capacity + one batch.
 *
 * Retries follow the OTLP/HTTP spec: 429, 502, 503 and 504 and transport failures
 * (connect, timeout, reset) are retried with exponential backoff, full-jittered into
 * [50%, 100%] of the step so restarting keels do not retry in lockstep; a Retry-After
 * (seconds or an HTTP date) replaces the computed delay, up to 60 s.  Any other
 * status gives the batch up at once (retrying a 400 or 401 cannot succeed).  A 2xx reply
 * with partialSuccess.rejectedSpans counts those spans as failed.  Failures are logged at
 * most once per 30 s, with the number suppressed, so a dead collector cannot flood the log.
 *
 * Shutdown: kl_exporter_free() raises `stopping` and wakes the loop, which sends every queued
 * batch at once; a deadline timer (shutdown_timeout_ms) then cancels whatever is left and
 * counts it as failed, so a dead collector delays exit by at most that long. */
#include "trace/kl_export.h"
#include "net/kl_net.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#ifdef KEEL_HAVE_ZLIB
#include <zlib.h>
#endif

#define LOG_EVERY_NS (30LL * 1000000000LL)
#define RESP_MAX 4096
#define RETRY_AFTER_MAX_MS 60000 /* a longer ask is taken as 60 s: the queue is bounded anyway */

struct kl_exporter {
  /* immutable after kl_exporter_new */
  char *url;
  kl_export_protocol proto;
  char **hdrs; /* Content-Type, [Content-Encoding], the configured ones */
  size_t nhdrs;
  kl_export_attr *res;
  kl_export_enc enc;
  bool gzip, insecure;
  size_t batch_max, cap;
  int flush_ms, timeout_ms, max_attempts, backoff0, backoff_max, shutdown_ms;

  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  kl_obs **ring;
  size_t head, count;
  bool stopping, flush_req, busy, wake_pending, ready;
  kl_export_stats st;
  kl_err start_err;

  /* exporter thread only */
  pthread_t thr;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t tick, retry, deadline;
  kl_upstream *up;
  kl_upstream_call *call;
  kl_obs **batch;
  size_t nbatch;
  kl_buf body, gz, resp;
  int attempt, status;
  int64_t retry_after_ms;
  bool closing, deadline_on;
  unsigned rnd;
  int64_t log_next_ns;
  uint64_t log_suppressed;
  char start_errmsg[256];
};

/* ---------------- cloning ---------------- */

static const size_t k_str_off[] = {
    offsetof(kl_obs, project_id), offsetof(kl_obs, type), offsetof(kl_obs, name), offsetof(kl_obs, level),
    offsetof(kl_obs, status_message), offsetof(kl_obs, model), offsetof(kl_obs, provider),
    offsetof(kl_obs, upstream_model), offsetof(kl_obs, model_params_json), offsetof(kl_obs, input_json),
    offsetof(kl_obs, output_json), offsetof(kl_obs, metadata_json), offsetof(kl_obs, finish_reason),
    offsetof(kl_obs, usage_json), offsetof(kl_obs, cost_json), offsetof(kl_obs, trace_name),
    offsetof(kl_obs, user_id), offsetof(kl_obs, session_id), offsetof(kl_obs, tags_json),
    offsetof(kl_obs, environment), offsetof(kl_obs, release),
};
#define NSTR (sizeof k_str_off / sizeof k_str_off[0])

/* One block: the struct, then every string.  Content the encoder will not send is not copied. */
static kl_obs *clone_obs(const kl_obs *o, bool omit_content) {
  size_t lens[NSTR], total = sizeof *o;
  for (size_t i = 0; i < NSTR; i++) {
    const char *s = *(const char *const *)((const char *)o + k_str_off[i]);
    bool skip = omit_content && (k_str_off[i] == offsetof(kl_obs, input_json) ||
                                 k_str_off[i] == offsetof(kl_obs, output_json));
    lens[i] = s && !skip ? strlen(s) + 1 : 0;
    total += lens[i];
  }
  kl_obs *c = malloc(total);
  if (!c) abort();
  *c = *o;
  c->id[KL_OBS_ID_MAX] = c->trace_id[KL_OBS_ID_MAX] = c->parent_id[KL_OBS_ID_MAX] = 0;
  char *p = (char *)(c + 1);
  for (size_t i = 0; i < NSTR; i++) {
    const char **dst = (const char **)((char *)c + k_str_off[i]);
    if (!lens[i]) {
      *dst = NULL;
      continue;
    }
    memcpy(p, *dst, lens[i]);
    *dst = p;
    p += lens[i];
  }
  return c;
}

/* ---------------- submit side ---------------- */

void kl_exporter_submit(kl_exporter *e, const kl_obs *o) {
  if (!e || !o) return;
  kl_obs *c = clone_obs(o, e->enc.omit_content);
  kl_obs *evicted = NULL;
  pthread_mutex_lock(&e->mu);
  e->st.submitted++;
  if (e->stopping) {
    e->st.dropped++;
    evicted = c;
  } else {
    if (e->count == e->cap) {
      evicted = e->ring[e->head];
      e->head = (e->head + 1) % e->cap;
      e->count--;
      e->st.dropped++;
    }
    e->ring[(e->head + e->count) % e->cap] = c;
    e->count++;
    /* sent under the lock: the loop closes its handles only after seeing `stopping` under
     * this lock, so a send can never hit a closed handle */
    if (e->count >= e->batch_max && !e->wake_pending) {
      e->wake_pending = true;
      uv_async_send(&e->wake);
    }
  }
  pthread_mutex_unlock(&e->mu);
  free(evicted);
}

/* ---------------- exporter thread ---------------- */

static void pump(kl_exporter *e, bool timer);

static void log_failure(kl_exporter *e, size_t n, const char *why) {
  int64_t now = kl_mono_ns();
  if (now < e->log_next_ns) {
    e->log_suppressed++;
    return;
  }
  char sup[64] = "";
  if (e->log_suppressed) snprintf(sup, sizeof sup, " (%llu similar messages suppressed)", (unsigned long long)e->log_suppressed);
  kl_warn("otlp export to %s: %s; %zu spans dropped%s", e->url, why, n, sup);
  e->log_suppressed = 0;
  e->log_next_ns = now + LOG_EVERY_NS;
}

/* The batch is over (sent, or given up): account for it and look for the next one. */
static void finish_batch(kl_exporter *e, uint64_t ok, uint64_t failed) {
  for (size_t i = 0; i < e->nbatch; i++) free(e->batch[i]);
  e->nbatch = 0;
  e->attempt = 0;
  pthread_mutex_lock(&e->mu);
  e->st.exported += ok;
  e->st.failed += failed;
  e->busy = false;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  if (!e->closing) pump(e, false);
}

/* Only the fields of a partialSuccess matter: rejected_spans (json "rejectedSpans"). */
static uint64_t rejected_spans(const kl_exporter *e) {
  const unsigned char *p = (const unsigned char *)e->resp.data, *end = p + e->resp.len;
  if (!e->resp.len) return 0;
  if (e->proto == KL_EXPORT_JSON) {
    cJSON *j = cJSON_ParseWithLength(e->resp.data, e->resp.len);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
    uint64_t n = cJSON_IsNumber(r) && r->valuedouble > 0 ? (uint64_t)r->valuedouble
                 : cJSON_IsString(r) ? strtoull(r->valuestring, NULL, 10) : 0;
    cJSON_Delete(j);
    return n;
  }
  /* ExportTraceServiceResponse{1: ExportTracePartialSuccess{1: int64 rejected_spans}} */
  for (int depth = 0; p < end;) {
    uint64_t key = 0, v = 0;
    for (int s = 0; p < end && s < 64; s += 7) {
      key |= (uint64_t)(*p & 0x7f) << s;
      if (!(*p++ & 0x80)) break;
    }
    unsigned wt = key & 7;
    if (wt == 0 || wt == 2) {
      for (int s = 0; p < end && s < 64; s += 7) {
        v |= (uint64_t)(*p & 0x7f) << s;
        if (!(*p++ & 0x80)) break;
      }
    } else {
      return 0;
    }
    if ((key >> 3) == 1 && wt == 2 && depth == 0) {
      end = p + v <= end ? p + v : end;
      depth = 1;
    } else if ((key >> 3) == 1 && wt == 0 && depth == 1) {
      return v;
    } else if (wt == 2) {
      if (v > (uint64_t)(end - p)) return 0;
      p += v;
    }
  }
  return 0;
}

static int64_t parse_retry_after(const char *v) {
  while (*v == ' ') v++;
  char *endp;
  long long s = strtoll(v, &endp, 10);
  if (endp != v && s >= 0) return s > 86400 ? 86400000 : s * 1000;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *r = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!r) return -1;
  int64_t ms = (int64_t)timegm(&tm) * 1000 - kl_now_ns() / 1000000;
  return ms > 0 ? ms : 0;
}

static void on_response(void *ud, int status, const kl_http_header *h, size_t n) {
  kl_exporter *e = ud;
  e->status = status;
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(h[i].name, "retry-after")) e->retry_after_ms = parse_retry_after(h[i].value);
}

static int on_data(void *ud, const char *d, size_t n) {
  kl_exporter *e = ud;
  if (e->resp.len < RESP_MAX) kl_buf_append(&e->resp, d, n < RESP_MAX - e->resp.len ? n : RESP_MAX - e->resp.len);
  return 0;
}

static void send_batch(kl_exporter *e);

static void on_retry(uv_timer_t *t) { send_batch(t->data); }
static void on_done(void *ud, kl_upstream_status st, const char *errmsg);
static void on_start_failed(uv_timer_t *t) {
  kl_exporter *e = t->data;
  on_done(e, KL_UP_CONNECT, e->start_errmsg);
}

static void on_done(void *ud, kl_upstream_status st, const char *errmsg) {
  kl_exporter *e = ud;
  e->call = NULL;
  pthread_mutex_lock(&e->mu);
  e->st.last_status = st == KL_UP_OK ? e->status : 0;
  pthread_mutex_unlock(&e->mu);
  char why[200];
  if (st == KL_UP_OK && e->status >= 200 && e->status < 300) {
    uint64_t rej = rejected_spans(e);
    if (rej > e->nbatch) rej = e->nbatch;
    if (rej) log_failure(e, (size_t)rej, "collector rejected spans (partialSuccess)");
    finish_batch(e, e->nbatch - rej, rej);
    return;
  }
  bool retryable = st != KL_UP_OK || e->status == 429 || e->status == 502 || e->status == 503 || e->status == 504;
  if (st == KL_UP_OK) {
    snprintf(why, sizeof why, "HTTP %d %.120s", e->status, e->resp.data ? e->resp.data : "");
    for (char *q = why; *q; q++)
      if ((unsigned char)*q < ' ' || (unsigned char)*q > '~') *q = '.'; /* a protobuf Status body */
  } else {
    snprintf(why, sizeof why, "%s", errmsg && *errmsg ? errmsg : "transport error");
  }
  if (retryable && e->attempt < e->max_attempts) {
    int64_t step = (int64_t)e->backoff0 << (e->attempt - 1 < 20 ? e->attempt - 1 : 20);
    if (step > e->backoff_max) step = e->backoff_max;
    int64_t delay = step / 2 + (int64_t)(rand_r(&e->rnd) % (unsigned)(step / 2 + 1));
    if (e->retry_after_ms >= 0) delay = e->retry_after_ms < RETRY_AFTER_MAX_MS ? e->retry_after_ms : RETRY_AFTER_MAX_MS;
    bool stopping;
    pthread_mutex_lock(&e->mu);
    stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);
    /* at shutdown a retry that cannot happen before the deadline is not worth waiting for */
    if (!stopping || !e->deadline_on || (uint64_t)delay < uv_timer_get_due_in(&e->deadline)) {
      uv_timer_start(&e->retry, on_retry, (uint64_t)delay, 0);
      return;
    }
  }
  if (retryable) snprintf(why + strlen(why), sizeof why - strlen(why), " (gave up after %d attempts)", e->attempt);
  log_failure(e, e->nbatch, why);
  finish_batch(e, 0, e->nbatch);
}

static const void *payload(kl_exporter *e, size_t *len) {
  *len = e->body.len;
#ifdef KEEL_HAVE_ZLIB
  if (e->gzip) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    kl_buf_reset(&e->gz);
    kl_buf_reserve(&e->gz, deflateBound(&z, e->body.len));
    z.next_in = (Bytef *)e->body.data;
    z.avail_in = (uInt)e->body.len;
    z.next_out = (Bytef *)e->gz.data;
    z.avail_out = (uInt)(e->gz.cap - 1);
    int rc = deflate(&z, Z_FINISH);
    e->gz.len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) abort(); /* deflateBound is an upper bound: cannot happen */
    *len = e->gz.len;
    return e->gz.data;
  }
#endif
  return e->body.data;
}

static void send_batch(kl_exporter *e) {
  e->attempt++;
  e->status = 0;
  e->retry_after_ms = -1;
  kl_buf_reset(&e->resp);
  pthread_mutex_lock(&e->mu);
  e->st.requests++;
  if (e->attempt > 1) e->st.retries++;
  pthread_mutex_unlock(&e->mu);
  size_t len;
  const void *body = payload(e, &len);
  kl_upstream_opts o = {
      .method = "POST",
      .url = e->url,
      .headers = (const char *const *)e->hdrs,
      .nheaders = e->nhdrs,
      .body = body,
      .body_len = len,
      .connect_timeout_ms = e->timeout_ms < 10000 ? e->timeout_ms : 10000,
      .total_timeout_ms = e->timeout_ms,
      .insecure_tls = e->insecure,
  };
  static const kl_upstream_cbs cbs = {on_response, on_data, on_done};
  kl_err err;
  kl_err_clear(&err);
  e->call = kl_upstream_start(e->up, &o, &cbs, e, &err);
  if (!e->call) {
    /* reported from the next loop turn, as a refused connection would be: on_done may start
     * the next batch, and doing that from here could recurse once per queued batch */
    snprintf(e->start_errmsg, sizeof e->start_errmsg, "%s", err.msg);
    uv_timer_start(&e->retry, on_start_failed, 0, 0);
  }
}

static void on_closed(uv_handle_t *h) { (void)h; }

static void close_all(kl_exporter *e) {
  if (e->closing) return;
  e->closing = true;
  if (e->call) kl_upstream_cancel(e->call);
  e->call = NULL;
  if (e->up) kl_upstream_free(e->up);
  e->up = NULL;
  uv_close((uv_handle_t *)&e->wake, on_closed);
  uv_close((uv_handle_t *)&e->tick, on_closed);
  uv_close((uv_handle_t *)&e->retry, on_closed);
  uv_close((uv_handle_t *)&e->deadline, on_closed);
}

/* Takes the next batch if one is due and sends it; closes down once stopping and drained. */
static void pump(kl_exporter *e, bool timer) {
  if (e->closing || e->nbatch) return;
  pthread_mutex_lock(&e->mu);
  bool go = e->count && (e->count >= e->batch_max || timer || e->flush_req || e->stopping);
  if (go) {
    size_t n = e->count < e->batch_max ? e->count : e->batch_max;
    for (size_t i = 0; i < n; i++) e->batch[i] = e->ring[(e->head + i) % e->cap];
    e->head = (e->head + n) % e->cap;
    e->count -= n;
    e->nbatch = n;
    e->busy = true;
  } else if (!e->count) {
    e->flush_req = false;
    pthread_cond_broadcast(&e->cv);
  }
  bool done = e->stopping && !e->count && !go;
  pthread_mutex_unlock(&e->mu);
  if (go) {
    kl_buf_reset(&e->body);
    kl_export_encode((const kl_obs *const *)e->batch, e->nbatch, e->proto, &e->enc, &e->body);
    send_batch(e);
  } else if (done) {
    close_all(e);
  }
}

static void on_tick(uv_timer_t *t) { pump(t->data, true); }

/* Shutdown deadline: whatever is still queued or in flight is given up. */
static void on_deadline(uv_timer_t *t) {
  kl_exporter *e = t->data;
  if (e->call) kl_upstream_cancel(e->call);
  e->call = NULL;
  uv_timer_stop(&e->retry);
  uint64_t lost = e->nbatch;
  for (size_t i = 0; i < e->nbatch; i++) free(e->batch[i]);
  e->nbatch = 0;
  pthread_mutex_lock(&e->mu);
  for (; e->count; e->count--, e->head = (e->head + 1) % e->cap) {
    free(e->ring[e->head]);
    lost++;
  }
  e->st.failed += lost;
  e->busy = false;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  if (lost) kl_warn("otlp export to %s: shutdown deadline reached, %llu spans not exported", e->url,
                    (unsigned long long)lost);
  close_all(e);
}

static void on_wake(uv_async_t *a) {
  kl_exporter *e = a->data;
  pthread_mutex_lock(&e->mu);
  e->wake_pending = false;
  bool stopping = e->stopping;
  pthread_mutex_unlock(&e->mu);
  if (stopping && !e->deadline_on && !e->closing) {
    e->deadline_on = true;
    uv_timer_start(&e->deadline, on_deadline, (uint64_t)e->shutdown_ms, 0);
  }
  pump(e, false);
}

static void *thread_main(void *arg) {
  kl_exporter *e = arg;
  pthread_setname_np(pthread_self(), "keel-export");
  kl_err err;
  kl_err_clear(&err);
  int rc = uv_loop_init(&e->loop);
  if (rc == 0) {
    uv_async_init(&e->loop, &e->wake, on_wake);
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_init(&e->loop, &e->retry);
    uv_timer_init(&e->loop, &e->deadline);
    e->wake.data = e->tick.data = e->retry.data = e->deadline.data = e;
    e->up = kl_upstream_new(&e->loop, &err);
    if (!e->up) close_all(e);
    else uv_timer_start(&e->tick, on_tick, (uint64_t)e->flush_ms, (uint64_t)e->flush_ms);
  } else {
    kl_err_set(&err, 500, "otlp exporter: uv_loop_init: %s", uv_strerror(rc));
  }
  pthread_mutex_lock(&e->mu);
  e->start_err = err;
  e->ready = true;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  if (rc == 0) {
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
  }
  return NULL;
}

/* ---------------- lifecycle ---------------- */

static void free_fields(kl_exporter *e) {
  free(e->url);
  for (size_t i = 0; i < e->nhdrs; i++) {
    explicit_bzero(e->hdrs[i], strlen(e->hdrs[i])); /* Authorization values */
    free(e->hdrs[i]);
  }
  free(e->hdrs);
  for (size_t i = 0; i < e->enc.nresource; i++) {
    free((char *)e->res[i].key);
    free((char *)e->res[i].value);
  }
  free(e->res);
  free(e->ring);
  free(e->batch);
  kl_buf_free(&e->body);
  kl_buf_free(&e->gz);
  kl_buf_free(&e->resp);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}

static char *xstrdup(const char *s) {
  char *r = strdup(s);
  if (!r) abort();
  return r;
}

kl_exporter *kl_exporter_new(const kl_exporter_opts *o, kl_err *err) {
  const char *url = o ? o->endpoint : NULL;
  if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
    kl_err_set(err, 400, "otlp exporter: endpoint must be an http:// or https:// URL");
    return NULL;
  }
#ifndef KEEL_HAVE_ZLIB
  if (o->gzip) {
    kl_err_set(err, 400, "otlp exporter: gzip: this keel was built without zlib");
    return NULL;
  }
#endif
  for (size_t i = 0; i < o->nheaders; i++)
    if (!o->headers[i] || !strchr(o->headers[i], ':') || strpbrk(o->headers[i], "\r\n")) {
      kl_err_set(err, 400, "otlp exporter: header %zu: expected \"Name: value\" on one line", i);
      return NULL;
    }
  kl_exporter *e = calloc(1, sizeof *e);
  if (!e) abort();
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  e->url = xstrdup(url);
  e->proto = o->protocol;
  e->gzip = o->gzip;
  e->insecure = o->insecure_tls;
  e->batch_max = o->batch_max ? o->batch_max : 512;
  e->cap = o->queue_capacity ? o->queue_capacity : 8192;
  if (e->batch_max > e->cap) e->batch_max = e->cap;
  e->flush_ms = o->flush_interval_ms > 0 ? o->flush_interval_ms : 1000;
  e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
  e->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
  e->backoff0 = o->backoff_initial_ms > 0 ? o->backoff_initial_ms : 500;
  e->backoff_max = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
  e->shutdown_ms = o->shutdown_timeout_ms > 0 ? o->shutdown_timeout_ms : 5000;
  e->hdrs = calloc(o->nheaders + 2, sizeof *e->hdrs);
  if (!e->hdrs) abort();
  e->hdrs[e->nhdrs++] = xstrdup(o->protocol == KL_EXPORT_JSON ? "Content-Type: application/json"
                                                               : "Content-Type: application/x-protobuf");
  if (o->gzip) e->hdrs[e->nhdrs++] = xstrdup("Content-Encoding: gzip");
  for (size_t i = 0; i < o->nheaders; i++) e->hdrs[e->nhdrs++] = xstrdup(o->headers[i]);
  e->res = calloc(o->nresource ? o->nresource : 1, sizeof *e->res);
  if (!e->res) abort();
  for (size_t i = 0; i < o->nresource; i++) {
    if (!o->resource[i].key || !o->resource[i].value) continue;
    e->res[e->enc.nresource].key = xstrdup(o->resource[i].key);
    e->res[e->enc.nresource++].value = xstrdup(o->resource[i].value);
  }
  e->enc.resource = e->res;
  e->enc.omit_content = o->omit_content;
  e->ring = calloc(e->cap, sizeof *e->ring);
  e->batch = calloc(e->batch_max, sizeof *e->batch);
  if (!e->ring || !e->batch) abort();
  kl_random_bytes(&e->rnd, sizeof e->rnd);
  if (pthread_create(&e->thr, NULL, thread_main, e) != 0) {
    kl_err_set(err, 500, "otlp exporter: cannot start its thread");
    free_fields(e);
    return NULL;
  }
  pthread_mutex_lock(&e->mu);
  while (!e->ready) pthread_cond_wait(&e->cv, &e->mu);
  pthread_mutex_unlock(&e->mu);
  if (!kl_err_ok(&e->start_err)) {
    if (err) *err = e->start_err;
    pthread_join(e->thr, NULL);
    free_fields(e);
    return NULL;
  }
  return e;
}

int kl_exporter_flush(kl_exporter *e, int timeout_ms) {
  if (!e) return 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&e->mu);
  e->flush_req = true;
  if (!e->stopping) uv_async_send(&e->wake);
  int rc = 0;
  while ((e->count || e->busy) && rc == 0) rc = pthread_cond_timedwait(&e->cv, &e->mu, &ts);
  bool drained = !e->count && !e->busy;
  pthread_mutex_unlock(&e->mu);
  return drained ? 0 : -1;
}

void kl_exporter_stats(kl_exporter *e, kl_export_stats *out) {
  memset(out, 0, sizeof *out);
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  *out = e->st;
  out->queue_depth = e->count;
  pthread_mutex_unlock(&e->mu);
}

void kl_exporter_free(kl_exporter *e) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stopping = true;
  uv_async_send(&e->wake);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->thr, NULL);
  for (size_t i = 0; i < e->count; i++) free(e->ring[(e->head + i) % e->cap]);
  for (size_t i = 0; i < e->nbatch; i++) free(e->batch[i]);
  free_fields(e);
}
