/* kl_store.h: keel's persistent store of observations, scores, projects and API keys.
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
 * PostgreSQL backend sits beside SQLite: "sqlite" (one process, a file in data_dir) and
 * "postgres" (store/pg*.c; several keel instances may share one database). */
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

/* ---- ingested records (other SDKs: Langfuse, OpenTelemetry; see store/ingest_write.c) ----
 *
 * An ingested observation or trace arrives as a PARTIAL record: `set` says which fields the
 * sender gave (one bit per field group); the others must not overwrite what is stored.  The
 * bits have the values of trace/kl_ingest.h's KL_INGEST_F_* (the store sits below the trace
 * layer, so it repeats them; api/ingest.c asserts they agree). */
enum {
  KL_OBS_F_TYPE = 1u << 0, KL_OBS_F_NAME = 1u << 1, KL_OBS_F_PARENT = 1u << 2, KL_OBS_F_LEVEL = 1u << 3,
  KL_OBS_F_STATUS_MESSAGE = 1u << 4, KL_OBS_F_START = 1u << 5, KL_OBS_F_END = 1u << 6,
  KL_OBS_F_COMPLETION_START = 1u << 7, KL_OBS_F_MODEL = 1u << 8, KL_OBS_F_PROVIDER = 1u << 9,
  KL_OBS_F_UPSTREAM_MODEL = 1u << 10, KL_OBS_F_MODEL_PARAMS = 1u << 11, KL_OBS_F_INPUT = 1u << 12,
  KL_OBS_F_OUTPUT = 1u << 13, KL_OBS_F_METADATA = 1u << 14, KL_OBS_F_FINISH_REASON = 1u << 15,
  KL_OBS_F_USAGE = 1u << 16, KL_OBS_F_COST = 1u << 17, KL_OBS_F_TRACE_NAME = 1u << 18,
  KL_OBS_F_USER = 1u << 19, KL_OBS_F_SESSION = 1u << 20, KL_OBS_F_TAGS = 1u << 21,
  KL_OBS_F_ENVIRONMENT = 1u << 22, KL_OBS_F_RELEASE = 1u << 23, KL_OBS_F_VERSION = 1u << 24,
  KL_OBS_F_PROMPT = 1u << 25,
  KL_OBS_F_ALL = (1u << 26) - 1,
};

typedef struct kl_obs_patch {
  kl_obs obs;                /* trace_id "" = unknown (an update): the store finds it by id */
  uint32_t set;              /* KL_OBS_F_* */
  bool trace_record;         /* a trace (Langfuse trace-create, an upsert): obs.id == obs.trace_id,
                              * only trace-level bits; stored in `traces`, copied onto its
                              * observations */
  bool update;               /* an update (may arrive before its create) rather than a create */
  int64_t received_ns;       /* envelope time (0 = none): orders records of one key */
  const char *version;       /* KL_OBS_F_VERSION */
  const char *prompt_name;   /* KL_OBS_F_PROMPT */
  int64_t prompt_version;
} kl_obs_patch;

/* Folds src into dst (same key) honouring the bits; the api layer passes kl_ingest_merge
 * through this (the store cannot call the trace layer).  Strings are shared with src or
 * allocated in `a`. */
typedef void (*kl_obs_merge_fn)(kl_obs_patch *dst, const kl_obs_patch *src, kl_arena *a);

/* A score (Langfuse score-create): attached to a trace, an observation, a session or a
 * dataset run.  Upserted by (project, id), so a re-sent score has one effect. */
typedef struct kl_score {
  char id[KL_OBS_ID_MAX + 1];
  char trace_id[KL_OBS_ID_MAX + 1];       /* "" = none */
  char observation_id[KL_OBS_ID_MAX + 1]; /* "" = none */
  char session_id[KL_OBS_ID_MAX + 1];     /* "" = none */
  char dataset_run_id[KL_OBS_ID_MAX + 1]; /* "" = none */
  const char *project_id;    /* NULL = "default" */
  const char *name;          /* required */
  const char *data_type;     /* NUMERIC | BOOLEAN | CATEGORICAL | TEXT (NULL = NUMERIC) */
  double value;              /* NUMERIC, BOOLEAN (0/1) */
  const char *string_value;  /* CATEGORICAL / TEXT; "True"/"False" for BOOLEAN */
  const char *source;        /* API | EVAL | ANNOTATION (NULL = API) */
  const char *comment;
  const char *config_id;
  const char *environment;
  const char *metadata_json;
  int64_t timestamp_ns;
} kl_score;

