/* json.c: the few things keel needs on top of cJSON.  cJSON accepts invalid UTF-8
 * and stores numbers as doubles, so: inputs are UTF-8-checked before parsing, and
 * integers are read from valuedouble (valueint saturates at INT_MAX).
 *
 * Member lookups: cJSON_GetObjectItemCaseSensitive is a call into the shared library and a
 * strcmp per member; a gateway call made ~40 such lookups (~4.8k instructions on the event
 * loop, bench/callgrind_calls.sh), so kl_json_get compares two bytes before calling strcmp
 * and kl_json_fields finds several members in one walk.  Both answer exactly as cJSON's
 * lookup: the first member of that name, none past a member without a name.  Printing is
 * json_print.c. */
#include "base/kl_base.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* strcmp(a, b) == 0, with the first two bytes compared before calling strcmp: most member
 * names differ from the key in one of them, where the call would cost more than the answer;
 * strcmp is left the long comparisons, which it makes 32 bytes at a time. */
static inline bool same_key(const char *a, const char *b) {
  return a[0] == b[0] && (!a[0] || (a[1] == b[1] && (!a[1] || !strcmp(a + 2, b + 2))));
}

const cJSON *kl_json_get(const cJSON *obj, const char *key) {
  if (!obj || !key) return NULL;
  for (const cJSON *c = obj->child; c && c->string; c = c->next)
    if (same_key(c->string, key)) return c;
  return NULL;
}

/* The keys are chained by their first byte (mod 32: the letters fall in distinct chains), so
 * a member is compared only with the keys that start like it, not with all of them. */
void kl_json_fields(const cJSON *obj, const char *const *keys, size_t nkeys, const cJSON **found) {
  for (size_t k = 0; k < nkeys; k++) found[k] = NULL;
  if (!obj || !obj->child) return;
  if (nkeys > 64) { /* on no hot path: a lookup each (the same answers, keys being distinct) */
    for (size_t k = 0; k < nkeys; k++) found[k] = kl_json_get(obj, keys[k]);
    return;
  }
  unsigned char head[32] = {0}, next[64]; /* key index + 1; 0 ends a chain */
  for (size_t k = nkeys; k-- > 0;) {
    unsigned b = (unsigned char)keys[k][0] & 31;
    next[k] = head[b];
    head[b] = (unsigned char)(k + 1);
  }
  size_t left = nkeys;
  for (const cJSON *c = obj->child; left && c && c->string; c = c->next) {
    const char *s = c->string;
    for (unsigned k = head[(unsigned char)s[0] & 31]; k; k = next[k - 1])
      if (!found[k - 1] && same_key(keys[k - 1], s)) { /* keys are distinct: one match at most */
        found[k - 1] = c;
        left--;
        break;
      }
  }
}

int64_t kl_json_int_of(const cJSON *v, int64_t def) {
  if (!cJSON_IsNumber(v)) return def;
  double d = v->valuedouble;
  if (!isfinite(d) || d > 9007199254740992.0 || d < -9007199254740992.0) return def;
  return (int64_t)d;
}

int64_t kl_json_int(const cJSON *obj, const char *key, int64_t def) {
  return kl_json_int_of(kl_json_get(obj, key), def);
}

const char *kl_json_str(const cJSON *obj, const char *key) {
  const cJSON *v = kl_json_get(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *kl_json_parse(const char *s, size_t n, kl_err *err) {
  if (n == 0) {
    kl_err_set(err, 400, "empty body: expected a JSON object");
    return NULL;
  }
  if (!kl_utf8_valid(s, n)) {
    kl_err_set(err, 400, "body is not valid UTF-8");
    return NULL;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
  if (!j) {
    size_t off = end ? (size_t)(end - s) : 0;
    if (off > n) off = n;
    kl_err_set(err, 400, "malformed JSON near byte %zu", off);
    return NULL;
  }
  /* trailing garbage (other than whitespace) is an error too */
  if (end) {
    while ((size_t)(end - s) < n && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if ((size_t)(end - s) < n) {
      kl_err_set(err, 400, "malformed JSON: trailing data at byte %zu", (size_t)(end - s));
      cJSON_Delete(j);
      return NULL;
    }
  }
  return j;
}

size_t kl_json_pick(kl_buf *out, const cJSON *obj, const char *const *keys, size_t nkeys) {
  size_t n = 0;
  const cJSON *found[16];
  for (size_t k0 = 0; obj && k0 < nkeys; k0 += 16) {
    size_t m = nkeys - k0 < 16 ? nkeys - k0 : 16;
    kl_json_fields(obj, keys + k0, m, found);
    for (size_t k = 0; k < m; k++) {
      const cJSON *v = found[k];
      if (!v || cJSON_IsNull(v)) continue;
      size_t mark = out->len;
      if (n) kl_buf_putc(out, ',');
      kl_buf_json_str(out, keys[k0 + k], strlen(keys[k0 + k]));
      kl_buf_putc(out, ':');
      if (!kl_json_write(out, v)) { /* cJSON cannot print it: skipped, as before */
        out->len = mark;
        out->data[mark] = 0;
        continue;
      }
      n++;
    }
  }
  return n;
}
