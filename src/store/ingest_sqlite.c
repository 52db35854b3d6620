/* ingest_sqlite.c: writing ingested records (partial observations, trace records, scores)
 * and API keys into SQLite.  Runs on the writer thread, inside write_batch's transaction.
 *
 * A partial record (see kl_obs_patch) is merged with what is stored under its key
 * (project, trace, id): the stored row is read back as a patch whose bits are its
 * ingest_set column, the two are folded with the merge function the api layer supplies
 * (kl_ingest_merge; the store cannot include the trace layer), and the result replaces the
 * row.  All of this happens in the batch's transaction, so it is atomic with the rest of the
 * batch and the event loop never waits for it: submission stays a queue push.
 *
 * Which of the two goes underneath (is applied first)?  kl_ingest_order's order: creates
 * before updates, then by envelope time.  The stored row remembers whether only updates have
 * reached it (ingest_update) and the newest envelope time applied (ingest_ns), so:
 *   - a create arriving after updates of its observation goes underneath them;
 *   - a record older than the newest one applied goes underneath (a resent batch: it
 *     changes nothing, as every field it sets was set again by something newer);
 *   - anything else goes on top.
 * Replaying a record is therefore a no-op, and in any arrival order a field set by the create
 * and by an update ends up the update's, one set by two updates the newer's.  One case is not
 * exact: an update that arrives after a NEWER update of the same observation (batches
 * delivered out of order, not retries: a retry re-applies what is already there) goes
 * underneath the create too, so the create wins the fields both set.  Exact per-field order
 * would need per-field times or a log of raw records; no SDK seen so far needs it.
 *
 * An update without a trace id is looked up by (project, id) through the partial index
 * observations_ingest_id.  When nothing is found it is kept under trace "" (an orphan, in no
 * trace aggregate) until its create arrives; the check for orphans costs a lookup per create
 * only while some orphan exists (have_orphans).
 *
 * Trace records (Langfuse trace-create, an upsert) set the `traces` row's columns and bits
 * (traces.ingest_set: those columns are then authoritative) and are copied onto the trace's
 * observations; observations written later get the missing trace fields filled in from it.
 *
 * Fast path: a create (every OTLP span) is first tried with INSERT .. ON CONFLICT DO NOTHING,
 * which both writes and tells whether the key existed, so a new span costs no lookup.  What
 * it adds to its trace is summed per batch (ingest_tagg.c) and written once per trace.
 *
 * Where the rest of a span's cost goes (perf, bench_ingest): about half the writer's time is
 * in the kernel, writing WAL frames and checkpointing.  observations is already a rowid
 * table (rows append in arrival order); its primary key is the separate, narrow
 * sqlite_autoindex_observations_1, and with OTel's random trace ids nearly every insert
 * dirties its own page of it, so each commit writes ~one 4 KiB index page per span.  No key
 * layout avoids that while lookups by (project, trace, id) must stay possible.  So the
 * writer connection gets (kl_sqlite_ingest_prepare):
 *   - cache_size 64 MiB (default 2 MiB): the random index pages stay cached instead of being
 *     pread back from the OS on the next batch (that was ~10% of the writer's time);
 *   - checkpoints every 8192 pages (32 MiB, default 1000), on their own thread since
 *     (sqlite_ckpt.c): fewer checkpoints, each writing
 *     a hot page once for many commits and paying one fsync pair (fdatasync was ~10%);
 *     journal_size_limit truncates the WAL back to 64 MiB after a checkpoint;
 *   - temp_store MEMORY: the multi-row upsert of trace sums (ingest_tagg.c) may abort half
 *     way in SQLite's eyes, so it keeps a statement journal of the pages it touches; in a
 *     temp file that was ~2.3 KB of write(2) per gateway call, in memory it is a memcpy.
 * mmap_size was measured too and did not help (reads are already cache hits). */
#include "store/sqlite_int.h"

#include <string.h>

enum {
  S_INS_NEW, S_INS, S_SEL, S_FIND, S_DEL, S_TSEL, S_TUPSERT, S_DENORM, S_SCORE, S_KEY_PROJ, S_KEY_INS, S_N
};
_Static_assert(S_N <= sizeof(((kl_sqlite *)0)->ing) / sizeof(sqlite3_stmt *), "room for the statements");

