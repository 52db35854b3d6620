/* pg_admin.c: the PostgreSQL backend's retention pass and API keys (the writer's
 * connection; see backend.h for both contracts).
 *
 * Retention deletes, in one transaction, at most max_rows observations that started before
 * the cutoff, recomputes the traces they belonged to (under each trace's advisory lock, so a
 * second keel writing the same trace meanwhile is not lost; an emptied trace is dropped),
 * then at most max_rows traces that started before the cutoff and have no observations left,
 * then at most max_rows old scores.  Several instances may run it at once: each deletes what
 * it finds, and a row another one deleted first is simply not there. */
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t deleted_rows(PGresult *r) { return strtoll(PQcmdTuples(r), NULL, 10); }

int kl_pg_expire(void *be, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err) {
  kl_pgw *w = be;
  *deleted = 0;
  *more = false;
  if (max_rows <= 0) max_rows = 1000;
  if (!w->p.w || PQstatus(w->p.w) != CONNECTION_OK) {
    kl_pg_err(w->p.w, NULL, "expire", err);
    return -1;
  }
  kl_arena *a = w->p.arena;
  kl_pg_params ps = {.a = a};
  kl_pg_p_i64(&ps, cutoff_ns);
  kl_pg_p_i64(&ps, max_rows);
  int64_t total = 0, dropped = 0;
  PGresult *r = NULL;
  if (kl_pg_run(w->p.w, "BEGIN", NULL, err) != 0) goto fail;
  r = kl_pg_exec(w->p.w,
                 "WITH d AS (DELETE FROM observations WHERE ctid IN (SELECT ctid FROM observations"
                 " WHERE start_ns < $1::bigint LIMIT $2::bigint) RETURNING project_id, trace_id)"
                 " SELECT project_id, trace_id, count(*) FROM d GROUP BY 1, 2 ORDER BY 1, 2",
                 &ps, err);
  if (!r) goto fail;
  int64_t nobs = 0;
  for (int i = 0; i < PQntuples(r); i++) {
    nobs += kl_pg_i64(r, i, 2);
    const char *p = PQgetvalue(r, i, 0), *t = PQgetvalue(r, i, 1);
    if (!*t) continue; /* orphans are in no trace */
    if (kl_pg_lock_trace(w, p, t, err) != 0 || kl_pg_recompute(w, p, t, &dropped, err) != 0) goto fail;
  }
  PQclear(r);
  r = NULL;
  if (nobs >= max_rows) *more = true;
  total = nobs + dropped;
  const char *const sql[2] = {
      "DELETE FROM traces WHERE ctid IN (SELECT ctid FROM traces t WHERE start_ns < $1::bigint AND NOT EXISTS"
      " (SELECT 1 FROM observations o WHERE o.project_id=t.project_id AND o.trace_id=t.id) LIMIT $2::bigint)",
      "DELETE FROM scores WHERE ctid IN (SELECT ctid FROM scores WHERE timestamp_ns < $1::bigint LIMIT $2::bigint)",
  };
  for (int i = 0; i < 2; i++) {
    if (!(r = kl_pg_exec(w->p.w, sql[i], &ps, err))) goto fail;
    int64_t n = deleted_rows(r);
    PQclear(r);
    r = NULL;
    if (n >= max_rows) *more = true;
    total += n;
  }
  if (kl_pg_run(w->p.w, "COMMIT", NULL, err) != 0) goto fail;
  kl_arena_reset(a);
  *deleted = (uint64_t)total;
  return 0;
fail:
  PQclear(r);
  kl_arena_reset(a);
  *more = false;
  if (PQtransactionStatus(w->p.w) != PQTRANS_IDLE) kl_pg_run(w->p.w, "ROLLBACK", NULL, NULL);
  return -1;
}

/* ---- keys ---- */

static char *hex(kl_arena *a, const unsigned char *v, size_t n) {
  char *s = kl_arena_alloc(a, 2 * n + 3);
  s[0] = '\\', s[1] = 'x';
  for (size_t i = 0; i < n; i++) snprintf(s + 2 + 2 * i, 3, "%02x", v[i]);
  return s;
}

int kl_pg_key_create(void *be, const char *project, const kl_store_key *k, kl_err *err) {
  kl_pgw *w = be;
  kl_arena *a = w->p.arena;
  kl_pg_params ps = {.a = a};
  kl_pg_p_text(&ps, project);
  kl_pg_p_i64(&ps, kl_now_ns());
  kl_pg_p_text(&ps, k->public_key);
  kl_pg_p_text(&ps, hex(a, k->salt, KL_KEY_SALT_LEN));
  kl_pg_p_text(&ps, hex(a, k->hash, KL_KEY_HASH_LEN));
  kl_pg_params p2 = {.n = 2, .v = {ps.v[0], ps.v[1]}};
  kl_pg_params p3 = {.n = 5, .v = {ps.v[2], ps.v[0], ps.v[3], ps.v[4], ps.v[1]}};
  int rc = -1;
  if (kl_pg_run(w->p.w, "BEGIN", NULL, err) == 0 &&
      kl_pg_run(w->p.w, "INSERT INTO projects(id,name,created_ns) VALUES($1,$1,$2::bigint) ON CONFLICT DO NOTHING",
                &p2, err) == 0 &&
      kl_pg_run(w->p.w,
                "INSERT INTO api_keys(public_key,project_id,salt,secret_hash,created_ns)"
                " VALUES($1,$2,$3::bytea,$4::bytea,$5::bigint)",
                &p3, err) == 0)
    rc = kl_pg_run(w->p.w, "COMMIT", NULL, err);
  if (rc != 0 && PQtransactionStatus(w->p.w) != PQTRANS_IDLE) kl_pg_run(w->p.w, "ROLLBACK", NULL, NULL);
  kl_arena_reset(a);
  return rc;
}

static int unhex(const char *s, unsigned char *out, size_t n) {
  if (s[0] != '\\' || s[1] != 'x' || strlen(s + 2) != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (unsigned char)v;
  }
  return 0;
}

int kl_pg_key_get(void *be, const char *public_key, kl_store_key *out, kl_err *err) {
  kl_pg *p = be;
  kl_pgconn *c = kl_pg_acquire(p, err);
  if (!c) return -1;
  kl_pg_params ps = {.n = 1, .v = {public_key}};
  PGresult *r =
      kl_pg_exec(c->c, "SELECT project_id,salt,secret_hash,created_ns FROM api_keys WHERE public_key=$1", &ps, err);
  int ret = -1;
  if (r) {
    memset(out, 0, sizeof *out);
    if (PQntuples(r) == 1 && unhex(PQgetvalue(r, 0, 1), out->salt, KL_KEY_SALT_LEN) == 0 &&
        unhex(PQgetvalue(r, 0, 2), out->hash, KL_KEY_HASH_LEN) == 0) {
      snprintf(out->public_key, sizeof out->public_key, "%s", public_key);
      snprintf(out->project_id, sizeof out->project_id, "%s", PQgetvalue(r, 0, 0));
      out->created_ns = kl_pg_i64(r, 0, 3);
      ret = 0;
    } else {
      kl_err_set(err, 404, "unknown public key");
    }
    PQclear(r);
  }
  kl_pg_release(p, c);
  return ret;
}
