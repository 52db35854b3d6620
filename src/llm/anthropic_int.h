/* anthropic_int.h: small cJSON helpers shared by the anthropic_*.c files (not public).
 * cJSON reports OOM as NULL from constructors, which would silently produce a tree with a
 * hole; keel's rule is abort on OOM, so every constructor goes through anth_nn. */
#ifndef KL_ANTHROPIC_INT_H
#define KL_ANTHROPIC_INT_H

#include "llm/anthropic.h"

#include <stdlib.h>

static inline cJSON *anth_nn(cJSON *j) {
  if (!j) abort();
  return j;
}

/* Member by exact key, with JSON null treated as absent. */
static inline const cJSON *anth_get(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
  return v && !cJSON_IsNull(v) ? v : NULL;
}

/* v when it is an array, else NULL: for cJSON_ArrayForEach, whose macro does not parenthesise
 * its argument (a conditional expression there is a precedence bug). */
static inline const cJSON *anth_arr(const cJSON *v) { return cJSON_IsArray(v) ? v : NULL; }

static inline const char *anth_str(const cJSON *o, const char *k) {
  const cJSON *v = anth_get(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline cJSON *anth_add(cJSON *o, const char *k, cJSON *v) {
  cJSON_AddItemToObject(o, k, anth_nn(v));
  return v;
}

static inline cJSON *anth_add_str(cJSON *o, const char *k, const char *s) {
  return anth_add(o, k, cJSON_CreateString(s ? s : ""));
}

static inline cJSON *anth_add_num(cJSON *o, const char *k, double v) { return anth_add(o, k, cJSON_CreateNumber(v)); }

static inline cJSON *anth_push(cJSON *arr, cJSON *v) {
  cJSON_AddItemToArray(arr, anth_nn(v));
  return v;
}

static inline cJSON *anth_dup(const cJSON *v) { return anth_nn(cJSON_Duplicate(v, 1)); }

/* Unformatted print; malloc'd (cJSON's allocator), never NULL. */
static inline char *anth_print(const cJSON *v) {
  char *p = cJSON_PrintUnformatted(v);
  if (!p) abort();
  return p;
}

#endif