#define EXT_VALUES                                                                         \
  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,"  \
  "?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,?39,?40,?41)"
#define TRACE_EXPLICIT "name,user_id,session_id,tags,environment,release,metadata,input,output,version"

static const char *const k_sql[S_N] = {
    [S_INS_NEW] = "INSERT INTO observations(" KL_OBS_COLS "," KL_OBS_EXT_COLS ")" EXT_VALUES " ON CONFLICT DO NOTHING",
    [S_INS] = "INSERT OR REPLACE INTO observations(" KL_OBS_COLS "," KL_OBS_EXT_COLS ")" EXT_VALUES,
    [S_SEL] = "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations INDEXED BY sqlite_autoindex_observations_1"
              " WHERE project_id=?1 AND trace_id=?2 AND id=?3",
    [S_FIND] = "SELECT trace_id FROM observations WHERE project_id=?1 AND id=?2 AND ingest_ns IS NOT NULL"
               " ORDER BY trace_id='' LIMIT 1",
    [S_DEL] = "DELETE FROM observations WHERE project_id=?1 AND trace_id=?2 AND id=?3",
    [S_TSEL] = "SELECT " TRACE_EXPLICIT ",start_ns,ingest_set,ingest_ns FROM traces WHERE project_id=?1 AND id=?2",
    [S_TUPSERT] =
        "INSERT INTO traces(project_id,id," TRACE_EXPLICIT ",start_ns,ingest_set,ingest_ns)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
        " ON CONFLICT(project_id,id) DO UPDATE SET name=COALESCE(excluded.name,name),"
        " user_id=COALESCE(excluded.user_id,user_id), session_id=COALESCE(excluded.session_id,session_id),"
        " tags=COALESCE(excluded.tags,tags), environment=COALESCE(excluded.environment,environment),"
        " release=COALESCE(excluded.release,release), metadata=COALESCE(excluded.metadata,metadata),"
        " input=COALESCE(excluded.input,input), output=COALESCE(excluded.output,output),"
        " version=COALESCE(excluded.version,version),"
        " start_ns=CASE WHEN ?16 = 0 THEN start_ns WHEN observation_count = 0 THEN excluded.start_ns"
        "  ELSE MIN(start_ns, excluded.start_ns) END,"
        " ingest_set=excluded.ingest_set, ingest_ns=excluded.ingest_ns",
    [S_DENORM] = "UPDATE observations INDEXED BY sqlite_autoindex_observations_1 SET"
                 " trace_name=COALESCE(?3,trace_name), user_id=COALESCE(?4,user_id),"
                 " session_id=COALESCE(?5,session_id), tags=COALESCE(?6,tags),"
                 " environment=COALESCE(?7,environment), release=COALESCE(?8,release)"
                 " WHERE project_id=?1 AND trace_id=?2",
    [S_SCORE] = "INSERT OR REPLACE INTO scores(id,project_id,trace_id,observation_id,session_id,dataset_run_id,"
                "name,value,string_value,data_type,source,comment,config_id,environment,timestamp_ns,metadata)"
                " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    [S_KEY_PROJ] = "INSERT INTO projects(id,name,created_ns) VALUES(?1,?1,?2) ON CONFLICT DO NOTHING",
    [S_KEY_INS] = "INSERT INTO api_keys(public_key,project_id,salt,secret_hash,created_ns) VALUES(?1,?2,?3,?4,?5)",
};

static bool exists(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  bool r = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return r;
}

