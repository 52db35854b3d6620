/* ingest_read.c: reads added for ingestion: one observation by id, one score by id, a
 * trace's scores, and API keys.  Same rules as sqlite_read.c: pooled read-only connections,
 * statements prepared once per connection, JSON out.
 *
 * An observation is found by (project, id) through the partial index observations_ingest_id,
 * i.e. among observations from Langfuse envelopes; keel's own observations and OTLP spans
 * (not indexed by id alone, to keep those write paths cheap) are read through their trace. */
#include "store/sqlite_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_COLS KL_SCORE_COLS

void kl_sqlite_ingest_rconn_close(kl_rconn *c) {
  sqlite3_finalize(c->one_obs);
  sqlite3_finalize(c->score);
  sqlite3_finalize(c->trace_scores);
  sqlite3_finalize(c->key);
}

int kl_sqlite_trace_scores(kl_rconn *c, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err) {
  if (kl_rconn_prep(c, &c->trace_scores,
                "SELECT " SCORE_COLS " FROM scores WHERE project_id=?1 AND trace_id=?2 ORDER BY timestamp_ns, id", err))
    return -1;
  sqlite3_stmt *st = c->trace_scores;
  sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, trace_id, -1, SQLITE_STATIC);
  kl_buf_putc(out, '[');
  int rc, n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n++) kl_buf_putc(out, ',');
    kl_sqlite_put_score(out, st);
  }
  kl_buf_putc(out, ']');
  if (rc != SQLITE_DONE) kl_sqlite_err(c->db, rc, "read scores", err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

typedef void (*put_fn)(kl_buf *b, sqlite3_stmt *st);
static void put_obs_ext(kl_buf *b, sqlite3_stmt *st) { kl_sqlite_put_obs(b, st, true); }

/* Runs a one-row statement bound to (a, b) and writes its row with put; 404 `what` when none. */
static int one_row(kl_sqlite *q, int which, const char *sql, const char *a, const char *b, put_fn put,
                   const char *what, kl_buf *out, kl_err *err) {
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  sqlite3_stmt **slot = which == 0 ? &c->one_obs : &c->score;
  int ret = -1;
  if (kl_rconn_prep(c, slot, sql, err) == 0) {
    sqlite3_stmt *st = *slot;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      put(out, st);
      ret = 0;
    } else if (rc == SQLITE_DONE) {
      kl_err_set(err, 404, "%s %.80s not found", what, b);
    } else {
      kl_sqlite_err(c->db, rc, what, err);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  kl_sqlite_release(q, c);
  return ret;
}

int kl_sqlite_get_observation(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return one_row(be, 0,
                 "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations INDEXED BY observations_ingest_id"
                 " WHERE project_id=?1 AND id=?2 AND ingest_ns IS NOT NULL ORDER BY trace_id='' LIMIT 1",
                 project_id, id, put_obs_ext, "observation", out, err);
}

int kl_sqlite_get_score(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return one_row(be, 1, "SELECT " SCORE_COLS " FROM scores WHERE project_id=?1 AND id=?2", project_id, id, kl_sqlite_put_score,
                 "score", out, err);
}

int kl_sqlite_key_get(void *be, const char *public_key, kl_store_key *out, kl_err *err) {
  kl_sqlite *q = be;
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  int ret = -1;
  if (kl_rconn_prep(c, &c->key, "SELECT project_id,salt,secret_hash,created_ns FROM api_keys WHERE public_key=?1", err) ==
      0) {
    sqlite3_stmt *st = c->key;
    sqlite3_bind_text(st, 1, public_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == KL_KEY_SALT_LEN &&
        sqlite3_column_bytes(st, 2) == KL_KEY_HASH_LEN) {
      memset(out, 0, sizeof *out);
      snprintf(out->public_key, sizeof out->public_key, "%s", public_key);
      snprintf(out->project_id, sizeof out->project_id, "%s", (const char *)sqlite3_column_text(st, 0));
      memcpy(out->salt, sqlite3_column_blob(st, 1), KL_KEY_SALT_LEN);
      memcpy(out->hash, sqlite3_column_blob(st, 2), KL_KEY_HASH_LEN);
      out->created_ns = sqlite3_column_int64(st, 3);
      ret = 0;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
      kl_err_set(err, 404, "unknown public key");
    } else {
      kl_sqlite_err(c->db, rc, "read key", err);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  kl_sqlite_release(q, c);
  return ret;
}
