/* bench_guard.c: guard check speed, µs per 4 KiB.
 *
 *   bench_guard [seconds]
 *
 * Checks a 4 KiB prompt-like text (prose, code, JSON and a few PII values, so the PCRE2
 * confirmation path runs too) over and over, single-threaded: first a PII-only policy (scan,
 * scan + redact), then each scanner kind alone, then every in-process kind together at the
 * input and the output stage (the "every scanner on" figure).  Build times are printed too
 * (they include the on-disk compile cache: run with KEEL_CACHE_DIR=off for cold builds).
 *
 * The sample is dense with digits and PII but has none of the words injection rules look
 * for; real prompts do.  So the every-kind input check is also timed on two 4 KiB texts from
 * ../shared/data (when it is there): the first MT-Bench questions (real chat prompts: "Rewrite
 * your previous response", "Imagine you are...") and the first Presidio synthetic texts (a
 * name, address or number in every sentence). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

#include <cjson/cJSON.h>

#include "bench_guard_sample.h"

#ifndef KEEL_SHARED_DATA
#define KEEL_SHARED_DATA "/work/shared/data" /* as bench_guard_pii's default */
#endif

static const char *sample = bench_guard_sample;

/* Median-free simple timing: repeat checks for `secs`, return µs per 4 KiB. */
static double time_check(const kl_guard_policy *p, kl_guard_stage st, const kl_buf *text, double secs, size_t *nf) {
  kl_arena *a = kl_arena_new(1 << 16);
  kl_err err = {0};
  kl_guard_text in = {.text = text->data, .len = text->len, .stage = st, .canary = "0123456789abcdef0123456789abcdef",
                      .expect_json = false};
  long iters = 0;
  int64_t start = kl_mono_ns(), end = start + (int64_t)(secs * 1e9), now;
  kl_guard_result r = {0};
  do {
    for (int k = 0; k < 50; k++) {
      if (kl_guard_check(p, &in, a, &r, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
      }
      kl_arena_reset(a);
    }
    iters += 50;
    now = kl_mono_ns();
  } while (now < end);
  *nf = r.n;
  kl_arena_free(a);
  return (double)(now - start) / 1e3 / (double)iters * 4096.0 / (double)text->len;
}

/* Every kind alone, then every in-process kind together at each stage (the policy of
 * bench/guard_rails.sh). */
static void per_kind(const kl_buf *text, double secs) {
  static const char *const banned[] = {"project falcon", "internal only", "do not distribute"};
  static const char *const topics[] = {"weapons: rifle, ammunition, explosive", "medical: diagnosis, prescription"};
  static const char *const hosts[] = {"example.com"};
  const kl_guard_scanner_cfg all[] = {
      {.kind = "pii"}, {.kind = "secrets"}, {.kind = "injection"},
      {.kind = "banned", .list = banned, .nlist = 3}, {.kind = "topics", .list = topics, .nlist = 2},
      {.kind = "invisible"}, {.kind = "token_limit", .limit = 8000},
      {.kind = "pii", .stage = KL_GUARD_OUTPUT}, {.kind = "secrets", .stage = KL_GUARD_OUTPUT},
      {.kind = "banned", .stage = KL_GUARD_OUTPUT, .list = banned, .nlist = 3},
      {.kind = "canary", .stage = KL_GUARD_OUTPUT}, {.kind = "refusal", .stage = KL_GUARD_OUTPUT},
      {.kind = "urls", .stage = KL_GUARD_OUTPUT, .list = hosts, .nlist = 1},
      {.kind = "invisible", .stage = KL_GUARD_OUTPUT},
  };
  size_t n = sizeof all / sizeof *all;
  kl_err err = {0};
  for (size_t i = 0; i <= n; i++) {
    kl_guard_policy_cfg pc = {.name = "b", .scanners = i < n ? &all[i] : all, .nscanners = i < n ? 1 : n};
    int64_t t0 = kl_mono_ns();
    kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
    if (!p) {
      fprintf(stderr, "%s\n", err.msg);
      exit(1);
    }
    double build_ms = (double)(kl_mono_ns() - t0) / 1e6;
    if (i < n) {
      size_t nf;
      double us = time_check(p, all[i].stage, text, secs / 4, &nf);
      printf("kind=%-12s stage=%-6s us_per_4KiB=%7.2f findings=%zu build_ms=%.1f\n", all[i].kind,
             kl_guard_stage_name(all[i].stage), us, nf, build_ms);
    } else {
      size_t ni, no;
      double ui = time_check(p, KL_GUARD_INPUT, text, secs, &ni), uo = time_check(p, KL_GUARD_OUTPUT, text, secs, &no);
      printf("ALL input  us_per_4KiB=%.2f findings=%zu build_ms=%.1f\n", ui, ni, build_ms);
      printf("ALL output us_per_4KiB=%.2f findings=%zu\n", uo, no);
      printf("ALL input+output us_per_4KiB=%.2f\n", ui + uo);
    }
    kl_guard_policy_free(p);
  }
}

/* The first 4 KiB (whole code points) of the strings found at `key` in a JSON lines file
 * (lines != 0) or a JSON array of objects, joined by newlines; false if the file is not there. */
static bool corpus_text(const char *path, bool lines, const char *key, kl_buf *out) {
  kl_buf all = KL_BUF_INIT;
  if (kl_buf_read_path(&all, path, 0) != 0) {
    kl_buf_free(&all);
    return false;
  }
  kl_buf_putc(&all, 0);
  kl_err err = {0};
  for (size_t i = 0; i < all.len && out->len < 4096;) {
    size_t e = lines ? i + strcspn(all.data + i, "\n") : all.len - 1;
    cJSON *doc = kl_json_parse(all.data + i, e - i, &err);
    const cJSON *item = NULL, *objs = lines ? NULL : doc;
    cJSON_ArrayForEach(item, objs) {
      const char *t = kl_json_str(item, key);
      if (t && out->len < 4096) kl_buf_puts(out, t), kl_buf_putc(out, '\n');
    }
    const cJSON *turns = lines && doc ? kl_json_get(doc, key) : NULL;
    cJSON_ArrayForEach(item, turns) {
      if (cJSON_IsString(item) && out->len < 4096) kl_buf_puts(out, item->valuestring), kl_buf_putc(out, '\n');
    }
    cJSON_Delete(doc);
    i = e + 1;
  }
  kl_buf_free(&all);
  if (out->len > 4096) out->len = 4096;
  while (out->len && ((unsigned char)out->data[out->len] & 0xC0) == 0x80) out->len--;
  if (out->len) out->data[out->len] = 0;
  return out->len > 0;
}

/* The every-kind input check on the corpus texts (see the top). */
static void corpora(double secs) {
  static const struct { const char *name, *path, *key; bool lines; } cs[] = {
      {"mt_bench", KEEL_SHARED_DATA "/routellm/mt_bench/question.jsonl", "turns", true},
      {"pii_synth", KEEL_SHARED_DATA "/pii/synth_dataset_v2.json", "full_text", false},
  };
  static const kl_guard_scanner_cfg all[] = {
      {.kind = "pii"}, {.kind = "secrets"}, {.kind = "injection"}, {.kind = "invisible"},
      {.kind = "token_limit", .limit = 8000},
  };
  kl_err err = {0};
  kl_guard_policy_cfg pc = {.name = "b", .scanners = all, .nscanners = sizeof all / sizeof *all};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
    kl_buf t = KL_BUF_INIT;
    if (corpus_text(cs[i].path, cs[i].lines, cs[i].key, &t)) {
      size_t nf;
      double us = time_check(p, KL_GUARD_INPUT, &t, secs, &nf);
      printf("text=%-10s bytes=%zu pii+secrets+injection+invisible+token_limit input us_per_4KiB=%.2f findings=%zu\n",
             cs[i].name, t.len, us, nf);
    } else {
      printf("text=%-10s (not found: %s)\n", cs[i].name, cs[i].path);
    }
    kl_buf_free(&t);
  }
  kl_guard_policy_free(p);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  kl_buf text = KL_BUF_INIT;
  while (text.len < 4096) kl_buf_puts(&text, sample);
  text.len = 4096;
  while (text.len && ((unsigned char)text.data[text.len] & 0xC0) == 0x80) text.len--;  /* whole code points */
  text.data[text.len] = 0;
  kl_err err = {0};
  int64_t t0 = kl_mono_ns();
  kl_guard_policy *p = kl_guard_policy_new("default", NULL, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double build_ms = (double)(kl_mono_ns() - t0) / 1e6;
  kl_arena *a = kl_arena_new(1 << 16);
  for (int redact = 0; redact <= 1; redact++) {
    long iters = 0, nf = 0;
    int64_t start = kl_mono_ns(), end = start + (int64_t)(secs * 1e9), now;
    do {
      for (int k = 0; k < 100; k++) {
        kl_guard_finding *f;
        nf = kl_guard_scan(p, text.data, text.len, a, &f, &err);
        if (redact) kl_guard_apply(p, text.data, text.len, f, (size_t)nf, KL_GUARD_REDACT, a, NULL);
        kl_arena_reset(a);
      }
      iters += 100;
      now = kl_mono_ns();
    } while (now < end);
    double us = (double)(now - start) / 1e3 / (double)iters * 4096.0 / (double)text.len;
    printf("%s bytes=%zu findings=%ld us_per_4KiB=%.2f MB_s=%.1f build_ms=%.1f\n", redact ? "scan+redact" : "scan",
           text.len, nf, us, 4096.0 / us, build_ms);
  }
  kl_arena_free(a);
  kl_guard_policy_free(p);
  per_kind(&text, secs);
  corpora(secs);
  kl_buf_free(&text);
  return 0;
}
