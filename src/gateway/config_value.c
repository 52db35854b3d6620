/* config_value.c: turning configuration scalars into typed values.
 *
 * Every scalar value (never a key) goes through kl_cfg_expand first, so "${PORT:-4000}"
 * can feed an integer field; only then is it converted.  Conversions are strict on purpose:
 * "8MB", "-1", "1e3" or "99999999999999999999" for an integer are errors, not a silent 0 or
 * a wrapped value, because a gateway that quietly runs with a different limit than the
 * operator wrote is worse than one that refuses to start. */
#include "gateway/config_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void *oom(size_t n) {
  fprintf(stderr, "keel: out of memory (config, %zu bytes)\n", n);
  abort();
}

char *kl_cfg_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) oom(n + 1);
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *kl_cfg_strdup(const char *s) { return s ? kl_cfg_strndup(s, strlen(s)) : NULL; }

void *kl_cfg_calloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom(n * size);
  return p;
}

/* ---- ${ENV} expansion ----
 * The default in ${NAME:-default} is taken verbatim up to the first '}' (no nesting), and
 * like the shell it applies when NAME is unset or empty.  A '$' not followed by '{' or '$'
 * is literal, so "pa$word" needs no escaping. */
char *kl_cfg_expand(const char *s, size_t n, char why[KL_CFG_WHY]) {
  kl_buf out = KL_BUF_INIT;
  kl_buf_reserve(&out, n);
  size_t i = 0;
  while (i < n) {
    const char *dollar = memchr(s + i, '$', n - i);
    size_t lit = dollar ? (size_t)(dollar - (s + i)) : n - i;
    kl_buf_append(&out, s + i, lit);
    i += lit;
    if (i >= n) break;
    if (i + 1 < n && s[i + 1] == '$') {
      kl_buf_putc(&out, '$');
      i += 2;
      continue;
    }
    if (i + 1 >= n || s[i + 1] != '{') {
      kl_buf_putc(&out, '$');
      i++;
      continue;
    }
    const char *body = s + i + 2;
    const char *close = memchr(body, '}', n - (i + 2));
    if (!close) {
      snprintf(why, KL_CFG_WHY, "unterminated '${' (expected '}')");
      kl_buf_free(&out);
      return NULL;
    }
    size_t blen = (size_t)(close - body), nlen = 0;
    while (nlen < blen && (isalpha((unsigned char)body[nlen]) || body[nlen] == '_' ||
                           (nlen > 0 && isdigit((unsigned char)body[nlen]))))
      nlen++;
    bool has_def = nlen + 2 <= blen && body[nlen] == ':' && body[nlen + 1] == '-';
    if (nlen == 0 || nlen > 128 || (nlen != blen && !has_def)) {
      snprintf(why, KL_CFG_WHY, "bad variable reference '${%.*s}' (expected ${NAME} or ${NAME:-default})",
               (int)(blen > 40 ? 40 : blen), body);
      kl_buf_free(&out);
      return NULL;
    }
    char name[129];
    memcpy(name, body, nlen);
    name[nlen] = 0;
    const char *v = getenv(name);
    if (has_def && (!v || !*v))
      kl_buf_append(&out, body + nlen + 2, blen - nlen - 2);
    else if (v)
      kl_buf_puts(&out, v);
    i = (size_t)(close - s) + 1;
  }
  kl_buf_append(&out, "", 0); /* NUL-terminates even an empty result */
  return kl_buf_steal(&out);
}

/* ---- scalars ---- */

bool kl_cfg_int(const char *s, long long min, long long max, long long *out, char why[KL_CFG_WHY]) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  bool digits = *p != 0;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) digits = false;
  if (!digits) {
    snprintf(why, KL_CFG_WHY, "expected an integer, got '%.40s'", s);
    return false;
  }
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE || v < min || v > max) {
    snprintf(why, KL_CFG_WHY, "%.40s is out of range (%lld..%lld)", s, min, max);
    return false;
  }
  *out = v;
  return true;
}

bool kl_cfg_bool(const char *s, bool *out, char why[KL_CFG_WHY]) {
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) {
    *out = true;
    return true;
  }
  if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) {
    *out = false;
    return true;
  }
  snprintf(why, KL_CFG_WHY, "expected true or false, got '%.40s'", s);
  return false;
}

bool kl_cfg_price(const char *s, double *out, char why[KL_CFG_WHY]) {
  char *end = NULL;
  errno = 0;
  double v = *s ? strtod(s, &end) : 0;
  /* digits, '.', sign and exponent only: strtod would also take "inf", "nan" and hex */
  bool plain = *s != 0;
  for (const char *q = s; *q; q++)
    if (!isdigit((unsigned char)*q) && !strchr(".+-eE", *q)) plain = false;
  if (!plain || !end || *end || errno == ERANGE || !isfinite(v) || v < 0) {
    snprintf(why, KL_CFG_WHY, "expected a non-negative number (USD per 1M tokens), got '%.40s'", s);
    return false;
  }
  *out = v;
  return true;
}

