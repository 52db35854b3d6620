/* pg_schema.c: versioned schema migrations for the PostgreSQL backend.
 *
 * The tables and column names are those of SQLite's schema after all its migrations
 * (sqlite_schema.c), so the two backends' queries read alike and their JSON answers are the
 * same; the types are PostgreSQL's: nanosecond times and counters BIGINT, money DOUBLE
 * PRECISION, JSON fields TEXT holding the JSON text as given (we never query inside them
 * on the write path; readers cast to jsonb where they must).
 *
 * k_migrations is append-only: entry i is schema version i+1.  All pending migrations run
 * in ONE transaction that first takes a transaction-scoped advisory lock, so two keel
 * instances starting at once against the same database serialise here: the second one
 * waits, then sees the new version and applies nothing (PostgreSQL's DDL is transactional,
 * so a crash mid-migration leaves the previous version intact). */
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>

/* an arbitrary constant naming keel's migration lock */
#define KL_PG_MIGRATE_LOCK 0x6b65656cLL

static const char *const k_migrations[] = {
    /* 1: everything SQLite's migrations 1-3 hold */
    "CREATE TABLE observations ("
    " project_id TEXT NOT NULL, id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_id TEXT,"
    " type TEXT, name TEXT, level TEXT NOT NULL DEFAULT 'DEFAULT', status_message TEXT,"
    " http_status BIGINT, start_ns BIGINT NOT NULL, end_ns BIGINT, completion_start_ns BIGINT,"
    " model TEXT, provider TEXT, upstream_model TEXT, model_params TEXT,"
    " input TEXT, output TEXT, metadata TEXT, finish_reason TEXT,"
    " usage_input BIGINT NOT NULL DEFAULT 0, usage_input_cached BIGINT NOT NULL DEFAULT 0,"
    " usage_input_cache_write BIGINT NOT NULL DEFAULT 0, usage_output BIGINT NOT NULL DEFAULT 0,"
    " usage_output_reasoning BIGINT NOT NULL DEFAULT 0, usage TEXT,"
    " usage_estimated BIGINT NOT NULL DEFAULT 0, cost_usd DOUBLE PRECISION, cost TEXT,"
    " trace_name TEXT, user_id TEXT, session_id TEXT, tags TEXT, environment TEXT, release TEXT,"
    " version TEXT, prompt_name TEXT, prompt_version BIGINT, ingest_set BIGINT, ingest_update BIGINT,"
    " ingest_ns BIGINT,"
    " PRIMARY KEY (project_id, trace_id, id));"
    "CREATE INDEX observations_start ON observations(project_id, start_ns);"
    "CREATE INDEX observations_ingest_id ON observations(project_id, id) WHERE ingest_ns IS NOT NULL;"
    "CREATE INDEX observations_gen ON observations(project_id, start_ns) WHERE type IN ('GENERATION','EMBEDDING');"
    "CREATE TABLE traces ("
    " project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT, user_id TEXT, session_id TEXT,"
    " tags TEXT, environment TEXT, release TEXT, model TEXT, model_start_ns BIGINT,"
    " start_ns BIGINT NOT NULL, end_ns BIGINT,"
    " input_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0,"
    " cost_usd DOUBLE PRECISION, observation_count BIGINT NOT NULL DEFAULT 0,"
    " error_count BIGINT NOT NULL DEFAULT 0,"
    " input TEXT, output TEXT, metadata TEXT, version TEXT, ingest_set BIGINT, ingest_ns BIGINT,"
    " level_mask BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (project_id, id));"
    "CREATE INDEX traces_start ON traces(project_id, start_ns DESC, id DESC);"
    "CREATE INDEX traces_user ON traces(project_id, user_id, start_ns, id) WHERE user_id IS NOT NULL;"
    "CREATE INDEX traces_session ON traces(project_id, session_id, start_ns, id) WHERE session_id IS NOT NULL;"
    "CREATE INDEX traces_model ON traces(project_id, model, start_ns, id) WHERE model IS NOT NULL;"
    "CREATE TABLE scores ("
    " id TEXT NOT NULL, project_id TEXT NOT NULL, trace_id TEXT, observation_id TEXT,"
    " session_id TEXT, name TEXT NOT NULL, value DOUBLE PRECISION, string_value TEXT,"
    " data_type TEXT NOT NULL DEFAULT 'NUMERIC', source TEXT NOT NULL DEFAULT 'API',"
    " comment TEXT, timestamp_ns BIGINT NOT NULL, metadata TEXT,"
    " dataset_run_id TEXT, config_id TEXT, environment TEXT,"
    " PRIMARY KEY (project_id, id));"
    "CREATE INDEX scores_trace ON scores(project_id, trace_id);"
    "CREATE INDEX scores_session ON scores(project_id, session_id);"
    "CREATE INDEX scores_observation ON scores(project_id, observation_id) WHERE observation_id IS NOT NULL;"
    "CREATE INDEX scores_time ON scores(project_id, timestamp_ns DESC, id DESC);"
    "CREATE TABLE projects ("
    " id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ns BIGINT NOT NULL);"
    "INSERT INTO projects(id, name, created_ns)"
    " VALUES('default', 'default', (extract(epoch from now())::bigint) * 1000000000);"
    "CREATE TABLE api_keys ("
    " public_key TEXT NOT NULL PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),"
    " salt BYTEA NOT NULL, secret_hash BYTEA NOT NULL, hash_alg TEXT NOT NULL DEFAULT 'sha256(salt||secret)',"
    " created_ns BIGINT NOT NULL);"
    "CREATE INDEX api_keys_project ON api_keys(project_id);",
    /* 2: the write order of observations (SQLite's rowid order: "the most recently written
     * observation that has a value" decides a trace's denormalised fields; pg_write.c) */
    "CREATE SEQUENCE observations_wseq;"
    "ALTER TABLE observations ADD COLUMN wseq BIGINT;",
    /* 3: metrics read every generation in a range; this partial index carries all they read
     * (SQLite's observations_gen), so an index-only scan skips the rows' input and output. */
    "DROP INDEX observations_gen;"
    "CREATE INDEX observations_gen ON observations(project_id, start_ns) INCLUDE (type, model, user_id, name,"
    " tags, level, usage_input, usage_input_cached, usage_input_cache_write, usage_output,"
    " usage_output_reasoning, cost_usd, end_ns, completion_start_ns) WHERE type IN ('GENERATION','EMBEDDING');",
};
#define NMIGRATIONS ((int)(sizeof k_migrations / sizeof k_migrations[0]))

