/* pg_ingest.c: partial records (Langfuse/OTLP observations and trace records, merged with
 * the stored row) and scores, for the PostgreSQL backend's write path.
 *
 * ingest_sqlite.c's logic, statement for statement (read it first): a partial record is read
 * back, folded with `merge` (creates under updates, older under newer) and written back; a
 * trace record upserts `traces` and is copied onto the trace's observations; an update that
 * names no trace is kept under trace "" until its create arrives.  Runs inside pg_write.c's
 * batch transaction with its advisory locks held, so two instances never interleave here. */
#include "store/pg_write_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void col_id(char dst[KL_OBS_ID_MAX + 1], const PGresult *r, int col) {
  snprintf(dst, KL_OBS_ID_MAX + 1, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/* Reads the stored row (project, trace, id) as a patch.  1 found, 0 not, -1 error. */
static int load_obs(kl_pgw *w, const char *project, const char *trace, const char *id, kl_obs_patch *out,
                    kl_err *err) {
  kl_pg_params ps = {.n = 3, .v = {project, trace, id}};
  PGresult *r = kl_pgw_exec(w, W_SEL, &ps, err);
  if (!r) return -1;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return 0;
  }
  kl_row row = kl_pg_row(r, 0);
  kl_row_obs_patch(&row, w->p.arena, project, out);
  PQclear(r);
  return 1;
}

/* The trace's row (TRACE_EXPLICIT, start_ns, ingest_set, ingest_ns) or NULL (also on error:
 * *failed then). */
static PGresult *load_trace(kl_pgw *w, const char *project, const char *trace, bool *failed, kl_err *err) {
  kl_pg_params ps = {.n = 2, .v = {project, trace}};
  PGresult *r = kl_pgw_exec(w, W_TSEL, &ps, err);
  *failed = !r;
  if (r && PQntuples(r) == 0) {
    PQclear(r);
    return NULL;
  }
  return r;
}

/* Fills the trace-level fields the observation did not carry from the trace's record. */
static int fill_from_trace(kl_pgw *w, kl_obs_patch *p, kl_err *err) {
  if (!p->obs.trace_id[0]) return 0;
  bool failed;
  PGresult *r = load_trace(w, p->obs.project_id, p->obs.trace_id, &failed, err);
  if (!r) return failed ? -1 : 0;
  kl_row row = kl_pg_row(r, 0);
  kl_row_trace_fields(&row, w->p.arena, p);
  PQclear(r);
  return 0;
}

/* Writes one merged row with W_INS_NEW (returns 1 when it was inserted) or W_UPSERT. */
static int put_row(kl_pgw *w, int st, const kl_obs_patch *p, kl_err *err) {
  kl_pgw_arrs *a = w->arr;
  kl_pgw_arr_begin(a, NOBS);
  kl_pgw_put_obs(a, &p->obs, p);
  kl_pg_params ps;
  kl_pgw_arr_params(a, &ps);
  PGresult *r = kl_pgw_exec(w, st, &ps, err);
  if (!r) return -1;
  int n = st == W_INS_NEW ? PQntuples(r) : 1;
  PQclear(r);
  return n;
}


static int write_trace_record(kl_pgw *w, const kl_obs_patch *r, kl_obs_merge_fn merge, kl_err *err);

int kl_pgw_write_patch(kl_pgw *w, const kl_obs_patch *in, kl_obs_merge_fn merge, bool *orphans, kl_pgw_redo *rd,
                       kl_err *err) {
  if (!merge) {
    kl_err_set(err, 500, "store: a partial record needs a merge function (kl_store_opts.merge)");
    return -1;
  }
  if (in->trace_record) return write_trace_record(w, in, merge, err);
  kl_obs_patch rec = *in;
  const char *project = kl_pgw_project(in->obs.project_id);
  rec.obs.project_id = project;
  if (!rec.obs.trace_id[0]) { /* an update that did not say its trace */
    kl_pg_params ps = {.n = 2, .v = {project, rec.obs.id}};
    PGresult *r = kl_pgw_exec(w, W_FIND, &ps, err);
    if (!r) return -1;
    if (PQntuples(r)) col_id(rec.obs.trace_id, r, 0);
    PQclear(r);
    if (rec.obs.trace_id[0] && kl_pg_lock_trace(w, project, rec.obs.trace_id, err) != 0) return -1;
  }
  bool known_trace = rec.obs.trace_id[0] != 0;

  if (!rec.update && known_trace && !*orphans) { /* fast path: a new create */
    kl_obs_patch row = rec;
    if (fill_from_trace(w, &row, err) != 0) return -1;
    kl_row_patch_defaults(&row);
    int n = put_row(w, W_INS_NEW, &row, err);
    if (n < 0) return -1;
    if (n == 1) return kl_pgw_trace_add_one(w, &row.obs, err);
  }

  kl_obs_patch cur, dst;
  int have = 0;
  bool was_orphan = false;
  if (known_trace && *orphans) {
    if ((have = load_obs(w, project, "", rec.obs.id, &cur, err)) < 0) return -1;
    if (have) {
      was_orphan = true;
      kl_pg_params ps = {.n = 3, .v = {project, "", rec.obs.id}};
      if (kl_pgw_run(w, W_DEL, &ps, err) != 0) return -1;
    }
  }
  if (!have && (have = load_obs(w, project, rec.obs.trace_id, rec.obs.id, &cur, err)) < 0) return -1;
  if (!have) dst = rec;
  else kl_row_merge(&dst, &rec, &cur, merge, w->p.arena);
  memcpy(dst.obs.id, rec.obs.id, sizeof dst.obs.id);
  memcpy(dst.obs.trace_id, rec.obs.trace_id, sizeof dst.obs.trace_id);
  dst.obs.project_id = project;
  if (fill_from_trace(w, &dst, err) != 0) return -1;
  kl_row_patch_defaults(&dst);
  bool replaced = have && !was_orphan;
  if (put_row(w, replaced ? W_UPSERT : W_INS_NEW, &dst, err) < 0) return -1;
  if (!known_trace) {
    *orphans = true; /* kept under trace "": no trace aggregate until its create comes */
    return 0;
  }
  if (replaced) {
    kl_pgw_redo_push(w, rd, project, dst.obs.trace_id);
    return 0;
  }
  return kl_pgw_trace_add_one(w, &dst.obs, err);
}