static bool port_of(const char *p, int *port) {
  if (!*p || strlen(p) > 5) return false;
  long v = 0;
  for (; *p; p++) {
    if (!isdigit((unsigned char)*p)) return false;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535) return false;
  *port = (int)v;
  return true;
}

/* Port 0 is allowed: the OS picks a free port (useful for tests). */
bool kl_cfg_listen(const char *s, char **host, int *port, char why[KL_CFG_WHY]) {
  const char *colon, *hs = s;
  size_t hn;
  if (*s == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':' || rb == s + 1) goto bad;
    hs = s + 1;
    hn = (size_t)(rb - hs);
    colon = rb + 1;
    if (!memchr(hs, ':', hn)) goto bad; /* brackets are for IPv6 only */
  } else {
    colon = strrchr(s, ':');
    if (!colon) {
      if (!port_of(s, port)) goto bad;
      *host = kl_cfg_strdup("127.0.0.1");
      return true;
    }
    hn = (size_t)(colon - s);
    if (memchr(s, ':', hn)) {
      snprintf(why, KL_CFG_WHY, "'%.60s': IPv6 addresses need brackets, e.g. [::1]:4000", s);
      return false;
    }
  }
  for (size_t i = 0; i < hn; i++)
    if (isspace((unsigned char)hs[i]) || strchr("/[]@", hs[i])) goto bad;
  if (!port_of(colon + 1, port)) goto bad;
  *host = hn ? kl_cfg_strndup(hs, hn) : kl_cfg_strdup("127.0.0.1");
  return true;
bad:
  snprintf(why, KL_CFG_WHY, "expected host:port, [v6]:port, :port or a port (0-65535), got '%.40s'", s);
  return false;
}

char *kl_cfg_base_url(const char *s, char why[KL_CFG_WHY]) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '/') n--;
  size_t scheme = !strncasecmp(s, "https://", 8) ? 8 : !strncasecmp(s, "http://", 7) ? 7 : 0;
  if (!scheme) {
    snprintf(why, KL_CFG_WHY, "must start with http:// or https://, got '%.60s'", s);
    return NULL;
  }
  bool ok = n > scheme;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) ok = false;
  if (!ok) {
    snprintf(why, KL_CFG_WHY, "not a valid URL: '%.60s'", s);
    return NULL;
  }
  char *u = kl_cfg_strndup(s, n);
  for (size_t i = 0; i < scheme; i++) u[i] = (char)tolower((unsigned char)u[i]); /* "HTTPS://" */
  return u;
}

/* ---- public helpers ---- */

bool kl_config_is_loopback(const char *host) {
  if (!host || !*host) return false;
  if (!strcasecmp(host, "localhost")) return true;
  unsigned char a[16];
  if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
  char tmp[64];
  size_t n = strlen(host);
  if (n >= 2 && n < sizeof tmp && host[0] == '[' && host[n - 1] == ']') { /* "[::1]" */
    memcpy(tmp, host + 1, n - 2);
    tmp[n - 2] = 0;
    host = tmp;
  }
  struct in6_addr a6;
  if (inet_pton(AF_INET6, host, &a6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127; /* ::ffff:127.0.0.1 */
}

const char *kl_provider_name(kl_provider_type t) {
  switch (t) {
  case KL_PROVIDER_MOCK: return "mock";
  case KL_PROVIDER_OPENAI: return "openai";
  case KL_PROVIDER_ANTHROPIC: return "anthropic";
  }
  return "unknown";
}

/* ---- "did you mean" ---- */

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t row[65];
  if (la > 64 || lb > 64) return (size_t)-1;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *kl_cfg_suggest(const char *key, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bestd = 3; /* at most two edits, and fewer than the key has characters */
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(key, cands[i]);
    if (d < bestd && d < strlen(key)) {
      bestd = d;
      best = cands[i];
    }
  }
  return best;
}

/* A sequence of scalars (or one scalar) into a malloc'd array of malloc'd strings. */
bool kl_cfg_str_list(walk *w, const yaml_node_t *v, const char *where, const char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!v) return true;
  if (v->type == YAML_SCALAR_NODE) {
    char *s = kl_cfg_value(w, v, where);
    if (!s) return false;
    const char **l = kl_cfg_calloc(1, sizeof *l);
    l[0] = s;
    *out = l;
    *n = 1;
    return true;
  }
  if (v->type != YAML_SEQUENCE_NODE) return kl_cfg_fail(w, v, "%s: expected a list, got %s", where, kl_cfg_kind(v));
  size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  const char **l = kl_cfg_calloc(cnt ? cnt : 1, sizeof *l);
  *out = l;
  for (size_t i = 0; i < cnt; i++) {
    char wh[256];
    snprintf(wh, sizeof wh, "%.200s[%zu]", where, i);
    char *s = kl_cfg_value(w, kl_cfg_node(w, v->data.sequence.items.start[i]), wh);
    if (!s) return false;
    l[(*n)++] = s;
  }
  return true;
}