int kl_sqlite_ingest_prepare(kl_sqlite *q, kl_err *err) {
  for (int i = 0; i < S_N; i++) {
    int rc = sqlite3_prepare_v3(q->db, k_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->ing[i], NULL);
    if (rc != SQLITE_OK) {
      kl_sqlite_err(q->db, rc, "prepare", err);
      return -1;
    }
  }
  /* The writer connection's cache and checkpoint interval (see the top comment). */
  if (sqlite3_exec(q->db, "PRAGMA cache_size=-65536; PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY",
                   NULL, NULL, NULL) != SQLITE_OK) {
    kl_sqlite_err(q->db, SQLITE_ERROR, "writer pragmas", err);
    return -1;
  }
  if (kl_tagg_open(q, err) != 0) return -1;
  /* once per open; both scan only ingested data */
  q->have_orphans = exists(q->db, "SELECT 1 FROM observations WHERE ingest_ns IS NOT NULL AND trace_id='' LIMIT 1");
  q->have_trace_records = exists(q->db, "SELECT 1 FROM traces WHERE ingest_set IS NOT NULL LIMIT 1");
  return 0;
}

void kl_sqlite_ingest_finalize(kl_sqlite *q) {
  for (int i = 0; i < S_N; i++) sqlite3_finalize(q->ing[i]);
  memset(q->ing, 0, sizeof q->ing);
  kl_tagg_close(q);
}

static const char *proj(const char *p) { return p && *p ? p : "default"; }

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

static void col_id(char dst[KL_OBS_ID_MAX + 1], sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
  if (n > KL_OBS_ID_MAX) n = KL_OBS_ID_MAX;
  if (n) memcpy(dst, t, n);
  dst[n] = 0;
}

/* Reads the stored row (project, trace, id) as a patch.  1 found, 0 not, -1 error. */
static int load_obs(kl_sqlite *q, const char *project, const char *trace, const char *id, kl_obs_patch *out,
                    kl_err *err) {
  sqlite3_stmt *st = q->ing[S_SEL];
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, trace, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    if (rc != SQLITE_DONE) kl_sqlite_err(q->db, rc, "read observation", err);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
  }
  kl_row row = kl_sqlite_row(st);
  kl_row_obs_patch(&row, q->arena, project, out);
  sqlite3_reset(st);
  return 1;
}

/* Fills the trace-level fields the observation did not carry from the trace's record. */
static int fill_from_trace(kl_sqlite *q, kl_obs_patch *p, kl_err *err) {
  if (!q->have_trace_records || !p->obs.trace_id[0]) return 0;
  sqlite3_stmt *st = q->ing[S_TSEL];
  sqlite3_bind_text(st, 1, p->obs.project_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->obs.trace_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    kl_row row = kl_sqlite_row(st);
    kl_row_trace_fields(&row, q->arena, p);
  } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    kl_sqlite_err(q->db, rc, "read trace", err);
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  return 0;
}

static void bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v) {
  if (v) sqlite3_bind_int64(st, i, v);
  else sqlite3_bind_null(st, i);
}

/* Binds the merged record (KL_OBS_COLS then KL_OBS_EXT_COLS; every parameter, as
 * kl_sqlite_bind_obs does not clear the old bindings) and steps st. */
static int put_row(kl_sqlite *q, sqlite3_stmt *st, const kl_obs_patch *p, kl_err *err) {
  kl_sqlite_bind_obs(st, &p->obs);
  bind_text(st, 36, p->version);
  bind_text(st, 37, p->prompt_name);
  bind_i64_or_null(st, 38, p->prompt_version);
  sqlite3_bind_int64(st, 39, p->set);
  sqlite3_bind_int(st, 40, p->update ? 1 : 0);
  bind_i64_or_null(st, 41, p->received_ns);
  return kl_sqlite_step(q->db, st, "write ingested observation", err);
}

static int write_trace_record(kl_sqlite *q, const kl_obs_patch *r, kl_obs_merge_fn merge, kl_err *err);