typedef struct kl_store_opts {
  const char *backend;        /* "sqlite" (default) | "postgres" ("postgresql") */
  const char *url;            /* postgres: libpq connection string or postgresql:// URL
                               * (the spill file still lives in data_dir) */
  const char *data_dir;       /* created if missing; holds keel.db and spill.jsonl */
  size_t queue_capacity;      /* default 65536 observations */
  size_t batch_max;           /* default 2048 per transaction */
  int flush_interval_ms;      /* writer wakes at least this often; default 50 */
  bool sync_full;             /* PRAGMA synchronous=FULL instead of NORMAL */
  /* SQLite only.  KL_SECURE_DELETE_ON (also 0, the default): every byte the store frees is
   * overwritten with zeros (SQLite's secure_delete), including the old places of cells that
   * SQLite moves while a B-tree grows.  KL_SECURE_DELETE_OFF: ~8k fewer writer instructions
   * per railed gateway call (sqlite.c says why); what retention deletes is still zeroed, but
   * old versions of replaced rows and the old places of moved cells (index keys often, row
   * text rarely) may stay in the file's free space until SQLite reuses it or a VACUUM. */
  int secure_delete;
  kl_obs_merge_fn merge;      /* needed by kl_store_submit_patch; NULL: patches are refused */
  /* Full-text index over observations' input and output (the q= filter): KL_FULLTEXT_ON
   * (also 0, the default) or KL_FULLTEXT_OFF.  It is maintained by the writer in the batch's
   * transaction, so it costs write throughput: ~50-100 us per observation with text, i.e.
   * 40k -> 14k rows/s in bench_query; off drops the index, on (again) rebuilds it at open. */
  int fulltext;
  /* Retention: observations, traces and scores older than this many days are deleted by the
   * writer thread in transactions of retention_batch rows (default 1000), checked every
   * retention_interval_ms (default 60000) and continued batch after batch, between the
   * writer's own batches, while expired rows remain.  0 = keep forever. */
  int retention_days;
  int retention_batch;
  int retention_interval_ms;
  /* Spilled records (queue full, failed batch) are replayed by the writer while running, when
   * its queue is empty, at most every spill_drain_ms (default 1000); < 0: only at the next
   * kl_store_open. */
  int spill_drain_ms;
} kl_store_opts;
#define KL_FULLTEXT_ON 1
#define KL_FULLTEXT_OFF (-1)
#define KL_SECURE_DELETE_ON 1
#define KL_SECURE_DELETE_OFF (-1)

/* Opens (creating and migrating as needed), replays any spill file, starts the writer. */
kl_store *kl_store_open(const kl_store_opts *opts, kl_err *err);
/* Flushes everything submitted, stops the writer, closes.  NULL-safe. */
void kl_store_close(kl_store *s);

/* Never blocks on I/O other than a spill append when the queue is full.  Returns 0, or -1 if
 * the observation could be neither queued nor spilled (err says why). */
int kl_store_submit(kl_store *s, const kl_obs *obs, kl_err *err);
/* Partial records and scores: queued like observations (never block, spill when full); the
 * writer merges a patch with the stored row inside the batch's transaction, whatever order
 * creates and updates arrive in, and a record applied twice has one effect. */
int kl_store_submit_patch(kl_store *s, const kl_obs_patch *p, kl_err *err);
int kl_store_submit_score(kl_store *s, const kl_score *sc, kl_err *err);
/* Blocks until everything submitted before the call is committed. */
void kl_store_flush(kl_store *s);

