/* store.c: the public kl_store API.
 *
 * Owns the pieces and the order they start and stop in: data_dir, backend (create and
 * migrate), spill replay (before the writer exists, so replay never races live writes),
 * then the writer.  Submit/flush/stats live here because they are the queue's interface;
 * the writer's side of the queue is writer.c.  Reads go straight to the backend on the
 * caller's thread.
 *
 * Durability in one paragraph (docs/ARCHITECTURE.md, "What survives a crash"): after a
 * kill -9, every committed batch and every fully written spill-file line survive; the
 * observations still in the in-memory queue (about flush_interval_ms of traffic, more if
 * the writer was behind) are lost.  Spilled observations reach the database at the next
 * kl_store_open, not before: kl_store_flush waits for the queue only. */
#include "store/store_int.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_QUEUE 65536
#define DEFAULT_BATCH 2048
#define DEFAULT_FLUSH_MS 50

/* mkdir -p */
static int mkdirs(const char *path, kl_err *err) {
  size_t n = strlen(path);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != 0) continue;
    char c = p[i];
    p[i] = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      kl_err_set(err, 500, "store: cannot create directory %s: %s", p, strerror(errno));
      free(p);
      return -1;
    }
    p[i] = c;
  }
  free(p);
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    kl_err_set(err, 500, "store: %s is not a directory", path);
    return -1;
  }
  return 0;
}

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) abort();
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

/* "sqlite" (also NULL / ""), "postgres" or "postgresql"; NULL + 400 otherwise. */
static const kl_backend_vt *kl_store_backend(const char *name, kl_err *err) {
  if (!name || !*name || strcmp(name, "sqlite") == 0) return &kl_backend_sqlite;
  if (strcmp(name, "postgres") == 0 || strcmp(name, "postgresql") == 0) return &kl_backend_postgres;
  kl_err_set(err, 400, "store: unknown backend \"%s\" (supported: sqlite, postgres)", name);
  return NULL;
}

kl_store *kl_store_open(const kl_store_opts *opts, kl_err *err) {
  kl_store_opts o = opts ? *opts : (kl_store_opts){0};
  if (!o.backend || !*o.backend) o.backend = "sqlite";
  if (!o.data_dir || !*o.data_dir) o.data_dir = "./keel-data";
  if (!o.queue_capacity) o.queue_capacity = DEFAULT_QUEUE;
  if (!o.batch_max) o.batch_max = DEFAULT_BATCH;
  if (o.flush_interval_ms <= 0) o.flush_interval_ms = DEFAULT_FLUSH_MS;
  const kl_backend_vt *vt = kl_store_backend(o.backend, err);
  if (!vt) return NULL;
  if (mkdirs(o.data_dir, err) != 0) return NULL;

  kl_store *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->vt = vt;
  s->dir = strdup(o.data_dir);
  if (!s->dir) abort();
  s->spill_path = path_join(o.data_dir, "spill.jsonl");
  s->drain_path = path_join(o.data_dir, "spill.draining.jsonl");
  o.data_dir = s->dir;
  o.backend = vt->name;
  s->opts = o;
  s->spill_fd = -1;
  s->cap = o.queue_capacity;
  s->ring = calloc(s->cap, sizeof *s->ring);
  if (!s->ring) abort();
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->spill_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_cond_init(&s->wake, &ca);
  pthread_cond_init(&s->done, &ca);
  pthread_condattr_destroy(&ca);

  s->be = vt->open(&s->opts, err);
  if (!s->be) goto fail;
  if (vt->set_fulltext(s->be, o.fulltext != KL_FULLTEXT_OFF, err) != 0) goto fail;
  s->next_expire_ns = kl_mono_ns(); /* the first retention pass runs at once */
  kl_err rerr;
  kl_err_clear(&rerr);
  if (kl_spill_replay(s, &rerr) != 0) /* not fatal: the file is kept, new spills append to it */
    kl_warn("store: %s", rerr.msg);
  if (kl_writer_start(s, err) != 0) goto fail;
  return s;
fail:
  kl_store_close(s);
  return NULL;
}

