/* kl_base.h: the base layer, included by everything above it.
 *
 * Small, dependency-free helpers: errors as values (kl_err), a per-request arena
 * (kl_arena), a growable byte buffer (kl_buf), logging, clocks, W3C-compatible ids,
 * and JSON helpers over cJSON that keel needs everywhere (UTF-8 validation,
 * 64-bit integers, string escaping).  Nothing here knows about HTTP or LLMs. */
#ifndef KL_BASE_H
#define KL_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors: values with messages, never exit() ---- */
typedef struct kl_err {
  int code;       /* 0 = ok; otherwise a module-specific code (often an HTTP status) */
  char msg[256];
} kl_err;

void kl_err_set(kl_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void kl_err_clear(kl_err *err) { if (err) { err->code = 0; err->msg[0] = 0; } }
static inline bool kl_err_ok(const kl_err *err) { return !err || err->code == 0; }

/* ---- arena: one per request; everything allocated in it dies with it ---- */
typedef struct kl_arena kl_arena;

kl_arena *kl_arena_new(size_t first_chunk);
void kl_arena_free(kl_arena *a);
void kl_arena_reset(kl_arena *a);          /* keep the first chunk, drop the rest */
void *kl_arena_alloc(kl_arena *a, size_t n);        /* 16-byte aligned, never NULL (aborts on OOM) */
void *kl_arena_calloc(kl_arena *a, size_t n);
char *kl_arena_strdup(kl_arena *a, const char *s);  /* NULL in, NULL out */
char *kl_arena_strndup(kl_arena *a, const char *s, size_t n);
char *kl_arena_sprintf(kl_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *kl_arena_concat(kl_arena *a, const char *x, const char *y);
/* Room for one more element in the arena array v of n used and *cap allocated: v itself, or a
 * copy twice the size (`first` elements when empty); the old array simply dies with the arena.
 * Usage: v = kl_arena_grow(a, v, n, &cap, sizeof *v, 16); v[n++] = x; */
void *kl_arena_grow(kl_arena *a, void *v, size_t n, size_t *cap, size_t elem, size_t first);
/* The same for bytes: room for `need` bytes in the arena buffer v of `used` bytes and *cap
 * allocated (at least twice the old size, `first` when empty). */
void *kl_arena_reserve(kl_arena *a, void *v, size_t used, size_t *cap, size_t need, size_t first);
size_t kl_arena_used(const kl_arena *a);

/* ---- buffer: growable, heap-owned, always NUL-terminated ---- */
typedef struct kl_buf {
  char *data;
  size_t len;
  size_t cap;
} kl_buf;

#define KL_BUF_INIT {NULL, 0, 0}
void kl_buf_reserve(kl_buf *b, size_t extra);
void kl_buf_append(kl_buf *b, const void *data, size_t n);
void kl_buf_puts(kl_buf *b, const char *s);
void kl_buf_putc(kl_buf *b, char c);
void kl_buf_printf(kl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kl_buf_vprintf(kl_buf *b, const char *fmt, va_list ap);
void kl_buf_i64(kl_buf *b, int64_t v);        /* printf's "%" PRId64, without printf */
/* The same digits written backwards from end (which has room for 20 before it): returns
 * where they start. */
char *kl_i64_digits(char *end, int64_t v);
void kl_buf_g15(kl_buf *b, double v);         /* printf's "%.15g", byte for byte, mostly without printf */
void kl_buf_consume(kl_buf *b, size_t n);  /* drop n bytes from the front */
void kl_buf_reset(kl_buf *b);              /* len = 0, keep memory */
void kl_buf_free(kl_buf *b);
char *kl_buf_steal(kl_buf *b);             /* caller frees; b is empty after */
/* Appends what fd holds up to end of file: 0, or -1 with errno set on a read error, or with
 * errno EFBIG once more than max bytes came (0: no limit); b keeps what was read either way. */
int kl_buf_read_fd(kl_buf *b, int fd, size_t max);
/* kl_buf_read_fd of the file at path (opened read-only and closed again). */
int kl_buf_read_path(kl_buf *b, const char *path, size_t max);
/* base64.c: decodes n bytes of base64 (standard or URL-safe alphabet, '=' padding optional,
 * only at the end) into out, which must hold kl_base64_max(n) bytes; out is NUL-terminated.
 * Returns the decoded length, or -1 when s is not base64 (another byte, or one dangling
 * character). */
#define kl_base64_max(n) ((n) / 4 * 3 + 3)
ptrdiff_t kl_base64_decode(const char *s, size_t n, unsigned char *out);
/* Appends s as a JSON string literal (with quotes); invalid UTF-8 becomes U+FFFD. */
void kl_buf_json_str(kl_buf *b, const char *s, size_t n);
/* How many bytes from s on (of n) a JSON string holds as they are: none of '"', '\\' or a byte
 * below 0x20, nor with ascii a byte from 0x80 on (json_print.c). */
size_t kl_json_plain_len(const char *s, size_t n, bool ascii);
/* Appends keel's error body, OpenAI's shape: {"error":{"message","type","param","code"}};
 * param and code may be NULL (null). */
void kl_buf_error_json(kl_buf *b, const char *message, const char *type, const char *param, const char *code);

/* ---- logging: one line per call to stderr, thread-safe ---- */
typedef enum { KL_LOG_DEBUG = 0, KL_LOG_INFO, KL_LOG_WARN, KL_LOG_ERROR } kl_log_level;
void kl_log_set_level(kl_log_level lvl);
kl_log_level kl_log_get_level(void);
void kl_log(kl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define kl_debug(...) kl_log(KL_LOG_DEBUG, __VA_ARGS__)
#define kl_info(...) kl_log(KL_LOG_INFO, __VA_ARGS__)
#define kl_warn(...) kl_log(KL_LOG_WARN, __VA_ARGS__)
#define kl_error(...) kl_log(KL_LOG_ERROR, __VA_ARGS__)

/* ---- time ---- */
int64_t kl_now_ns(void);      /* wall clock, ns since the Unix epoch */
int64_t kl_mono_ns(void);     /* monotonic, for durations */
/* RFC 3339 with milliseconds, UTC: "2026-11-26T19:09:36.123Z" (25 bytes incl. NUL). */
void kl_time_iso(int64_t unix_ns, char out[32]);
/* Parses RFC 3339 (Z or offset, optional fraction) or an integer of ms/s since epoch; -1 on error. */
int64_t kl_time_parse(const char *s);

/* ---- ids: random lowercase hex, W3C trace-context sized ---- */
void kl_id_trace(char out[33]);  /* 16 random bytes, 32 hex chars */
void kl_id_span(char out[17]);   /* 8 random bytes, 16 hex chars */
void kl_random_bytes(void *out, size_t n);
bool kl_id_is_hex(const char *s, size_t want_len);

/* ---- UTF-8 and JSON helpers ---- */
bool kl_utf8_valid(const char *s, size_t n);

typedef struct cJSON cJSON;
/* Integer member (token counts): exact for |v| < 2^53; `def` when absent or not a number. */
int64_t kl_json_int(const cJSON *obj, const char *key, int64_t def);
/* String member or NULL. */
const char *kl_json_str(const cJSON *obj, const char *key);
/* kl_json_int of a member already found (NULL: def). */
int64_t kl_json_int_of(const cJSON *v, int64_t def);
/* cJSON_GetObjectItemCaseSensitive, answering the same (first member of that name), cheaper. */
const cJSON *kl_json_get(const cJSON *obj, const char *key);
/* found[k] = kl_json_get(obj, keys[k]) for every k, in one walk over obj's members; the keys
 * must be distinct. */
void kl_json_fields(const cJSON *obj, const char *const *keys, size_t nkeys, const cJSON **found);
/* Parses n bytes (need not be NUL-terminated) after checking UTF-8; NULL + err on failure. */
cJSON *kl_json_parse(const char *s, size_t n, kl_err *err);
/* A read-only tree of n bytes of plain JSON with every node and string in `a` (json_arena.c):
 * the tree cJSON would build, minus its mallocs.  NULL, without an error, for anything it
 * leaves to kl_json_parse (\u escapes, control bytes, invalid JSON or UTF-8, ...): call that
 * then.  Never cJSON_Delete the tree or modify it with cJSON's functions. */
cJSON *kl_json_parse_arena(kl_arena *a, const char *s, size_t n);
/* Appends `"key":value` for each of keys (distinct) present (and not null) in obj,
 * comma-separated, no braces; returns how many were written (so a caller can add more after
 * a comma). */
size_t kl_json_pick(kl_buf *out, const cJSON *obj, const char *const *keys, size_t nkeys);
/* Prints unformatted into an arena-owned string (json_print.c: cJSON_PrintUnformatted's
 * bytes; NULL where it gives NULL). */
char *kl_json_print_arena(kl_arena *a, const cJSON *j);
/* Appends cJSON_PrintUnformatted(j)'s bytes to out; false, with out unchanged, where that
 * gives NULL (j NULL, an invalid node, a raw node without text). */
bool kl_json_write(kl_buf *out, const cJSON *j);

/* ---- embedded data (generated by cmake/embed.cmake) ---- */
extern const unsigned char kl_embed_prices[];
extern const size_t kl_embed_prices_len;
extern const unsigned char kl_embed_secrets[];  /* data/secrets.json: the gitleaks rules */
extern const size_t kl_embed_secrets_len;
extern const unsigned char kl_embed_gazetteer[];  /* data/pii/gazetteer.txt: names and places (pii_ner.c) */
extern const size_t kl_embed_gazetteer_len;

#endif
