/* kl_store.h: keel's persistent store of observations (and, later, scores).
 *
 * Data model: observations-first, as Langfuse does it.  A trace is the set of its
 * observations, identified by (project, trace id, observation id): re-submitting that key
 * replaces the row (idempotent replays and updates); each observation is one mostly write-once row carrying the trace's
 * fields (name, user, session, tags, environment, release) denormalised onto it, so a
 * filter never needs a join.  A small `traces` table is kept up to date by the writer
 * (upsert + running sums) so listing traces never scans observations.
 *
 * Write path: kl_store_submit() never blocks and never does database work on the caller's
 * thread: it copies the observation into a bounded in-memory queue; one writer thread
 * drains the queue in batches, one transaction per batch (SQLite in WAL mode).  When the
 * queue is full the observation is appended to a spill file (data_dir/spill.jsonl) instead
 * of being dropped; the spill file is replayed into the database at the next open and then
 * removed.  See docs/ARCHITECTURE.md ("What survives a crash").
 *
 * Read path: the query functions block (they run SQL); call them from a thread pool
 * (uv_queue_work), never from an event loop.  Each call uses a pooled read connection.
 *
 * Backends: the functions below dispatch through an internal vtable (store/backend.h) so a
 * PostgreSQL backend can sit beside SQLite; today only "sqlite" exists. */
#ifndef KL_STORE_H
#define KL_STORE_H

#include "base/kl_base.h"

/* Observation types (Langfuse's names). */
#define KL_OBS_SPAN "SPAN"
#define KL_OBS_GENERATION "GENERATION"
#define KL_OBS_EVENT "EVENT"
#define KL_OBS_AGENT "AGENT"
#define KL_OBS_TOOL "TOOL"
#define KL_OBS_CHAIN "CHAIN"
#define KL_OBS_RETRIEVER "RETRIEVER"
#define KL_OBS_EVALUATOR "EVALUATOR"
#define KL_OBS_EMBEDDING "EMBEDDING"
#define KL_OBS_GUARDRAIL "GUARDRAIL"

/* One observation.  All strings are optional (NULL = absent) and are copied by
 * kl_store_submit; JSON fields hold serialized JSON text. */
/* Longest id kept (foreign ids such as Langfuse UUIDs are 36 characters). */
#define KL_OBS_ID_MAX 64

typedef struct kl_obs {
  char id[KL_OBS_ID_MAX + 1];        /* span id: 16 hex (keel) or a foreign id */
  char trace_id[KL_OBS_ID_MAX + 1];  /* 32 hex (keel) or a foreign id */
  char parent_id[KL_OBS_ID_MAX + 1]; /* "" for a root observation */
  const char *project_id;   /* NULL = "default" */
  const char *type;         /* KL_OBS_* */
  const char *name;
  const char *level;        /* DEBUG | DEFAULT | WARNING | ERROR; NULL = DEFAULT */
  const char *status_message;
  int http_status;          /* gateway calls: status returned to the client; 0 = n/a */
  int64_t start_ns;         /* unix ns */
  int64_t end_ns;           /* 0 = still open */
  int64_t completion_start_ns; /* first output token (time to first token); 0 = n/a */
  /* model */
  const char *model;           /* public model name the client asked for */
  const char *provider;        /* openai | anthropic | mock | ... */
  const char *upstream_model;  /* the name sent upstream */
  const char *model_params_json; /* {"temperature":..,"max_tokens":..,"stream":..} */
  /* content */
  const char *input_json;
  const char *output_json;
  const char *metadata_json;
  const char *finish_reason;
  /* usage: non-overlapping buckets; usage_json may hold further buckets */
  int64_t usage_input;
  int64_t usage_input_cached;
  int64_t usage_input_cache_write;
  int64_t usage_output;
  int64_t usage_output_reasoning;
  const char *usage_json;      /* full bucket map as JSON, e.g. {"input":10,"input_cached":5,...} */
  bool usage_estimated;
  double cost_usd;             /* < 0: unknown (no price) */
  const char *cost_json;       /* per-bucket cost map */
  /* trace fields, denormalised */
  const char *trace_name;
  const char *user_id;
  const char *session_id;
  const char *tags_json;       /* ["a","b"] */
  const char *environment;
  const char *release;
} kl_obs;

typedef struct kl_store kl_store;

typedef struct kl_store_opts {
  const char *backend;        /* "sqlite" (default) */
  const char *data_dir;       /* created if missing; holds keel.db and spill.jsonl */
  size_t queue_capacity;      /* default 65536 observations */
  size_t batch_max;           /* default 512 per transaction */
  int flush_interval_ms;      /* writer wakes at least this often; default 50 */
  bool sync_full;             /* PRAGMA synchronous=FULL instead of NORMAL */
} kl_store_opts;

/* Opens (creating and migrating as needed), replays any spill file, starts the writer. */
kl_store *kl_store_open(const kl_store_opts *opts, kl_err *err);
/* Flushes everything submitted, stops the writer, closes.  NULL-safe. */
void kl_store_close(kl_store *s);

/* Never blocks on I/O other than a spill append when the queue is full.  Returns 0, or -1 if
 * the observation could be neither queued nor spilled (err says why). */
int kl_store_submit(kl_store *s, const kl_obs *obs, kl_err *err);
/* Blocks until everything submitted before the call is committed. */
void kl_store_flush(kl_store *s);

typedef struct kl_store_stats {
  uint64_t submitted, written, spilled, replayed, write_errors;
  size_t queue_depth;
  uint64_t batches;
} kl_store_stats;
void kl_store_get_stats(kl_store *s, kl_store_stats *out);

/* ---- reads (blocking; results are JSON written into out) ---- */
typedef struct kl_trace_filter {
  const char *project_id;   /* NULL = "default" */
  int limit;                /* 1..1000, default 50 */
  const char *cursor;       /* opaque, from a previous next_cursor */
  const char *user_id;
  const char *session_id;
  const char *model;
  int64_t from_ns;          /* 0 = unbounded */
  int64_t to_ns;
} kl_trace_filter;

/* {"data":[{"id","timestamp","name","user_id","session_id","model","input_tokens","output_tokens",
 *   "cost_usd","latency_ms","status"}],"next_cursor":"..."|null}
 * Newest first.  input_tokens = input + input_cached + input_cache_write; output_tokens = output +
 * output_reasoning; status = "error" if any observation has level ERROR, else "ok".
 * Returns 0, or -1 with err (code 400 for a bad cursor/filter). */
int kl_store_list_traces(kl_store *s, const kl_trace_filter *f, kl_buf *out, kl_err *err);
/* {"id",...same fields as a list row..., "tags":[...], "metadata":{}, "observations":[{every kl_obs
 *   field, JSON fields embedded as JSON, "usage":{buckets}, "cost_usd", "latency_ms", "ttft_ms"}]}.
 * Returns 0, or -1 with err code 404 when the trace does not exist. */
int kl_store_get_trace(kl_store *s, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);

#endif