static int write_trace_record(kl_pgw *w, const kl_obs_patch *r, kl_obs_merge_fn merge, kl_err *err) {
  const char *project = kl_pgw_project(r->obs.project_id);
  bool failed;
  PGresult *t = load_trace(w, project, r->obs.id, &failed, err);
  if (failed) return -1;
  kl_obs_patch dst = *r, cur;
  kl_arena *a = w->p.arena;
  kl_row row = kl_pg_row(t, 0);
  if (t && kl_row_trace_record(&row, a, r, &cur)) kl_row_merge(&dst, r, &cur, merge, a);
  PQclear(t);
  memcpy(dst.obs.id, r->obs.id, sizeof dst.obs.id);
  uint32_t set = dst.set;
  const kl_obs *o = &dst.obs;
  const char *name = (set & KL_OBS_F_TRACE_NAME) ? o->trace_name : (set & KL_OBS_F_NAME) ? o->name : NULL;
  kl_pg_params ps = {.a = a};
  kl_pg_p_text(&ps, project);
  kl_pg_p_text(&ps, o->id);
  kl_pg_p_text(&ps, name);
  kl_pg_p_text(&ps, (set & KL_OBS_F_USER) ? o->user_id : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_SESSION) ? o->session_id : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_TAGS) ? o->tags_json : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_ENVIRONMENT) ? o->environment : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_RELEASE) ? o->release : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_METADATA) ? o->metadata_json : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_INPUT) ? o->input_json : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_OUTPUT) ? o->output_json : NULL);
  kl_pg_p_text(&ps, (set & KL_OBS_F_VERSION) ? dst.version : NULL);
  bool has_start = (set & KL_OBS_F_START) && o->start_ns > 0;
  kl_pg_p_i64(&ps, has_start ? o->start_ns : dst.received_ns > 0 ? dst.received_ns : kl_now_ns());
  kl_pg_p_i64(&ps, set);
  if (dst.received_ns) kl_pg_p_i64(&ps, dst.received_ns);
  else kl_pg_p_text(&ps, NULL);
  kl_pg_p_i64(&ps, has_start);
  if (kl_pgw_run(w, W_TUPSERT, &ps, err) != 0) return -1;
  /* copy the trace's fields onto the observations it already has */
  kl_pg_params d = {.n = 8};
  memcpy(d.v, ps.v, 8 * sizeof *d.v);
  return kl_pgw_run(w, W_DENORM, &d, err);
}

int kl_pgw_write_score(kl_pgw *w, const kl_score *sc, kl_err *err) {
  kl_pg_params ps = {.a = w->p.arena};
  kl_pg_p_text_or_null(&ps, sc->id);
  kl_pg_p_text(&ps, kl_pgw_project(sc->project_id));
  kl_pg_p_text_or_null(&ps, sc->trace_id);
  kl_pg_p_text_or_null(&ps, sc->observation_id);
  kl_pg_p_text_or_null(&ps, sc->session_id);
  kl_pg_p_text_or_null(&ps, sc->dataset_run_id);
  kl_pg_p_text(&ps, sc->name ? sc->name : "");
  const char *dt = sc->data_type ? sc->data_type : "NUMERIC";
  if (!strcmp(dt, "NUMERIC") || !strcmp(dt, "BOOLEAN")) kl_pg_p_f64(&ps, sc->value);
  else kl_pg_p_text(&ps, NULL);
  kl_pg_p_text(&ps, sc->string_value);
  kl_pg_p_text(&ps, dt);
  kl_pg_p_text(&ps, sc->source ? sc->source : "API");
  kl_pg_p_text(&ps, sc->comment);
  kl_pg_p_text(&ps, sc->config_id);
  kl_pg_p_text(&ps, sc->environment);
  kl_pg_p_i64(&ps, sc->timestamp_ns ? sc->timestamp_ns : kl_now_ns());
  kl_pg_p_text(&ps, sc->metadata_json);
  return kl_pgw_run(w, W_SCORE, &ps, err);
}
