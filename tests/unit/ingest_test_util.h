/* ingest_test_util.h: fixtures for the ingest tests: captured SDK requests under
 * tests/data/captures/ (see its README) and a tiny protobuf writer for hand-built bodies. */
#ifndef INGEST_TEST_UTIL_H
#define INGEST_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/kl_ingest.h"

/* Whole file (malloc'd, NUL-terminated), or NULL. */
static inline char *it_read(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/data/captures/%s", KEEL_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
  b[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* The request body of a capture, re-serialised (compact) exactly as a client sends JSON;
 * `index` selects the request when the file holds an array of requests. */
static inline char *it_capture_body(const char *name, int index) {
  size_t n;
  char *raw = it_read(name, &n);
  if (!raw) return NULL;
  cJSON *j = cJSON_Parse(raw);
  free(raw);
  if (cJSON_IsArray(j)) {
    cJSON *r = cJSON_DetachItemFromArray(j, index);
    cJSON_Delete(j);
    j = r;
  }
  char *body = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "body"));
  cJSON_Delete(j);
  return body;
}

/* ---- protobuf writer ---- */
static inline void pbw_varint(kl_buf *b, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    kl_buf_append(b, &c, 1);
  } while (v);
}
static inline void pbw_tag(kl_buf *b, uint32_t field, int wt) { pbw_varint(b, (uint64_t)field << 3 | (uint64_t)wt); }
static inline void pbw_bytes(kl_buf *b, uint32_t field, const void *p, size_t n) {
  pbw_tag(b, field, 2);
  pbw_varint(b, n);
  kl_buf_append(b, p, n);
}
static inline void pbw_str(kl_buf *b, uint32_t field, const char *s) { pbw_bytes(b, field, s, strlen(s)); }
/* Appends sub as a length-delimited field and frees it. */
static inline void pbw_msg(kl_buf *b, uint32_t field, kl_buf *sub) {
  pbw_bytes(b, field, sub->data ? sub->data : "", sub->len);
  kl_buf_free(sub);
}
static inline void pbw_fixed64(kl_buf *b, uint32_t field, uint64_t v) {
  pbw_tag(b, field, 1);
  for (int i = 0; i < 8; i++) {
    uint8_t c = (uint8_t)(v >> (8 * i));
    kl_buf_append(b, &c, 1);
  }
}
static inline void pbw_varint_field(kl_buf *b, uint32_t field, uint64_t v) {
  pbw_tag(b, field, 0);
  pbw_varint(b, v);
}
/* KeyValue{key, AnyValue{string_value}} */
static inline void pbw_attr_str(kl_buf *b, uint32_t field, const char *key, const char *val) {
  kl_buf kv = KL_BUF_INIT, av = KL_BUF_INIT;
  pbw_str(&kv, 1, key);
  pbw_str(&av, 1, val);
  pbw_msg(&kv, 2, &av);
  pbw_msg(b, field, &kv);
}
static inline void pbw_attr_int(kl_buf *b, uint32_t field, const char *key, int64_t val) {
  kl_buf kv = KL_BUF_INIT, av = KL_BUF_INIT;
  pbw_str(&kv, 1, key);
  pbw_varint_field(&av, 3, (uint64_t)val);
  pbw_msg(&kv, 2, &av);
  pbw_msg(b, field, &kv);
}

#endif
