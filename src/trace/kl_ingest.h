/* kl_ingest.h: decoding traces sent by other SDKs and mapping them to keel observations.
 *
 * Pure functions, no HTTP and no store: bytes in, arena-owned records out.  Two wire formats:
 *
 *   OTLP/HTTP traces (/v1/traces, /api/public/otel/v1/traces): kl_ingest_otlp_pb() or
 *   kl_ingest_otlp_json() decode an ExportTraceServiceRequest into a flat kl_otlp_request
 *   (one kl_otlp_span per span, each pointing at its resource and scope);
 *   kl_ingest_otlp_map() turns every span into a kl_ingest_obs.  A malformed body fails as a
 *   whole (400); a well-formed span that is semantically unusable (bad id length, zero id,
 *   end time before 1970...) is dropped and counted in `rejected`, for the OTLP
 *   partialSuccess reply (kl_ingest_otlp_reply()).
 *
 *   Langfuse batches (/api/public/ingestion): kl_ingest_langfuse() turns every envelope of
 *   {"batch":[{id,type,timestamp,body}]} into a kl_ingest_event that carries either an error
 *   (status 400, message) or a record (trace, observation or score); kl_ingest_langfuse_reply()
 *   writes the 207 body.  Only a body that is not a JSON object with a "batch" array fails.
 *
 * Partial records.  Langfuse sends creates and updates for the same observation, in any order
 * (an update can precede its create in one batch).  A kl_ingest_obs is therefore a PARTIAL
 * record: `set` holds one KL_INGEST_F_* bit per field (group) the sender actually gave; fields
 * whose bit is clear must not overwrite anything.  Applying records means, per key
 * (project, trace id, id): sort creates before updates (kl_ingest_order(), stable), then fold
 * them with kl_ingest_merge() into what is stored, which works whatever arrived first.  OTLP
 * spans are complete records (op CREATE) whose bits say which fields were present.
 *
 * Trace records (Langfuse trace-create, an upsert by body.id) use the same struct with
 * kind KL_INGEST_TRACE: obs.id == obs.trace_id == the trace id, and only trace-level bits
 * (NAME/TRACE_NAME, USER, SESSION, TAGS, ENVIRONMENT, RELEASE, METADATA, INPUT, OUTPUT, START,
 * VERSION) can be set.  keel has no trace row of its own (a trace is its observations), so
 * the store must upsert these into `traces` and denormalise them onto the trace's
 * observations (see the report / docs for the store work this needs).
 *
 * Token usage is converted ONCE, here, into kl_obs's non-overlapping buckets: OTel GenAI and
 * OpenInference input counts include cached input (subtracted out), Langfuse usage_details
 * already exclude it (taken as is).  The raw map the client sent is kept in usage_json.
 * cost_usd is the client's cost when given, else -1 (the caller may price it).
 *
 * Nothing here sets obs.project_id: the HTTP layer knows the project from the credentials. */
#ifndef KL_INGEST_H
#define KL_INGEST_H

#include "base/kl_base.h"
#include "store/kl_store.h"

/* AnyValue array/kvlist nesting limit (the decoders' only recursion).  Body size is the HTTP
 * layer's to bound (about 4.5 MB); decoded size is linear in it (the worst case, a body of
 * 2-byte empty attributes, costs about 40 bytes of arena per body byte). */
#define KL_INGEST_MAX_DEPTH 16

/* ================= OTLP model (decoded, not yet mapped) ================= */

typedef enum {
  KL_OTLP_EMPTY = 0,  /* AnyValue with no value set */
  KL_OTLP_STRING, KL_OTLP_BOOL, KL_OTLP_INT, KL_OTLP_DOUBLE,
  KL_OTLP_ARRAY, KL_OTLP_KVLIST, KL_OTLP_BYTES
} kl_otlp_vtype;

typedef struct kl_otlp_kv kl_otlp_kv;
typedef struct kl_otlp_value {
  kl_otlp_vtype type;
  const char *s;  /* STRING: NUL-terminated UTF-8 (len excludes the NUL); BYTES: raw bytes */
  size_t len;
  bool b;
  int64_t i;
  double d;
  struct kl_otlp_value *items; /* ARRAY: n values */
  kl_otlp_kv *kvs;             /* KVLIST: n pairs */
  size_t n;
} kl_otlp_value;

struct kl_otlp_kv {
  const char *key;
  kl_otlp_value value;
};

typedef struct kl_otlp_attrs {
  kl_otlp_kv *kv;
  size_t n;
} kl_otlp_attrs;

