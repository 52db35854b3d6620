/* bench_guard_pii.c: accuracy of the guard's PII scanner on a labelled data set.
 *
 *   bench_guard_pii [FILE]   (default: /work/shared/data/pii/synth_dataset_v2.json)
 *   GUARD_EVAL_VERBOSE=1     also print the misses (FN) and false alarms (FP) of the dev half
 *   GUARD_EVAL_TYPES=0x...   the policy's type bits (default: all)
 *   GUARD_EVAL_MIN_SCORE=x   the threshold (default: KL_GUARD_DEFAULT_MIN_SCORE, as the default policy)
 *
 * FILE is Presidio's synthetic set: [{"full_text", "spans": [{"entity_type", "start_position",
 * "end_position"}]}]; positions count code points (Python strings), the guard's bytes, so
 * they are converted.  Texts with an even index are the development half (rules were tuned
 * on them), odd ones the held-out half; every figure is given for dev, held-out and all.
 *
 * Two measures:
 *  - spans, per entity class: a finding is a true positive when it overlaps a labelled span of
 *    its class, a labelled span is found when a finding of its class overlaps it.  Labels and
 *    findings are mapped to Presidio's classes (presidio-evaluator's default mapping):
 *    GPE and STREET_ADDRESS -> LOCATION (so are keel's LOCATION and STREET_ADDRESS findings),
 *    DOMAIN_NAME -> URL; the rest keep their names.  "structured" is the micro average over
 *    the structured types keel had before the NER rules (email .. crypto).
 *  - tokens, as presidio-evaluator computes the figures Presidio publishes (0.685 / 0.603 /
 *    0.618): the text is cut into tokens (an approximation of spaCy's: whitespace-separated,
 *    leading ( [ { " ' and trailing . , ; : ! ? ) ] } " ' split off, a possessive 's split
 *    off; whitespace is no token), each token takes the class of the label / finding that
 *    overlaps it (IO scheme), and the PII precision / recall are type-blind: a token predicted
 *    as any class that is labelled as any class counts.  "presidio" keeps Presidio's label
 *    set: labels of classes Presidio does not support (TITLE, AGE, ZIP_CODE) are ignored
 *    (outside, as presidio-evaluator's entities_to_keep does), and every other labelled token
 *    (PERSON, LOCATION, ORGANIZATION, NRP, DATE_TIME, URL, US_DRIVER_LICENSE, ...) is a miss
 *    when no finding covers it.  "all labels" counts TITLE, AGE and ZIP_CODE tokens as PII too.
 *  F2 = 5PR / (4P + R). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

/* Presidio's classes, as mapped here. */
static const char *const classes[] = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
                                      "MAC_ADDRESS", "CRYPTO", "PERSON", "LOCATION", "DATE_TIME", "NRP", "ORGANIZATION",
                                      "URL", "US_DRIVER_LICENSE", "TITLE", "AGE", "ZIP_CODE"};
enum { NCLASS = sizeof classes / sizeof *classes, NSTRUCT = 8, C_TITLE = 15 };  /* TITLE, AGE, ZIP_CODE: not Presidio's */

static int class_of(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "GPE") || !strcmp(name, "STREET_ADDRESS")) name = "LOCATION";
  if (!strcmp(name, "DOMAIN_NAME")) name = "URL";
  for (int c = 0; c < NCLASS; c++)
    if (!strcmp(name, classes[c])) return c;
  return -1;
}

typedef struct { long tp, fp, found, labelled; } stats;
/* token counts: [0] presidio label set, [1] all labels */
typedef struct { long pred, lab, both; } tokstats;
typedef struct {
  stats span[NCLASS];
  tokstats tok[2];
  long tok_class_tp[NCLASS], tok_class_pred[NCLASS], tok_class_lab[NCLASS];
} split_stats;

/* Byte offset of code point cp in s. */
static size_t cp_to_byte(const char *s, size_t n, long cp) {
  size_t i = 0;
  for (long c = 0; i < n && c < cp; c++) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
  }
  return i;
}

static double f2(double p, double r) { return p + r > 0 ? 5 * p * r / (4 * p + r) : 0; }

static void print_span_row(const char *name, const stats *s) {
  double p = s->tp + s->fp ? (double)s->tp / (double)(s->tp + s->fp) : 0;
  double r = s->labelled ? (double)s->found / (double)s->labelled : 0;
  printf("  %-18s %6ld %6ld %6ld %9.3f %7.3f %6.3f\n", name, s->labelled, s->tp, s->fp, p, r, f2(p, r));
}

static void add_stats(stats *a, const stats *b) {
  a->tp += b->tp; a->fp += b->fp; a->found += b->found; a->labelled += b->labelled;
}

