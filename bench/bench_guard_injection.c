/* bench_guard_injection.c: accuracy and speed of the guard's injection scanner.
 *
 *   bench_guard_injection [LABELLED.jsonl [GISKARD.csv]] [-v|-vv] [-s]
 *
 * Defaults (relative to the source tree): tests/data/injection/labelled.jsonl and
 * ../shared/data/injection/prompt_injections.csv.  A policy with only the injection scanner
 * (default threshold) checks every text; a text is predicted an attack when it has a
 * PROMPT_INJECTION or JAILBREAK finding.  The labelled set is split by line number: even
 * (0-based) lines are the dev half the rules were tuned on, odd lines are held out.  Prints
 * precision, recall and the false-positive rate on the benign hard negatives for each half and
 * the whole set, per-category numbers for the whole set, Giskard recall (every row an attack),
 * precision on the union, and the scan time in µs per 4 KiB.  -v lists the dev half's errors,
 * -vv every error; -s measures speed only. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

typedef struct { long tp, fp, fn, tn; } conf;

typedef struct item {
  char *text;
  size_t len;
  bool attack;
  char category[48];
  char id[40];
  long line;
} item;

typedef struct { item *v; size_t n, cap; } items;

static void push(items *it, item x) {
  if (it->n == it->cap) {
    it->cap = it->cap ? it->cap * 2 : 256;
    it->v = realloc(it->v, it->cap * sizeof *it->v);
    if (!it->v) abort();
  }
  it->v[it->n++] = x;
}

static char *slurp(const char *path, size_t *n) {
  kl_buf b = KL_BUF_INIT;
  if (kl_buf_read_path(&b, path, 0) != 0) {
    kl_buf_free(&b);
    return NULL;
  }
  *n = b.len;
  return kl_buf_steal(&b);
}

static bool load_jsonl(const char *path, items *it) {
  size_t n;
  char *s = slurp(path, &n);
  if (!s) return false;
  long line = 0;
  for (char *p = s, *e; p < s + n; p = e + 1, line++) {
    e = memchr(p, '\n', (size_t)(s + n - p));
    if (!e) e = s + n;
    cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
    if (!j) continue;
    const cJSON *t = cJSON_GetObjectItem(j, "text"), *l = cJSON_GetObjectItem(j, "label");
    const cJSON *c = cJSON_GetObjectItem(j, "category"), *id = cJSON_GetObjectItem(j, "id");
    if (cJSON_IsString(t) && cJSON_IsString(l)) {
      item x = {.text = strdup(t->valuestring), .len = strlen(t->valuestring),
                .attack = !strcmp(l->valuestring, "attack"), .line = line};
      snprintf(x.category, sizeof x.category, "%s", cJSON_IsString(c) ? c->valuestring : "?");
      snprintf(x.id, sizeof x.id, "%s", cJSON_IsString(id) ? id->valuestring : "?");
      push(it, x);
    }
    cJSON_Delete(j);
  }
  free(s);
  return true;
}

/* RFC 4180 CSV: the `prompt` column (the second) of every record after the header. */
static bool load_csv(const char *path, items *it) {
  size_t n;
  char *s = slurp(path, &n);
  if (!s) return false;
  kl_buf field = KL_BUF_INIT;
  int col = 0;
  long rec = 0;
  bool inq = false;
  for (size_t i = 0; i <= n; i++) {
    char c = i < n ? s[i] : '\n';
    if (inq) {
      if (c == '"' && i + 1 < n && s[i + 1] == '"') { kl_buf_putc(&field, '"'); i++; }
      else if (c == '"') inq = false;
      else kl_buf_putc(&field, c);
      continue;
    }
    if (c == '"') { inq = true; continue; }
    if (c == ',' || c == '\n' || c == '\r') {
      if (c == '\r') continue;
      if (col == 1 && rec > 0) {
        item x = {.text = strdup(field.data ? field.data : ""), .len = field.len, .attack = true, .line = rec};
        snprintf(x.category, sizeof x.category, "giskard");
        snprintf(x.id, sizeof x.id, "giskard-%ld", rec);
        push(it, x);
      }
      kl_buf_reset(&field);
      if (field.data) field.data[0] = 0;
      if (c == '\n') { col = 0; rec++; }
      else col++;
      continue;
    }
    kl_buf_putc(&field, c);
  }
  kl_buf_free(&field);
  free(s);
  return true;
}