void kl_store_close(kl_store *s) {
  if (!s) return;
  kl_writer_stop(s); /* drains the queue first */
  /* Only reachable if the writer never started: nothing may stay in memory unsaved. */
  if (s->count > 0) {
    kl_rec **tmp = malloc(s->count * sizeof *tmp);
    if (!tmp) abort();
    for (size_t i = 0; i < s->count; i++) tmp[i] = s->ring[(s->head + i) % s->cap];
    kl_err e;
    kl_err_clear(&e);
    if (kl_spill_append(s, tmp, s->count, &e) != 0) kl_error("store: LOST %zu observations: %s", s->count, e.msg);
    for (size_t i = 0; i < s->count; i++) kl_rec_free(tmp[i]);
    free(tmp);
    s->count = 0;
  }
  if (s->be) s->vt->close(s->be);
  kl_spill_close(s);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->spill_mu);
  free(s->ring);
  free(s->dir);
  free(s->spill_path);
  free(s->drain_path);
  free(s);
}

int kl_store_submit(kl_store *s, const kl_obs *obs, kl_err *err) {
  if (!s || !obs) {
    kl_err_set(err, 400, "store: NULL store or observation");
    return -1;
  }
  if (!obs->id[0] || !obs->trace_id[0]) {
    kl_err_set(err, 400, "store: observation without id or trace_id");
    return -1;
  }
  return kl_store_enqueue(s, kl_rec_from_obs(obs), err); /* the copy is made outside the lock */
}

int kl_store_submit_patch(kl_store *s, const kl_obs_patch *p, kl_err *err) {
  if (!s || !p) {
    kl_err_set(err, 400, "store: NULL store or record");
    return -1;
  }
  if (!s->opts.merge) {
    kl_err_set(err, 500, "store: opened without a merge function; cannot take partial records");
    return -1;
  }
  if (!p->obs.id[0] || (!p->obs.trace_id[0] && (!p->update || p->trace_record))) {
    kl_err_set(err, 400, "store: record without id or trace_id");
    return -1;
  }
  return kl_store_enqueue(s, kl_rec_from_patch(p), err);
}

int kl_store_submit_score(kl_store *s, const kl_score *sc, kl_err *err) {
  if (!s || !sc) {
    kl_err_set(err, 400, "store: NULL store or score");
    return -1;
  }
  if (!sc->id[0] || !sc->name || !*sc->name) {
    kl_err_set(err, 400, "store: score without id or name");
    return -1;
  }
  return kl_store_enqueue(s, kl_rec_from_score(sc), err);
}

int kl_store_enqueue(kl_store *s, kl_rec *c, kl_err *err) {
  pthread_mutex_lock(&s->mu);
  if (s->stop) {
    pthread_mutex_unlock(&s->mu);
    kl_rec_free(c);
    kl_err_set(err, 503, "store: closing");
    return -1;
  }
  if (s->count < s->cap) {
    s->ring[(s->head + s->count) % s->cap] = c;
    s->count++;
    s->enq_seq++;
    s->submitted++;
    /* Wake the writer only for a full batch; otherwise it collects for up to flush_interval_ms.
     * Committing every observation on its own costs a WAL write of each touched page per row. */
    if (s->writer_idle && s->count >= s->opts.batch_max) pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    return 0;
  }
  pthread_mutex_unlock(&s->mu);
  /* Queue full: the writer is behind.  Append to the spill file rather than block the
   * caller (an event loop) or drop the record. */
  int rc = kl_spill_append(s, &c, 1, err);
  kl_rec_free(c);
  if (rc == 0) {
    pthread_mutex_lock(&s->mu);
    s->submitted++;
    pthread_mutex_unlock(&s->mu);
  }
  return rc;
}