typedef struct kl_otlp_resource { kl_otlp_attrs attrs; } kl_otlp_resource;
typedef struct kl_otlp_scope { const char *name, *version; kl_otlp_attrs attrs; } kl_otlp_scope;

typedef struct kl_otlp_event {
  int64_t time_ns;
  const char *name;
  kl_otlp_attrs attrs;
} kl_otlp_event;

typedef struct kl_otlp_span {
  char trace_id[33];        /* lowercase hex, validated: 16 non-zero bytes */
  char span_id[17];         /* 8 non-zero bytes */
  char parent_span_id[17];  /* "" for a root span */
  const char *name;         /* "" when absent */
  int kind;                 /* 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  int64_t start_ns, end_ns; /* unix ns; 0 = absent */
  kl_otlp_attrs attrs;
  kl_otlp_event *events;
  size_t nevents;
  int status_code;          /* 0 unset, 1 ok, 2 error */
  const char *status_message; /* NULL when absent */
  const kl_otlp_resource *resource; /* never NULL */
  const kl_otlp_scope *scope;       /* never NULL */
} kl_otlp_span;

typedef struct kl_otlp_request {
  kl_otlp_span *spans;
  size_t nspans;
  size_t rejected;          /* spans dropped as unusable */
  const char *reject_msg;   /* why the first one was dropped; NULL when rejected == 0 */
} kl_otlp_request;

/* Decode an OTLP ExportTraceServiceRequest; everything lands in `a`.  0, or -1 with err (400)
 * for a malformed body.  An empty protobuf body is a valid request with no spans (an empty
 * JSON body is not JSON: 400). */
int kl_ingest_otlp_pb(const void *body, size_t len, kl_arena *a, kl_otlp_request *out, kl_err *err);
int kl_ingest_otlp_json(const char *body, size_t len, kl_arena *a, kl_otlp_request *out, kl_err *err);

/* First attribute named key, or NULL. */
const kl_otlp_value *kl_otlp_attr(const kl_otlp_attrs *attrs, const char *key);
/* Appends v as JSON: int64 beyond 2^53 and non-finite doubles as strings, bytes as base64,
 * kvlist as an object. */
void kl_otlp_value_json(const kl_otlp_value *v, kl_buf *out);

/* ================= mapped records ================= */

/* Field-presence bits of a kl_ingest_obs (`set`): which kl_obs fields the sender gave. */
enum {
  KL_INGEST_F_TYPE = 1u << 0,
  KL_INGEST_F_NAME = 1u << 1,
  KL_INGEST_F_PARENT = 1u << 2,        /* parent_id */
  KL_INGEST_F_LEVEL = 1u << 3,
  KL_INGEST_F_STATUS_MESSAGE = 1u << 4,
  KL_INGEST_F_START = 1u << 5,
  KL_INGEST_F_END = 1u << 6,
  KL_INGEST_F_COMPLETION_START = 1u << 7,
  KL_INGEST_F_MODEL = 1u << 8,
  KL_INGEST_F_PROVIDER = 1u << 9,
  KL_INGEST_F_UPSTREAM_MODEL = 1u << 10,
  KL_INGEST_F_MODEL_PARAMS = 1u << 11,
  KL_INGEST_F_INPUT = 1u << 12,
  KL_INGEST_F_OUTPUT = 1u << 13,
  KL_INGEST_F_METADATA = 1u << 14,     /* merged key by key, not replaced */
  KL_INGEST_F_FINISH_REASON = 1u << 15,
  KL_INGEST_F_USAGE = 1u << 16,        /* all five usage_* buckets + usage_json together */
  KL_INGEST_F_COST = 1u << 17,         /* cost_usd + cost_json together */
  KL_INGEST_F_TRACE_NAME = 1u << 18,
  KL_INGEST_F_USER = 1u << 19,
  KL_INGEST_F_SESSION = 1u << 20,
  KL_INGEST_F_TAGS = 1u << 21,         /* union of both arrays, not replaced */
  KL_INGEST_F_ENVIRONMENT = 1u << 22,
  KL_INGEST_F_RELEASE = 1u << 23,
  KL_INGEST_F_VERSION = 1u << 24,      /* extension field `version` */
  KL_INGEST_F_PROMPT = 1u << 25,       /* extension fields prompt_name + prompt_version */
};

typedef enum { KL_INGEST_NONE = 0, KL_INGEST_TRACE, KL_INGEST_OBS, KL_INGEST_SCORE } kl_ingest_kind;
typedef enum { KL_INGEST_CREATE = 0, KL_INGEST_UPDATE } kl_ingest_op;

/* One (partial) observation or trace record.  Strings are arena-owned.  The three extension
 * fields are what kl_obs cannot hold today. */
