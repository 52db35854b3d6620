/* config_int.h: internals shared by config.c (the YAML walk) and config_value.c (scalar
 * conversions and ${ENV} expansion).  Not part of the public API: include kl_config.h.
 *
 * The value helpers know nothing about YAML or line numbers: they return false and write a
 * short problem ("expected an integer, got 'abc'") into `why`, and config.c prefixes it with
 * "PATH:LINE: key: ".  That keeps every message in one format and the helpers testable. */
#ifndef KL_CONFIG_INT_H
#define KL_CONFIG_INT_H

#include "gateway/kl_config.h"

#define KL_CFG_WHY 160 /* size of the `why` buffers */

/* Allocation that aborts on OOM, like the rest of keel; config strings are plain malloc'd. */
char *kl_cfg_strdup(const char *s);
char *kl_cfg_strndup(const char *s, size_t n);
void *kl_cfg_calloc(size_t n, size_t size);

/* ${NAME}, ${NAME:-default} and "$$" in n bytes of s; returns a malloc'd string or NULL. */
char *kl_cfg_expand(const char *s, size_t n, char why[KL_CFG_WHY]);

bool kl_cfg_int(const char *s, long long min, long long max, long long *out, char why[KL_CFG_WHY]);
bool kl_cfg_bool(const char *s, bool *out, char why[KL_CFG_WHY]);
bool kl_cfg_price(const char *s, double *out, char why[KL_CFG_WHY]);
/* "host:port", "[v6]:port", ":port" or "port"; *host is malloc'd. */
bool kl_cfg_listen(const char *s, char **host, int *port, char why[KL_CFG_WHY]);
/* http(s) URL without trailing slashes; returns a malloc'd string or NULL. */
char *kl_cfg_base_url(const char *s, char why[KL_CFG_WHY]);
/* Closest candidate within a small edit distance, or NULL. */
const char *kl_cfg_suggest(const char *key, const char *const *cands, size_t n);

/* ---- the YAML walk (config.c), shared with the sections in their own files ---- */
#include <yaml.h>
#include <stddef.h>

typedef struct walk {
  yaml_document_t *doc;
  const char *path; /* for messages: the file name or "<config>" */
  kl_err *err;
} walk;

typedef enum { F_OTHER, F_INT, F_LONG, F_SIZE, F_BOOL, F_PRICE, F_STR } ftype;

/* One key of a mapping section.  F_OTHER keys are allowed but handled by the caller.
 * For F_STR, min 1 means "must not be empty" and min 0 means "empty = NULL". */
typedef struct field {
  const char *key;
  ftype type;
  size_t off;
  long long min, max;
} field;

#define OTHER(k) {k, F_OTHER, 0, 0, 0}
#define NF(t) (sizeof(t) / sizeof((t)[0]))

bool kl_cfg_fail(walk *w, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *kl_cfg_kind(const yaml_node_t *n);
const yaml_node_t *kl_cfg_node(walk *w, int id);
bool kl_cfg_is_null(const yaml_node_t *n);
const yaml_node_t *kl_cfg_get(walk *w, const yaml_node_t *map, const char *key);
bool kl_cfg_check_keys(walk *w, const yaml_node_t *map, const field *f, size_t nf, const char *where);
/* A scalar, ${ENV}-expanded, malloc'd ("" for null); NULL after failing. */
char *kl_cfg_value(walk *w, const yaml_node_t *n, const char *where);
/* A sequence of scalars (or one scalar) into a malloc'd array of malloc'd strings. */
bool kl_cfg_str_list(walk *w, const yaml_node_t *v, const char *where, const char ***out, size_t *n);
/* Checks the keys of `map` and stores every non-F_OTHER field into `base`. */
bool kl_cfg_apply_fields(walk *w, const yaml_node_t *map, const field *f, size_t nf, void *base, const char *prefix);
unsigned long kl_cfg_line_of(const yaml_node_t *n);

/* config_guard.c: the `guardrails:` section and a model's `guardrails:` key. */
bool kl_cfg_load_guardrails(walk *w, kl_config *c, const yaml_node_t *n);
/* After the models are loaded: every model's policy name exists. */
bool kl_cfg_check_policies(walk *w, kl_config *c);
void kl_cfg_free_guardrails(kl_config *c);

/* config_export.c: the `export:` section (export.otlp). */
bool kl_cfg_load_export(walk *w, kl_config *c, const yaml_node_t *n);
void kl_cfg_free_export(kl_config *c);

#endif