/* Tokens: [start, end) pairs into tok (approximating spaCy's tokenizer); returns the count. */
static size_t tokenize(const char *t, size_t len, size_t *tok, size_t max) {
  size_t n = 0, i = 0;
  while (i < len && n + 8 < max) {
    while (i < len && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) i++;
    if (i >= len) break;
    size_t s = i;
    while (i < len && t[i] != ' ' && t[i] != '\n' && t[i] != '\t' && t[i] != '\r') i++;
    size_t e = i;
    while (s < e && strchr("([{\"'", t[s])) { tok[2 * n] = s; tok[2 * n + 1] = s + 1; n++; s++; }
    size_t tail[16], nt = 0;
    while (e > s && nt < 16 && strchr(".,;:!?)]}\"'", t[e - 1])) tail[nt++] = --e;
    if (e - s > 2 && (t[e - 2] == '\'') && (t[e - 1] == 's' || t[e - 1] == 'S')) {
      tok[2 * n] = s; tok[2 * n + 1] = e - 2; n++;
      s = e - 2;
    }
    if (e > s) { tok[2 * n] = s; tok[2 * n + 1] = e; n++; }
    while (nt) { size_t p = tail[--nt]; tok[2 * n] = p; tok[2 * n + 1] = p + 1; n++; }
  }
  return n;
}

