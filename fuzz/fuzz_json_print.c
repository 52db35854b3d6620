/* fuzz_json_print.c: keel's JSON printer (json_print.c) against cJSON's on hostile input.
 * The input is parsed by cJSON and, when it is plain enough, by the arena parser too; every
 * tree (and every member's value on its own, as kl_json_pick prints them) must print to
 * cJSON_PrintUnformatted's bytes through kl_json_write and kl_json_print_arena alike. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/kl_base.h"

static void same(kl_arena *a, const cJSON *j) {
  char *want = cJSON_PrintUnformatted(j);
  kl_buf b = KL_BUF_INIT;
  bool ok = kl_json_write(&b, j);
  const char *ar = kl_json_print_arena(a, j);
  if (!want) {
    if (ok || ar || b.len) abort();
  } else {
    size_t n = strlen(want);
    if (!ok || b.len != n || memcmp(b.data, want, n) != 0) abort();
    if (!ar || strcmp(ar, want) != 0) abort();
  }
  cJSON_free(want);
  kl_buf_free(&b);
}

static void each(kl_arena *a, const cJSON *j, int depth) {
  same(a, j);
  if (depth >= 3) return;
  for (const cJSON *c = j->child; c; c = c->next) each(a, c, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  kl_arena *a = kl_arena_new(1024);
  cJSON *j = cJSON_ParseWithLength(s, size);
  if (j) each(a, j, 0);
  cJSON *t = kl_json_parse_arena(a, s, size);
  if (t) {
    char *from_arena = kl_json_print_arena(a, t), *from_cjson = j ? cJSON_PrintUnformatted(j) : NULL;
    if (!from_arena || !from_cjson || strcmp(from_arena, from_cjson) != 0) abort();
    cJSON_free(from_cjson);
    each(a, t, 0);
  }
  cJSON_Delete(j);
  kl_arena_free(a);
  return 0;
}