int kl_pg_migrate(PGconn *c, kl_err *err) {
  char sql[160];
  if (kl_pg_run(c, "BEGIN", NULL, err) != 0) return -1;
  snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", (long long)KL_PG_MIGRATE_LOCK);
  PGresult *r = kl_pg_exec(c, sql, NULL, err);
  if (!r) goto fail;
  PQclear(r);
  if (kl_pg_run(c,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                NULL, err) != 0)
    goto fail;
  r = kl_pg_exec(c, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", NULL, err);
  if (!r) goto fail;
  int have = (int)kl_pg_i64(r, 0, 0);
  PQclear(r);
  if (have > NMIGRATIONS) {
    kl_err_set(err, 500, "store: database schema version %d is newer than this keel (%d)", have, NMIGRATIONS);
    goto fail;
  }
  for (int v = have + 1; v <= NMIGRATIONS; v++) {
    if (kl_pg_run(c, k_migrations[v - 1], NULL, err) != 0) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      kl_err_set(err, 500, "store: postgres migration %d failed: %s", v, why);
      goto fail;
    }
    snprintf(sql, sizeof sql, "INSERT INTO schema_migrations(version, applied_at) VALUES(%d, %lld)", v,
             (long long)(kl_now_ns() / 1000000000));
    if (kl_pg_run(c, sql, NULL, err) != 0) goto fail;
    kl_info("store: applied postgres schema migration %d", v);
  }
  return kl_pg_run(c, "COMMIT", NULL, err);
fail:
  kl_pg_run(c, "ROLLBACK", NULL, NULL);
  return -1;
}