static void report(const char *title, const split_stats *s) {
  printf("\n== %s\n  spans (per class, Presidio's mapping)\n", title);
  printf("  %-18s %6s %6s %6s %9s %7s %6s\n", "class", "labels", "tp", "fp", "precision", "recall", "F2");
  stats structured = {0}, all = {0};
  for (int c = 0; c < NCLASS; c++) {
    if (!s->span[c].labelled && !s->span[c].tp && !s->span[c].fp) continue;
    print_span_row(classes[c], &s->span[c]);
    if (c < NSTRUCT) add_stats(&structured, &s->span[c]);
    if (c < C_TITLE) add_stats(&all, &s->span[c]);
  }
  print_span_row("structured (micro)", &structured);
  print_span_row("Presidio's set", &all);
  printf("  tokens (presidio-evaluator style; per class: type-matched)\n");
  printf("  %-18s %6s %6s %6s %9s %7s %6s\n", "class", "labels", "tp", "pred", "precision", "recall", "F2");
  for (int c = 0; c < NCLASS; c++) {
    if (!s->tok_class_lab[c] && !s->tok_class_pred[c]) continue;
    double p = s->tok_class_pred[c] ? (double)s->tok_class_tp[c] / (double)s->tok_class_pred[c] : 0;
    double r = s->tok_class_lab[c] ? (double)s->tok_class_tp[c] / (double)s->tok_class_lab[c] : 0;
    printf("  %-18s %6ld %6ld %6ld %9.3f %7.3f %6.3f\n", classes[c], s->tok_class_lab[c], s->tok_class_tp[c],
           s->tok_class_pred[c], p, r, f2(p, r));
  }
  static const char *const names[2] = {"PII (Presidio's label set)", "PII (all labels)"};
  for (int k = 0; k < 2; k++) {
    const tokstats *t = &s->tok[k];
    double p = t->pred ? (double)t->both / (double)t->pred : 0, r = t->lab ? (double)t->both / (double)t->lab : 0;
    printf("  %-27s tokens=%ld predicted=%ld precision=%.3f recall=%.3f F2=%.3f\n", names[k], t->lab, t->pred, p, r, f2(p, r));
  }
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
  kl_guard_opts opts = {.min_score = KL_GUARD_DEFAULT_MIN_SCORE};
  if (getenv("GUARD_EVAL_MIN_SCORE")) opts.min_score = atof(getenv("GUARD_EVAL_MIN_SCORE"));
  if (getenv("GUARD_EVAL_TYPES")) opts.types = (unsigned)strtoul(getenv("GUARD_EVAL_TYPES"), NULL, 0);
  int64_t t0 = kl_mono_ns();
  kl_guard_policy *p = kl_guard_policy_new("default", &opts, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  printf("policy build %.1f ms\n", (double)(kl_mono_ns() - t0) / 1e6);
  static split_stats sp[2];  /* [0] dev (even), [1] held-out (odd) */
  bool verbose = getenv("GUARD_EVAL_VERBOSE") != NULL;
  kl_arena *a = kl_arena_new(1 << 16);
  const cJSON *doc;
  int idx = -1;
  double scan_us = 0;
  cJSON_ArrayForEach(doc, root) {
    idx++;
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "full_text"));
    const cJSON *spans = cJSON_GetObjectItem(doc, "spans");
    if (!text) continue;
    split_stats *st = &sp[idx & 1];
    bool vb = verbose && !(idx & 1);
    size_t len = strlen(text);
    kl_guard_finding *f = NULL;
    int64_t s0 = kl_mono_ns();
    long nf = kl_guard_scan(p, text, len, a, &f, &err);
    scan_us += (double)(kl_mono_ns() - s0) / 1e3;
    if (nf < 0) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    int nspans = cJSON_GetArraySize(spans);
    size_t *ls = kl_arena_alloc(a, (size_t)(nspans + 1) * 2 * sizeof *ls);
    int *lt = kl_arena_alloc(a, (size_t)(nspans + 1) * sizeof *lt);
    int *fc = kl_arena_alloc(a, (size_t)(nf + 1) * sizeof *fc);
    for (long k = 0; k < nf; k++) fc[k] = class_of(f[k].type);
    for (int i = 0; i < nspans; i++) {
      const cJSON *s = cJSON_GetArrayItem(spans, i);
      lt[i] = class_of(cJSON_GetStringValue(cJSON_GetObjectItem(s, "entity_type")));
      ls[2 * i] = cp_to_byte(text, len, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "start_position")));
      ls[2 * i + 1] = cp_to_byte(text, len, (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "end_position")));
      if (lt[i] < 0) continue;
      st->span[lt[i]].labelled++;
      bool hit = false;
      for (long k = 0; k < nf && !hit; k++) hit = fc[k] == lt[i] && f[k].start < ls[2 * i + 1] && ls[2 * i] < f[k].end;
      st->span[lt[i]].found += hit;
      if (!hit && vb) printf("FN %s: %.*s  || %s\n", classes[lt[i]], (int)(ls[2 * i + 1] - ls[2 * i]), text + ls[2 * i], text);
    }
    for (long k = 0; k < nf; k++) {
      int c = fc[k];
      if (c < 0) continue;
      bool hit = false;
      for (int i = 0; i < nspans && !hit; i++) hit = lt[i] == c && f[k].start < ls[2 * i + 1] && ls[2 * i] < f[k].end;
      if (hit) st->span[c].tp++;
      else st->span[c].fp++;
      if (!hit && vb)
        printf("FP %s (%s %.2f): %.*s  || %s\n", f[k].type, f[k].rule, f[k].score, (int)(f[k].end - f[k].start),
               text + f[k].start, text);
    }
    /* tokens */
    size_t maxtok = len + 8, *tok = kl_arena_alloc(a, 2 * maxtok * sizeof *tok);
    size_t nt = tokenize(text, len, tok, maxtok);
    for (size_t j = 0; j < nt; j++) {
      int lab = -1, pred = -1;
      for (int i = 0; i < nspans && lab < 0; i++)
        if (lt[i] >= 0 && ls[2 * i] < tok[2 * j + 1] && tok[2 * j] < ls[2 * i + 1]) lab = lt[i];
      for (long k = 0; k < nf && pred < 0; k++)
        if (fc[k] >= 0 && f[k].start < tok[2 * j + 1] && tok[2 * j] < f[k].end) pred = fc[k];
      for (int set = 0; set < 2; set++) {
        int l = set == 0 && lab >= C_TITLE ? -1 : lab, pr = set == 0 && pred >= C_TITLE ? -1 : pred;
        st->tok[set].lab += l >= 0;
        st->tok[set].pred += pr >= 0;
        st->tok[set].both += l >= 0 && pr >= 0;
      }
      if (lab >= 0) st->tok_class_lab[lab]++;
      if (pred >= 0) st->tok_class_pred[pred]++;
      if (lab >= 0 && lab == pred) st->tok_class_tp[lab]++;
    }
    kl_arena_reset(a);
  }
  split_stats all = {0};
  for (int k = 0; k < 2; k++) {
    for (int c = 0; c < NCLASS; c++) {
      add_stats(&all.span[c], &sp[k].span[c]);
      all.tok_class_tp[c] += sp[k].tok_class_tp[c];
      all.tok_class_pred[c] += sp[k].tok_class_pred[c];
      all.tok_class_lab[c] += sp[k].tok_class_lab[c];
    }
    for (int s = 0; s < 2; s++) {
      all.tok[s].lab += sp[k].tok[s].lab;
      all.tok[s].pred += sp[k].tok[s].pred;
      all.tok[s].both += sp[k].tok[s].both;
    }
  }
  printf("texts=%d scan_us_per_text=%.2f\n", idx + 1, scan_us / (idx + 1));
  report("dev (even-indexed texts)", &sp[0]);
  report("held-out (odd-indexed texts)", &sp[1]);
  report("all texts", &all);
  printf("\nPresidio (spaCy, published): PII precision 0.685 recall 0.603 F2 0.618\n");
  kl_arena_free(a);
  kl_guard_policy_free(p);
  cJSON_Delete(root);
  return 0;
}