int kl_sqlite_write_patch(kl_sqlite *q, const kl_obs_patch *in, kl_obs_merge_fn merge, kl_redo_list *redo, kl_err *err) {
  if (!merge) {
    kl_err_set(err, 500, "store: a partial record needs a merge function (kl_store_opts.merge)");
    return -1;
  }
  if (in->trace_record) return write_trace_record(q, in, merge, err);
  kl_obs_patch rec = *in;
  const char *project = proj(in->obs.project_id);
  rec.obs.project_id = project;
  if (!rec.obs.trace_id[0]) { /* an update that did not say its trace */
    sqlite3_stmt *st = q->ing[S_FIND];
    sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rec.obs.id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) col_id(rec.obs.trace_id, st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      kl_sqlite_err(q->db, rc, "find observation", err);
      return -1;
    }
  }
  bool known_trace = rec.obs.trace_id[0] != 0;

  if (!rec.update && known_trace && !q->have_orphans) { /* fast path: a new create */
    kl_obs_patch row = rec;
    if (fill_from_trace(q, &row, err) != 0) return -1;
    kl_row_patch_defaults(&row);
    if (put_row(q, q->ing[S_INS_NEW], &row, err) != 0) return -1;
    if (sqlite3_changes(q->db) == 1) {
      kl_tagg_add(q, project, &row.obs);
      return 0;
    }
  }

  kl_obs_patch cur, dst;
  int have = 0;
  bool was_orphan = false;
  if (known_trace && q->have_orphans) {
    if ((have = load_obs(q, project, "", rec.obs.id, &cur, err)) < 0) return -1;
    if (have) {
      was_orphan = true;
      sqlite3_stmt *del = q->ing[S_DEL];
      sqlite3_bind_text(del, 1, project, -1, SQLITE_STATIC);
      sqlite3_bind_text(del, 2, "", -1, SQLITE_STATIC);
      sqlite3_bind_text(del, 3, rec.obs.id, -1, SQLITE_STATIC);
      if (kl_sqlite_step(q->db, del, "adopt orphan", err) != 0) return -1;
    }
  }
  if (!have && (have = load_obs(q, project, rec.obs.trace_id, rec.obs.id, &cur, err)) < 0) return -1;
  if (!have) dst = rec;
  else kl_row_merge(&dst, &rec, &cur, merge, q->arena);
  memcpy(dst.obs.id, rec.obs.id, sizeof dst.obs.id);
  memcpy(dst.obs.trace_id, rec.obs.trace_id, sizeof dst.obs.trace_id);
  dst.obs.project_id = project;
  if (fill_from_trace(q, &dst, err) != 0) return -1;
  kl_row_patch_defaults(&dst);
  bool replaced = have && !was_orphan;
  if (put_row(q, q->ing[replaced ? S_INS : S_INS_NEW], &dst, err) != 0) return -1;
  if (!known_trace) {
    q->have_orphans = true; /* kept under trace "": no trace aggregate until its create comes */
    return 0;
  }
  if (replaced) {
    kl_redo_push(redo, project, dst.obs.trace_id);
    return 0;
  }
  kl_tagg_add(q, project, &dst.obs);
  return 0;
}

/* ---- trace records ---- */

