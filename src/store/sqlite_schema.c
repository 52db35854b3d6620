/* sqlite_schema.c: versioned schema migrations for the SQLite backend.
 *
 * k_migrations is append-only: entry i is schema version i+1.  schema_migrations records
 * what has been applied; each pending entry runs in its own transaction together with its
 * bookkeeping row, so a crash mid-migration leaves the database at the previous version
 * and the migration simply runs again at the next open.  Never edit a shipped entry: add
 * a new one.
 *
 * Column conventions (what the writer stores): absent values are NULL, including
 * end_ns/completion_start_ns/http_status when 0 and cost_usd when unknown (< 0), so
 * SUM/MAX skip them naturally; JSON fields are stored as the JSON text given.  traces is
 * derived data (a cache over observations, maintained by the writer): it could always be
 * rebuilt from observations, except what a trace record (Langfuse trace-create) set: those
 * columns have a bit in traces.ingest_set and are authoritative.  traces.model_start_ns is
 * internal: the start of the generation whose model the trace shows ("the first
 * generation"). */
#include "store/sqlite_int.h"

#include <stdio.h>

static const char *const k_migrations[] = {
    /* 1: observations, traces, scores */
    "CREATE TABLE observations ("
    " project_id TEXT NOT NULL, id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_id TEXT,"
    " type TEXT, name TEXT, level TEXT NOT NULL DEFAULT 'DEFAULT', status_message TEXT,"
    " http_status INTEGER, start_ns INTEGER NOT NULL, end_ns INTEGER, completion_start_ns INTEGER,"
    " model TEXT, provider TEXT, upstream_model TEXT, model_params TEXT,"
    " input TEXT, output TEXT, metadata TEXT, finish_reason TEXT,"
    " usage_input INTEGER NOT NULL DEFAULT 0, usage_input_cached INTEGER NOT NULL DEFAULT 0,"
    " usage_input_cache_write INTEGER NOT NULL DEFAULT 0, usage_output INTEGER NOT NULL DEFAULT 0,"
    " usage_output_reasoning INTEGER NOT NULL DEFAULT 0, usage TEXT,"
    " usage_estimated INTEGER NOT NULL DEFAULT 0, cost_usd REAL, cost TEXT,"
    " trace_name TEXT, user_id TEXT, session_id TEXT, tags TEXT, environment TEXT, release TEXT,"
    /* Keyed by trace first: keel's trace ids lead with the time, so this index (the only
     * one that finds a trace's observations) grows append-mostly.  Keyed by the span id
     * alone, every insert landed on a random page: bench_store with real ids committed
     * 45.6k rows/s against 87.9k with ordered keys.  An observation id is unique within
     * its trace. */
    " PRIMARY KEY (project_id, trace_id, id));"
    "CREATE INDEX observations_start ON observations(project_id, start_ns);"
    "CREATE TABLE traces ("
    " project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT, user_id TEXT, session_id TEXT,"
    " tags TEXT, environment TEXT, release TEXT, model TEXT, model_start_ns INTEGER,"
    " start_ns INTEGER NOT NULL, end_ns INTEGER,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL, observation_count INTEGER NOT NULL DEFAULT 0,"
    " error_count INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (project_id, id));"
    /* id is part of every listing index so (start_ns DESC, id DESC) pages need no sort; the
     * filter indexes are partial (a filter "x = ?" implies x IS NOT NULL, so SQLite still
     * uses them) and cost nothing for traces without a user, session or model */
    "CREATE INDEX traces_start ON traces(project_id, start_ns DESC, id DESC);"
    "CREATE INDEX traces_user ON traces(project_id, user_id, start_ns, id) WHERE user_id IS NOT NULL;"
    "CREATE INDEX traces_session ON traces(project_id, session_id, start_ns, id) WHERE session_id IS NOT NULL;"
    "CREATE INDEX traces_model ON traces(project_id, model, start_ns, id) WHERE model IS NOT NULL;"
    "CREATE TABLE scores ("
    " id TEXT NOT NULL, project_id TEXT NOT NULL, trace_id TEXT, observation_id TEXT,"
    " session_id TEXT, name TEXT NOT NULL, value REAL, string_value TEXT,"
    " data_type TEXT NOT NULL DEFAULT 'NUMERIC', source TEXT NOT NULL DEFAULT 'API',"
    " comment TEXT, timestamp_ns INTEGER NOT NULL, metadata TEXT,"
    " PRIMARY KEY (project_id, id));"
    "CREATE INDEX scores_trace ON scores(project_id, trace_id);"
    "CREATE INDEX scores_session ON scores(project_id, session_id);",
    /* 2: ingestion from other SDKs (Langfuse, OpenTelemetry): projects and API keys, the
     * fields Langfuse records that keel's own traces lack, and the state partial records
     * need.  ingest_set is NULL for keel's own (complete) rows and holds the KL_OBS_F_* bits
     * of an ingested row, so a merge knows which stored fields the senders actually gave;
     * ingest_update = 1 while only updates (no create) have arrived; ingest_ns = newest
     * envelope time applied (NULL for OTLP spans, which have no envelope).  The id index is
     * partial: only rows from Langfuse envelopes can be addressed by id alone (an update
     * without a trace id), so neither keel's own writes nor OTLP spans pay for a random-key
     * index (bench_ingest: indexing every span cost 2.4x in spans/s). */
    "CREATE TABLE projects ("
    " id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL);"
    "INSERT INTO projects(id, name, created_ns) VALUES('default', 'default', CAST(strftime('%s','now') AS INTEGER) * 1000000000);"
    "CREATE TABLE api_keys ("
    " public_key TEXT NOT NULL PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),"
    " salt BLOB NOT NULL, secret_hash BLOB NOT NULL, hash_alg TEXT NOT NULL DEFAULT 'sha256(salt||secret)',"
    " created_ns INTEGER NOT NULL);"
    "CREATE INDEX api_keys_project ON api_keys(project_id);"
    "ALTER TABLE observations ADD COLUMN version TEXT;"
    "ALTER TABLE observations ADD COLUMN prompt_name TEXT;"
    "ALTER TABLE observations ADD COLUMN prompt_version INTEGER;"
    "ALTER TABLE observations ADD COLUMN ingest_set INTEGER;"
    "ALTER TABLE observations ADD COLUMN ingest_update INTEGER;"
    "ALTER TABLE observations ADD COLUMN ingest_ns INTEGER;"
    "CREATE INDEX observations_ingest_id ON observations(project_id, id) WHERE ingest_ns IS NOT NULL;"
    "ALTER TABLE traces ADD COLUMN input TEXT;"
    "ALTER TABLE traces ADD COLUMN output TEXT;"
    "ALTER TABLE traces ADD COLUMN metadata TEXT;"
    "ALTER TABLE traces ADD COLUMN version TEXT;"
    "ALTER TABLE traces ADD COLUMN ingest_set INTEGER;"
    "ALTER TABLE traces ADD COLUMN ingest_ns INTEGER;"
    "ALTER TABLE scores ADD COLUMN dataset_run_id TEXT;"
    "ALTER TABLE scores ADD COLUMN config_id TEXT;"
    "ALTER TABLE scores ADD COLUMN environment TEXT;"
    "CREATE INDEX scores_observation ON scores(project_id, observation_id) WHERE observation_id IS NOT NULL;",
    /* 3: the query API (issue 5).  traces.level_mask: which levels the trace's observations
     * have (bits KL_LEVEL_*: DEBUG 1, DEFAULT 2, WARNING 4, ERROR 8), so "level=WARNING" and
     * the row's "level" need no scan of observations; the writer ORs it in like the other
     * running sums.  obs_fts: full-text index over observations' input and output, an
     * external-content FTS5 table (the text is stored once, in observations); the triggers
     * that keep it current are created or dropped at open by the fulltext option
     * (query_admin.c), because they are the write-path cost.  scores_time serves the newest-first
     * score list and retention; scores are few, so it costs little. */
    "ALTER TABLE traces ADD COLUMN level_mask INTEGER NOT NULL DEFAULT 0;"
    "UPDATE traces SET level_mask = COALESCE((SELECT MAX(o.level='DEBUG') | MAX(o.level NOT IN ('DEBUG','WARNING','ERROR'))*2"
    " | MAX(o.level='WARNING')*4 | MAX(o.level='ERROR')*8 FROM observations o"
    " WHERE o.project_id=traces.project_id AND o.trace_id=traces.id), 0);"
    "CREATE VIRTUAL TABLE obs_fts USING fts5(input, output, content='observations', content_rowid='rowid');"
    "CREATE INDEX scores_time ON scores(project_id, timestamp_ns DESC, id DESC);"
    /* metrics (query_metrics.c) read every generation in a range: this partial index covers
     * all they read, so they never touch the rows' input/output (~55 bytes a generation
     * against ~1 KB); it grows append-mostly (by start_ns).  Cost: bench_store (every row a
     * generation) 83k -> 77k rows/s together with level_mask; gain: metrics over 1M
     * observations 1.3 s -> 0.5 s (bench_query). */
    "CREATE INDEX observations_gen ON observations(project_id, start_ns, model, user_id, name, tags, level,"
    " usage_input, usage_input_cached, usage_input_cache_write, usage_output, usage_output_reasoning, cost_usd,"
    " end_ns, completion_start_ns, type) WHERE type IN ('GENERATION','EMBEDDING');",
    /* 4: traces_start ascending.  Declared (start_ns DESC, id DESC), every new trace (the
     * newest) went in at the FRONT of the index, where SQLite splits pages leaving them half
     * empty (233 pages against 161 for traces_model after 8,300 gateway calls) and no
     * append fast path applies.  SQLite scans an ascending index backwards for the
     * newest-first lists, so nothing reads it differently. */
    "DROP INDEX traces_start; CREATE INDEX traces_start ON traces(project_id, start_ns, id);",
};
#define NMIGRATIONS ((int)(sizeof k_migrations / sizeof k_migrations[0]))