void kl_store_flush(kl_store *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  uint64_t target = s->enq_seq;
  s->flush_waiters++;
  pthread_cond_signal(&s->wake);
  while (s->committed_seq < target && s->writer_running) pthread_cond_wait(&s->done, &s->mu);
  s->flush_waiters--;
  pthread_mutex_unlock(&s->mu);
}

void kl_store_get_stats(kl_store *s, kl_store_stats *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  out->submitted = s->submitted;
  out->written = s->written;
  out->replayed = s->replayed;
  out->write_errors = s->write_errors;
  out->queue_depth = s->count;
  out->batches = s->batches;
  out->expired = s->expired;
  out->expire_batches = s->expire_batches;
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_lock(&s->spill_mu);
  out->spilled = s->spilled;
  pthread_mutex_unlock(&s->spill_mu);
}

/* The list filters' checks that do not depend on the backend (both answer the same 400s);
 * the cursor, the limit, tags and q are checked where they are parsed. */
static int check_list_filter(const kl_trace_filter *f, bool traces, kl_err *err) {
  static const struct { unsigned bit; const char *name; size_t off; } r[] = {
      {KL_RANGE_MIN_COST, "min_cost", offsetof(kl_trace_filter, min_cost)},
      {KL_RANGE_MAX_COST, "max_cost", offsetof(kl_trace_filter, max_cost)},
      {KL_RANGE_MIN_LATENCY, "min_latency_ms", offsetof(kl_trace_filter, min_latency_ms)},
      {KL_RANGE_MAX_LATENCY, "max_latency_ms", offsetof(kl_trace_filter, max_latency_ms)},
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
    double v = *(const double *)((const char *)f + r[i].off);
    if ((f->ranges & r[i].bit) && (!isfinite(v) || v < 0 || v > 1e12)) {
      kl_err_set(err, 400, "%s: expected a non-negative number", r[i].name);
      return -1;
    }
  }
  if (traces && f->status && *f->status && strcmp(f->status, "ok") && strcmp(f->status, "error")) {
    kl_err_set(err, 400, "status: expected ok or error");
    return -1;
  }
  const char *l = f->level;
  if (l && *l && strcmp(l, "DEBUG") && strcmp(l, "DEFAULT") && strcmp(l, "WARNING") && strcmp(l, "ERROR")) {
    kl_err_set(err, 400, "level: expected DEBUG, DEFAULT, WARNING or ERROR");
    return -1;
  }
  return 0;
}

int kl_store_list_traces(kl_store *s, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  if (!s || !out) {
    kl_err_set(err, 400, "store: NULL argument");
    return -1;
  }
  kl_trace_filter none = {0};
  if (!f) f = &none;
  if (check_list_filter(f, true, err) != 0) return -1;
  return s->vt->list_traces(s->be, f, out, err);
}

int kl_store_get_trace(kl_store *s, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err) {
  if (!s || !out || !trace_id) {
    kl_err_set(err, 400, "store: NULL argument");
    return -1;
  }
  return s->vt->get_trace(s->be, project_id && *project_id ? project_id : "default", trace_id, out, err);
}

int kl_store_get_observation(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return kl_store_find_observation(s, project_id, NULL, id, out, err);
}

int kl_store_find_observation(kl_store *s, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                              kl_err *err) {
  if (!s || !out || !id) {
    kl_err_set(err, 400, "store: NULL argument");
    return -1;
  }
  return s->vt->find_observation(s->be, project_id && *project_id ? project_id : "default", trace_id, id, out, err);
}

/* ---- the query API (issue 5): argument checks, then the backend ---- */

#define CHECK(s, f, out)                            \
  do {                                              \
    if (!(s) || !(f) || !(out)) {                   \
      kl_err_set(err, 400, "store: NULL argument"); \
      return -1;                                    \
    }                                               \
  } while (0)

int kl_store_list_observations(kl_store *s, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  CHECK(s, f, out);
  if (check_list_filter(f, false, err) != 0) return -1;
  return s->vt->list_observations(s->be, f, out, err);
}

