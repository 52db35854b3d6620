/* bench_guard_pii.c: accuracy of the guard's PII scanners on a labelled data set.
 *
 *   bench_guard_pii [FILE]   (default: /work/shared/data/pii/synth_dataset_v2.json)
 *
 * FILE is Presidio's synthetic set: [{"full_text", "spans": [{"entity_type", "start_position",
 * "end_position"}]}]; positions count code points (Python strings), the guard's bytes, so
 * they are converted.  A prediction is a true positive when it overlaps a labelled span of
 * the same type; a labelled span is found when some prediction of its type overlaps it.
 * Prints precision, recall and F2 per type the guard detects, and the micro average. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

typedef struct { long tp, fp, found, labelled; } stats;

/* Byte offset of code point cp in s. */
static size_t cp_to_byte(const char *s, size_t n, long cp) {
  size_t i = 0;
  for (long c = 0; i < n && c < cp; c++) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
  }
  return i;
}

static int type_index(const char *name) {
  for (int t = 0; t < KL_GUARD_NTYPES; t++)
    if (!strcmp(name, kl_guard_type_name((kl_guard_type)t))) return t;
  return -1;
}

static void print_row(const char *name, const stats *s) {
  double p = s->tp + s->fp ? (double)s->tp / (double)(s->tp + s->fp) : 0;
  double r = s->labelled ? (double)s->found / (double)s->labelled : 0;
  double f2 = p + r > 0 ? 5 * p * r / (4 * p + r) : 0;
  printf("%-14s %6ld %6ld %6ld %9.3f %7.3f %6.3f\n", name, s->labelled, s->tp, s->fp, p, r, f2);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/work/shared/data/pii/synth_dataset_v2.json";
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    perror(path);
    return 2;
  }
  kl_buf in = KL_BUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) kl_buf_append(&in, chunk, n);
  fclose(fp);
  cJSON *root = cJSON_ParseWithLength(in.data, in.len);
  kl_buf_free(&in);
  if (!cJSON_IsArray(root)) {
    fprintf(stderr, "%s: not a JSON array\n", path);
    return 2;
  }
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new("default", NULL, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  stats st[KL_GUARD_NTYPES] = {0};
  bool verbose = getenv("GUARD_EVAL_VERBOSE") != NULL;
  kl_arena *a = kl_arena_new(1 << 16);
  const cJSON *doc;
  cJSON_ArrayForEach(doc, root) {
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "full_text"));
    const cJSON *spans = cJSON_GetObjectItem(doc, "spans");
    if (!text) continue;
    size_t len = strlen(text);
    kl_guard_finding *f = NULL;
    long nf = kl_guard_scan(p, text, len, a, &f, &err);
    if (nf < 0) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    int nspans = cJSON_GetArraySize(spans);
    size_t *ls = kl_arena_alloc(a, (size_t)(nspans + 1) * 2 * sizeof *ls);
    int *lt = kl_arena_alloc(a, (size_t)(nspans + 1) * sizeof *lt);
    for (int i = 0; i < nspans; i++) {
      const cJSON *s = cJSON_GetArrayItem(spans, i);
      lt[i] = type_index(cJSON_GetStringValue(cJSON_GetObjectItem(s, "entity_type")));
      ls[2 * i] = cp_to_byte(text, len, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "start_position")));
      ls[2 * i + 1] = cp_to_byte(text, len, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "end_position")));
      if (lt[i] < 0) continue;
      st[lt[i]].labelled++;
      bool hit = false;
      for (long k = 0; k < nf && !hit; k++)
        hit = type_index(f[k].type) == lt[i] && f[k].start < ls[2 * i + 1] && ls[2 * i] < f[k].end;
      st[lt[i]].found += hit;
      if (!hit && verbose) printf("FN %s: %.*s\n", kl_guard_type_name((kl_guard_type)lt[i]),
                                  (int)(ls[2 * i + 1] - ls[2 * i]), text + ls[2 * i]);
    }
    for (long k = 0; k < nf; k++) {
      int t = type_index(f[k].type);
      bool hit = false;
      for (int i = 0; i < nspans && !hit; i++) hit = lt[i] == t && f[k].start < ls[2 * i + 1] && ls[2 * i] < f[k].end;
      if (hit) st[t].tp++;
      else st[t].fp++;
      if (!hit && verbose) printf("FP %s (%s): %.*s\n", f[k].type, f[k].rule, (int)(f[k].end - f[k].start), text + f[k].start);
    }
    kl_arena_reset(a);
  }
  printf("%-14s %6s %6s %6s %9s %7s %6s\n", "type", "labels", "tp", "fp", "precision", "recall", "F2");
  stats all = {0};
  for (int t = 0; t < KL_GUARD_NTYPES; t++) {
    if (!st[t].labelled && !st[t].tp && !st[t].fp) continue;
    print_row(kl_guard_type_name((kl_guard_type)t), &st[t]);
    all.tp += st[t].tp; all.fp += st[t].fp; all.found += st[t].found; all.labelled += st[t].labelled;
  }
  print_row("micro (ours)", &all);
  kl_arena_free(a);
  kl_guard_policy_free(p);
  cJSON_Delete(root);
  return 0;
}