static bool flagged(const kl_guard_policy *p, const char *text, size_t len, kl_arena *a, const char **rule) {
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result r;
  kl_err err = {0};
  kl_arena_reset(a);
  if (kl_guard_check(p, &in, a, &r, &err) != 0) {
    fprintf(stderr, "check: %s\n", err.msg);
    return false;
  }
  for (size_t i = 0; i < r.n; i++)
    if (!strcmp(r.findings[i].type, "PROMPT_INJECTION") || !strcmp(r.findings[i].type, "JAILBREAK")) {
      *rule = r.findings[i].rule;
      return true;
    }
  return false;
}

static void row(const char *name, const conf *c) {
  double p = c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 0;
  double r = c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 0;
  double fpr = c->fp + c->tn ? (double)c->fp / (double)(c->fp + c->tn) : 0;
  printf("%-26s %5ld %5ld %5ld %5ld   %6.3f %6.3f %6.3f\n", name, c->tp, c->fn, c->fp, c->tn, p, r, fpr);
}

static void count(conf *c, bool attack, bool pred) {
  if (attack) pred ? c->tp++ : c->fn++;
  else pred ? c->fp++ : c->tn++;
}

int main(int argc, char **argv) {
  char src[1024];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *slash = strrchr(src, '/');
  if (slash) *slash = 0;  /* .../bench */
  slash = strrchr(src, '/');
  if (slash) *slash = 0;  /* the source tree */
  else snprintf(src, sizeof src, ".");
  char def_l[1200], def_g[1200];
  snprintf(def_l, sizeof def_l, "%s/tests/data/injection/labelled.jsonl", src);
  snprintf(def_g, sizeof def_g, "%s/../shared/data/injection/prompt_injections.csv", src);
  const char *paths[2] = {def_l, def_g};
  int np = 0, verbose = 0;
  bool speed_only = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "-vv")) verbose = 2;
    else if (!strcmp(argv[i], "-s")) speed_only = true;
    else if (np < 2) paths[np++] = argv[i];
  }
  items lab = {0}, gis = {0};
  if (!load_jsonl(paths[0], &lab)) { fprintf(stderr, "cannot read %s\n", paths[0]); return 1; }
  if (!load_csv(paths[1], &gis)) fprintf(stderr, "cannot read %s (Giskard skipped)\n", paths[1]);

  kl_err err = {0};
  kl_guard_scanner_cfg sc = {.kind = "injection", .stage = KL_GUARD_INPUT};
  kl_guard_policy_cfg pc = {.name = "bench", .scanners = &sc, .nscanners = 1};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) { fprintf(stderr, "policy: %s\n", err.msg); return 1; }
  kl_arena *a = kl_arena_new(1 << 16);

  conf dev = {0}, held = {0}, all = {0}, gk = {0};
  enum { MAXCAT = 32 };
  struct { char name[48]; conf c; } cats[MAXCAT];
  size_t ncat = 0;
  for (size_t i = 0; i < lab.n && !speed_only; i++) {
    const item *x = &lab.v[i];
    const char *rule = NULL;
    bool pred = flagged(p, x->text, x->len, a, &rule);
    bool is_dev = x->line % 2 == 0;
    count(is_dev ? &dev : &held, x->attack, pred);
    count(&all, x->attack, pred);
    size_t k = 0;
    while (k < ncat && strcmp(cats[k].name, x->category)) k++;
    if (k == ncat && ncat < MAXCAT) {
      snprintf(cats[ncat].name, sizeof cats[ncat].name, "%s", x->category);
      cats[ncat++].c = (conf){0};
    }
    if (k < ncat) count(&cats[k].c, x->attack, pred);
    if (pred != x->attack && (verbose == 2 || (verbose == 1 && is_dev)))
      printf("%s line %ld %s %-22s %s: %.140s\n", pred ? "FP" : "FN", x->line, x->id, x->category,
             pred ? rule : "-", x->text);
  }
  for (size_t i = 0; i < gis.n && !speed_only; i++) {
    const char *rule = NULL;
    bool pred = flagged(p, gis.v[i].text, gis.v[i].len, a, &rule);
    count(&gk, true, pred);
    if (!pred && verbose == 2) printf("FN giskard %ld: %.140s\n", gis.v[i].line, gis.v[i].text);
  }
  conf uni = all;
  uni.tp += gk.tp;
  uni.fn += gk.fn;

  printf("%-26s %5s %5s %5s %5s   %6s %6s %6s\n", "set", "TP", "FN", "FP", "TN", "prec", "recall", "FPR");
  row("dev (even lines)", &dev);
  row("held-out (odd lines)", &held);
  row("labelled, all", &all);
  row("giskard (attacks only)", &gk);
  row("labelled + giskard", &uni);
  printf("\nper category (labelled, all): attacks show recall, benign show FPR\n");
  for (size_t k = 0; k < ncat; k++) {
    const conf *c = &cats[k].c;
    if (c->tp + c->fn)
      printf("  attack %-22s %3ld/%-3ld recall %.3f\n", cats[k].name, c->tp, c->tp + c->fn,
             (double)c->tp / (double)(c->tp + c->fn));
    else
      printf("  benign %-22s %3ld/%-3ld FPR    %.3f\n", cats[k].name, c->fp, c->fp + c->tn,
             (double)c->fp / (double)(c->fp + c->tn));
  }

  /* speed: 4 KiB of benign hard negatives (the costly case: many weak cues, no early verdict),
   * and 4 KiB mixing attacks in; plain chat is the common case */
  static const char *const mixes[] = {"plain chat", "all hard negatives", "hard negatives + attacks"};
  for (int mix = 0; mix < 3; mix++) {
    kl_buf b = KL_BUF_INIT;
    for (size_t i = 0; b.len < 4096; i = (i + 1) % lab.n) {
      if (mix < 2 && lab.v[i].attack) continue;
      if (mix == 0 && strcmp(lab.v[i].category, "multilingual_chat") && strcmp(lab.v[i].category, "customer_support") &&
          strcmp(lab.v[i].category, "benign_roleplay"))
        continue;
      kl_buf_append(&b, lab.v[i].text, lab.v[i].len);
      kl_buf_putc(&b, '\n');
    }
    /* cut to 4096 bytes on a code point boundary */
    size_t len = 4096;
    while (len > 0 && ((unsigned char)b.data[len] & 0xC0) == 0x80) len--;
    const char *rule;
    /* the best of 15 batches: the machine is shared, the minimum is the scanner's own cost */
    enum { BATCHES = 15, ITERS = 200 };
    double best = 1e30, sum = 0;
    (void)flagged(p, b.data, len, a, &rule);
    for (int k = 0; k < BATCHES; k++) {
      int64_t t0 = kl_mono_ns();
      for (int i = 0; i < ITERS; i++) (void)flagged(p, b.data, len, a, &rule);
      double us = (double)(kl_mono_ns() - t0) / 1e3 / ITERS;
      sum += us;
      if (us < best) best = us;
    }
    printf("\nspeed, %s: %.1f us per 4 KiB (best batch; mean %.1f; %d checks)", mixes[mix],
           best * 4096.0 / (double)len, sum / BATCHES * 4096.0 / (double)len, BATCHES * ITERS);
    kl_buf_free(&b);
  }
  printf("\n");

  for (size_t i = 0; i < lab.n; i++) free(lab.v[i].text);
  for (size_t i = 0; i < gis.n; i++) free(gis.v[i].text);
  free(lab.v);
  free(gis.v);
  kl_arena_free(a);
  kl_guard_policy_free(p);
  return 0;
}