int kl_sqlite_int(sqlite3 *db, const char *sql, int def) {
  sqlite3_stmt *st = NULL;
  int v = def;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

int kl_sqlite_schema_version(sqlite3 *db) {
  return kl_sqlite_int(db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", 0);
}

int kl_sqlite_migrate(sqlite3 *db, kl_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                   NULL, NULL, &msg) != SQLITE_OK) {
    kl_err_set(err, 500, "store: cannot create schema_migrations: %s", msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  int have = kl_sqlite_schema_version(db);
  if (have > NMIGRATIONS) {
    kl_err_set(err, 500, "store: database schema version %d is newer than this keel (%d)", have, NMIGRATIONS);
    return -1;
  }
  for (int v = have + 1; v <= NMIGRATIONS; v++) {
    char book[160];
    snprintf(book, sizeof book, "INSERT INTO schema_migrations(version, applied_at) VALUES(%d, %lld);", v,
             (long long)(kl_now_ns() / 1000000000));
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, k_migrations[v - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, book, NULL, NULL, &msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
      kl_err_set(err, 500, "store: migration %d failed: %s", v, msg ? msg : sqlite3_errstr(rc));
      sqlite3_free(msg);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
    kl_info("store: applied schema migration %d", v);
  }
  return 0;
}