typedef struct kl_store_stats {
  uint64_t submitted, written, spilled, replayed, write_errors;
  size_t queue_depth;
  uint64_t batches;
  uint64_t expired;           /* rows (observations + traces + scores) deleted by retention */
  uint64_t expire_batches;    /* retention transactions */
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
  /* issue 5 additions (all optional; zero = unset).  Traces and observations share this
   * filter; a field that does not apply to one of them is ignored by it. */
  const char *name;         /* trace name (traces) / observation name (observations) */
  const char *tags;         /* traces: "a,b": every tag must be present (at most 16) */
  const char *status;       /* traces: "ok" | "error" */
  const char *level;        /* DEBUG | DEFAULT | WARNING | ERROR: traces: any observation at it */
  const char *q;            /* full text over inputs and outputs: every word must occur */
  const char *type;         /* observations: KL_OBS_* */
  const char *trace_id;     /* observations */
  unsigned ranges;          /* KL_RANGE_* bits: which bounds below are set */
  double min_cost, max_cost;             /* USD, inclusive */
  double min_latency_ms, max_latency_ms; /* inclusive; rows still open never match */
  int64_t since_ns;         /* traces: live tail: timestamp (ms) > since, OLDEST first */
} kl_trace_filter;
enum { KL_RANGE_MIN_COST = 1, KL_RANGE_MAX_COST = 2, KL_RANGE_MIN_LATENCY = 4, KL_RANGE_MAX_LATENCY = 8 };

/* {"data":[{"id","timestamp","name","user_id","session_id","tags","model","input_tokens",
 *   "output_tokens","cost_usd","latency_ms","status","observation_count","level"}],
 *   "next_cursor":"..."|null}
 * Newest first (oldest first with since_ns).  input_tokens = input + input_cached +
 * input_cache_write; output_tokens = output + output_reasoning; status = "error" if any
 * observation has level ERROR, else "ok"; level = the most severe level of its observations.
 * The cursor is opaque (base64url of the last row's key).
 * Returns 0, or -1 with err (code 400 for a bad cursor/filter; err->msg names the parameter). */
int kl_store_list_traces(kl_store *s, const kl_trace_filter *f, kl_buf *out, kl_err *err);
/* {"data":[{"id","trace_id","parent_id","type","name","start","end","model","level",
 *   "status_message","input_tokens","output_tokens","cost_usd","latency_ms","ttft_ms"}],
 *   "next_cursor"}: newest first by start.  user_id/session_id match the observation's own
 * (denormalised) trace fields. */
int kl_store_list_observations(kl_store *s, const kl_trace_filter *f, kl_buf *out, kl_err *err);
/* As kl_store_get_observation, but also finds keel's own observations (not indexed by id
 * alone) quickly when trace_id is given; without it they are found by a scan. */
int kl_store_find_observation(kl_store *s, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                              kl_err *err);

typedef struct kl_score_filter {
  const char *project_id;   /* NULL = "default" */
  int limit;                /* 1..1000, default 50 */
  const char *cursor;
  const char *trace_id, *observation_id, *session_id, *name;
  const char *source;       /* API | EVAL | ANNOTATION (any case; checked before the backend) */
  const char *data_type;    /* NUMERIC | BOOLEAN | CATEGORICAL | TEXT */
  int64_t from_ns, to_ns;   /* by the score's timestamp */
} kl_score_filter;
/* {"data":[score as kl_store_get_score],"next_cursor"}: newest first. */
int kl_store_list_scores(kl_store *s, const kl_score_filter *f, kl_buf *out, kl_err *err);

/* Sessions and users: aggregates over the traces that carry the id, computed when asked. */
typedef struct kl_group_filter {
  const char *project_id;
  int limit;
  const char *cursor;
  const char *user_id;      /* sessions: only sessions with a trace of this user */
  int64_t from_ns, to_ns;   /* only traces starting in [from, to) count */
} kl_group_filter;
/* {"data":[{"id","first_seen","last_seen","traces","input_tokens","output_tokens","cost_usd",
 *   "latency_ms_total","errors","user_ids":[]}],"next_cursor"}: by last_seen, newest first. */