static int write_trace_record(kl_sqlite *q, const kl_obs_patch *r, kl_obs_merge_fn merge, kl_err *err) {
  const char *project = proj(r->obs.project_id);
  /* the upsert below reads observation_count: the batch's pending spans go first */
  if (kl_tagg_flush_one(q, project, r->obs.id, err) != 0) return -1;
  sqlite3_stmt *st = q->ing[S_TSEL];
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->obs.id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    kl_sqlite_err(q->db, rc, "read trace", err);
    sqlite3_reset(st);
    return -1;
  }
  kl_obs_patch dst = *r, cur;
  kl_row row = kl_sqlite_row(st);
  if (rc == SQLITE_ROW && kl_row_trace_record(&row, q->arena, r, &cur)) kl_row_merge(&dst, r, &cur, merge, q->arena);
  sqlite3_reset(st);
  memcpy(dst.obs.id, r->obs.id, sizeof dst.obs.id);
  uint32_t set = dst.set;
  const kl_obs *o = &dst.obs;
  const char *name = (set & KL_OBS_F_TRACE_NAME) ? o->trace_name : (set & KL_OBS_F_NAME) ? o->name : NULL;
  const char *vals[10] = {
      name,
      (set & KL_OBS_F_USER) ? o->user_id : NULL,
      (set & KL_OBS_F_SESSION) ? o->session_id : NULL,
      (set & KL_OBS_F_TAGS) ? o->tags_json : NULL,
      (set & KL_OBS_F_ENVIRONMENT) ? o->environment : NULL,
      (set & KL_OBS_F_RELEASE) ? o->release : NULL,
      (set & KL_OBS_F_METADATA) ? o->metadata_json : NULL,
      (set & KL_OBS_F_INPUT) ? o->input_json : NULL,
      (set & KL_OBS_F_OUTPUT) ? o->output_json : NULL,
      (set & KL_OBS_F_VERSION) ? dst.version : NULL,
  };
  st = q->ing[S_TUPSERT];
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, o->id, -1, SQLITE_STATIC);
  for (int i = 0; i < 10; i++) bind_text(st, 3 + i, vals[i]);
  bool has_start = (set & KL_OBS_F_START) && o->start_ns > 0;
  sqlite3_bind_int64(st, 13, has_start ? o->start_ns : dst.received_ns > 0 ? dst.received_ns : kl_now_ns());
  sqlite3_bind_int64(st, 14, set); /* ingest_set: the bits given */
  if (dst.received_ns) sqlite3_bind_int64(st, 15, dst.received_ns);
  sqlite3_bind_int(st, 16, has_start);
  if (kl_sqlite_step(q->db, st, "upsert trace", err) != 0) return -1;
  q->have_trace_records = true;
  /* copy the trace's fields onto the observations it already has */
  st = q->ing[S_DENORM];
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, o->id, -1, SQLITE_STATIC);
  for (int i = 0; i < 6; i++) bind_text(st, 3 + i, vals[i]);
  return kl_sqlite_step(q->db, st, "copy trace fields", err);
}

/* ---- scores ---- */

static void bind_id(sqlite3_stmt *st, int i, const char *id) {
  if (id[0]) sqlite3_bind_text(st, i, id, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

int kl_sqlite_write_score(kl_sqlite *q, const kl_score *sc, kl_err *err) {
  sqlite3_stmt *st = q->ing[S_SCORE];
  sqlite3_clear_bindings(st);
  bind_id(st, 1, sc->id);
  sqlite3_bind_text(st, 2, proj(sc->project_id), -1, SQLITE_STATIC);
  bind_id(st, 3, sc->trace_id);
  bind_id(st, 4, sc->observation_id);
  bind_id(st, 5, sc->session_id);
  bind_id(st, 6, sc->dataset_run_id);
  bind_text(st, 7, sc->name ? sc->name : "");
  const char *dt = sc->data_type ? sc->data_type : "NUMERIC";
  if (!strcmp(dt, "NUMERIC") || !strcmp(dt, "BOOLEAN")) sqlite3_bind_double(st, 8, sc->value);
  bind_text(st, 9, sc->string_value);
  bind_text(st, 10, dt);
  bind_text(st, 11, sc->source ? sc->source : "API");
  bind_text(st, 12, sc->comment);
  bind_text(st, 13, sc->config_id);
  bind_text(st, 14, sc->environment);
  sqlite3_bind_int64(st, 15, sc->timestamp_ns ? sc->timestamp_ns : kl_now_ns());
  bind_text(st, 16, sc->metadata_json);
  return kl_sqlite_step(q->db, st, "write score", err);
}

/* ---- keys (a backend opened for this alone: nothing else uses q->db) ---- */

int kl_sqlite_key_create(void *be, const char *project, const kl_store_key *k, kl_err *err) {
  kl_sqlite *q = be;
  int64_t now = kl_now_ns();
  if (kl_sqlite_step(q->db, q->begin, "begin", err) != 0) return -1;
  sqlite3_stmt *st = q->ing[S_KEY_PROJ];
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  if (kl_sqlite_step(q->db, st, "create project", err) != 0) goto fail;
  st = q->ing[S_KEY_INS];
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, k->public_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, project, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, k->salt, KL_KEY_SALT_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, k->hash, KL_KEY_HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  if (kl_sqlite_step(q->db, st, "create key", err) != 0) goto fail;
  if (kl_sqlite_step(q->db, q->commit, "commit", err) != 0) goto fail;
  return 0;
fail:
  sqlite3_step(q->rollback);
  sqlite3_reset(q->rollback);
  return -1;
}
