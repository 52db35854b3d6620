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

#endif