/* v in any case -> its upper-case name from names (into buf); "" or NULL stays NULL. */
static int score_enum(const char *v, const char *const *names, char *buf, size_t cap, const char **out) {
  *out = NULL;
  if (!v || !*v) return 0;
  size_t n = strlen(v);
  if (n >= cap) return -1;
  for (size_t i = 0; i <= n; i++) buf[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
  for (; *names; names++)
    if (!strcmp(buf, *names)) return *out = buf, 0;
  return -1;
}

int kl_store_list_scores(kl_store *s, const kl_score_filter *f, kl_buf *out, kl_err *err) {
  CHECK(s, f, out);
  static const char *const sources[] = {"API", "EVAL", "ANNOTATION", NULL};
  static const char *const types[] = {"NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT", NULL};
  char src[16], dt[16];
  kl_score_filter g = *f;
  if (score_enum(f->source, sources, src, sizeof src, &g.source) != 0) {
    kl_err_set(err, 400, "source: expected api, eval or annotation");
    return -1;
  }
  if (score_enum(f->data_type, types, dt, sizeof dt, &g.data_type) != 0) {
    kl_err_set(err, 400, "data_type: expected NUMERIC, BOOLEAN, CATEGORICAL or TEXT");
    return -1;
  }
  return s->vt->list_scores(s->be, &g, out, err);
}

int kl_store_list_sessions(kl_store *s, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  CHECK(s, f, out);
  return s->vt->list_sessions(s->be, f, out, err);
}

int kl_store_get_session(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  CHECK(s, id, out);
  return s->vt->get_session(s->be, project_id, id, out, err);
}

int kl_store_list_users(kl_store *s, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  CHECK(s, f, out);
  return s->vt->list_users(s->be, f, out, err);
}

int kl_store_get_user(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  CHECK(s, id, out);
  return s->vt->get_user(s->be, project_id, id, out, err);
}

int kl_store_metrics(kl_store *s, const kl_metrics_filter *f, kl_buf *out, kl_err *err) {
  CHECK(s, f, out);
  if ((unsigned)f->group_by > KL_GROUP_NAME) {
    kl_err_set(err, 400, "group_by: expected model, user, tag, name or none");
    return -1;
  }
  if ((unsigned)f->bucket > KL_BUCKET_DAY) {
    kl_err_set(err, 400, "bucket: expected minute, hour, day or none");
    return -1;
  }
  return s->vt->metrics(s->be, f, out, err);
}

int kl_store_get_score(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  if (!s || !out || !id) {
    kl_err_set(err, 400, "store: NULL argument");
    return -1;
  }
  return s->vt->get_score(s->be, project_id && *project_id ? project_id : "default", id, out, err);
}

int kl_store_key_get(kl_store *s, const char *public_key, kl_store_key *out, kl_err *err) {
  if (!s || !public_key || !out) {
    kl_err_set(err, 400, "store: NULL argument");
    return -1;
  }
  return s->vt->key_get(s->be, public_key, out, err);
}

int kl_store_key_create(const kl_store_opts *opts, const char *project, const kl_store_key *k, kl_err *err) {
  kl_store_opts o = opts ? *opts : (kl_store_opts){0};
  if (!o.data_dir || !*o.data_dir) o.data_dir = "./keel-data";
  const kl_backend_vt *vt = kl_store_backend(o.backend, err);
  if (!vt) return -1;
  if (!project || !*project || strlen(project) > KL_OBS_ID_MAX || !k || !k->public_key[0]) {
    kl_err_set(err, 400, "store: a key needs a project name (1..%d bytes) and a public key", KL_OBS_ID_MAX);
    return -1;
  }
  if (mkdirs(o.data_dir, err) != 0) return -1;
  void *be = vt->open(&o, err);
  if (!be) return -1;
  int rc = vt->key_create(be, project, k, err);
  vt->close(be);
  return rc;
}