typedef struct kl_ingest_obs {
  kl_obs obs;
  uint32_t set;              /* KL_INGEST_F_* */
  kl_ingest_kind kind;       /* KL_INGEST_OBS or KL_INGEST_TRACE */
  kl_ingest_op op;
  int64_t received_ns;       /* envelope timestamp (Langfuse) or 0: orders updates */
  const char *version;       /* langfuse version (of the app / prompt flow), NULL = absent */
  const char *prompt_name;   /* linked Langfuse prompt, NULL = absent */
  int64_t prompt_version;    /* 0 = absent */
} kl_ingest_obs;

/* A score (Langfuse score-create).  Mirrors the store's `scores` table. */
typedef struct kl_ingest_score {
  char id[KL_OBS_ID_MAX + 1];
  char trace_id[KL_OBS_ID_MAX + 1];       /* "" = none */
  char observation_id[KL_OBS_ID_MAX + 1]; /* "" = none */
  char session_id[KL_OBS_ID_MAX + 1];     /* "" = none */
  char dataset_run_id[KL_OBS_ID_MAX + 1]; /* "" = none */
  const char *name;
  const char *data_type;     /* NUMERIC | BOOLEAN | CATEGORICAL | TEXT */
  double value;              /* NUMERIC and BOOLEAN (0/1); 0 otherwise */
  const char *string_value;  /* CATEGORICAL / TEXT value; "True"/"False" for BOOLEAN */
  const char *source;        /* API | EVAL | ANNOTATION (default API) */
  const char *comment;
  const char *config_id;
  const char *environment;
  const char *metadata_json;
  int64_t timestamp_ns;
} kl_ingest_score;

/* ---- OTLP spans -> observations ---- */

/* Maps one span (type, model, usage, cost, content, trace fields, metadata: see ingest_map.c
 * for the attribute table).  Never fails: unknown attributes go to metadata. */
void kl_ingest_otlp_span(const kl_otlp_span *sp, kl_arena *a, kl_ingest_obs *out);
/* Maps every span of req into an arena array of req->nspans records. */
kl_ingest_obs *kl_ingest_otlp_map(const kl_otlp_request *req, kl_arena *a);
/* ExportTraceServiceResponse for req: "{}" or {"partialSuccess":{"rejectedSpans":"N",
 * "errorMessage":".."}} when json, the protobuf encoding otherwise (empty when nothing was
 * rejected). */
void kl_ingest_otlp_reply(const kl_otlp_request *req, bool json, kl_buf *out);

/* ---- Langfuse batches ---- */

typedef struct kl_ingest_event {
  const char *id;            /* envelope id ("" when missing) */
  const char *type;          /* as sent; "" when missing */
  int status;                /* 201, or 400 with `error` */
  const char *error;
  kl_ingest_kind kind;       /* NONE for sdk-log, duplicates and errors */
  kl_ingest_obs obs;         /* kind TRACE / OBS */
  kl_ingest_score score;     /* kind SCORE */
} kl_ingest_event;

typedef struct kl_ingest_batch {
  kl_ingest_event *events;   /* in batch order */
  size_t n;
  size_t nerrors;
  const char *metadata_json; /* the batch's "metadata" object (SDK name/version), or NULL */
} kl_ingest_batch;

/* Parses an ingestion body.  0 on success (per-event errors are in the events); -1 with err
 * (400) only when the body is not a JSON object with a "batch" array.  An envelope id seen
 * twice in one batch is applied once (the later copy succeeds with kind NONE). */
int kl_ingest_langfuse(const char *body, size_t len, kl_arena *a, kl_ingest_batch *out, kl_err *err);
/* {"successes":[{"id","status":201}],"errors":[{"id","status":400,"message"}]} */
void kl_ingest_langfuse_reply(const kl_ingest_batch *b, kl_buf *out);

/* ---- applying partial records ---- */

/* Sorts pointers to records so that, per key, creates come before updates and updates keep
 * their envelope-timestamp order (stable; records of different keys keep their order). */
void kl_ingest_order(kl_ingest_obs **recs, size_t n);
/* Folds src into dst (same key): every field whose bit is set in src replaces dst's, except
 * METADATA (objects merged key by key, src winning) and TAGS (union); dst->set |= src->set.
 * An update's TYPE only fills in a missing type.  Start dst as a copy of the first record in
 * kl_ingest_order() order (or, in the store, the stored row with the bits of its non-NULL
 * fields set).  Strings are shared with src or allocated in `a`. */
void kl_ingest_merge(kl_ingest_obs *dst, const kl_ingest_obs *src, kl_arena *a);

#endif