int kl_store_list_sessions(kl_store *s, const kl_group_filter *f, kl_buf *out, kl_err *err);
/* One session's aggregates plus "traces":[trace rows, oldest first, at most 1000].  404. */
int kl_store_get_session(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err);
/* {"data":[{"id","first_seen","last_seen","traces","sessions","input_tokens","output_tokens",
 *   "cost_usd","errors"}],"next_cursor"}: by last_seen, newest first. */
int kl_store_list_users(kl_store *s, const kl_group_filter *f, kl_buf *out, kl_err *err);
/* One user's aggregates plus "traces":[the latest 100 trace rows, newest first].  404. */
int kl_store_get_user(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err);

/* Metrics over generation-like observations (GENERATION, EMBEDDING; or `type`). */
typedef enum { KL_GROUP_NONE = 0, KL_GROUP_MODEL, KL_GROUP_USER, KL_GROUP_TAG, KL_GROUP_NAME } kl_group_by;
typedef enum { KL_BUCKET_NONE = 0, KL_BUCKET_MINUTE, KL_BUCKET_HOUR, KL_BUCKET_DAY } kl_bucket;
typedef struct kl_metrics_filter {
  const char *project_id;
  int64_t from_ns, to_ns;   /* by observation start */
  kl_group_by group_by;     /* tag: an observation counts once in each of its trace's tags */
  kl_bucket bucket;         /* UTC */
  const char *type;         /* NULL = GENERATION and EMBEDDING */
} kl_metrics_filter;
/* {"data":[{"bucket","group","requests","errors","error_rate","input_tokens","output_tokens",
 *   "cost_usd","latency_p50_ms","latency_p95_ms","latency_p99_ms","ttft_p50_ms","ttft_p95_ms",
 *   "ttft_p99_ms"}]}, ordered by bucket then group.  Percentiles are nearest-rank over the
 * group's observations that have the value (null when none); errors = level ERROR. */
int kl_store_metrics(kl_store *s, const kl_metrics_filter *f, kl_buf *out, kl_err *err);
/* {"id",...same fields as a list row..., "tags":[...], "metadata":{}, "observations":[{every kl_obs
 *   field, JSON fields embedded as JSON, "usage":{buckets}, "cost_usd", "latency_ms", "ttft_ms"}]}.
 * Returns 0, or -1 with err code 404 when the trace does not exist. */
int kl_store_get_trace(kl_store *s, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
/* One observation by (project, id), the same fields as in get_trace plus "version",
 * "prompt_name", "prompt_version".  404 when unknown. */
int kl_store_get_observation(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err);
/* {"id","trace_id","observation_id","session_id","dataset_run_id","name","value","string_value",
 *  "data_type","source","comment","config_id","environment","metadata","timestamp"}.  404 when unknown. */
int kl_store_get_score(kl_store *s, const char *project_id, const char *id, kl_buf *out, kl_err *err);

/* ---- projects and API keys ----
 * A key pair is pk-lf-... (public, stored as is) and sk-lf-... (secret, stored only as
 * SHA-256(salt || secret) with a per-key random salt; hashing lives in the api layer). */
#define KL_KEY_PUBLIC_MAX 80
#define KL_KEY_SALT_LEN 16
#define KL_KEY_HASH_LEN 32
typedef struct kl_store_key {
  char public_key[KL_KEY_PUBLIC_MAX + 1];
  char project_id[KL_OBS_ID_MAX + 1];
  unsigned char salt[KL_KEY_SALT_LEN];
  unsigned char hash[KL_KEY_HASH_LEN];
  int64_t created_ns;
} kl_store_key;
/* Creates the project if missing and adds the key, in one transaction.  Opens the database
 * on its own (no writer thread, no spill replay), so the CLI can run it beside a serving
 * keel.  k->project_id is ignored; the project's id is its name. */
int kl_store_key_create(const kl_store_opts *opts, const char *project, const kl_store_key *k, kl_err *err);
/* Blocking (thread pool): the key, or -1 with err 404 when unknown. */
int kl_store_key_get(kl_store *s, const char *public_key, kl_store_key *out, kl_err *err);

#endif
