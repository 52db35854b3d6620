/* check.c: one check = one Hyperscan pass for every scanner of a stage, then each scanner's
 * finish over its own confirmed matches, then the verdict.
 *
 * Overlaps are resolved per scanner (two PII types on one span: the higher score stays), never
 * across scanners: a SECRET inside a span a topic scanner flags is a different fact, and
 * whole-text findings (token limit, JSON) overlap everything by nature.  The verdict is the
 * strongest action among the findings (kl_guard_action is ordered weakest first). */
#include "guard/db.h"

#include <stdlib.h>
#include <string.h>

void guard_out_push(guard_out *o, const guard_scanner *s, const char *type, const char *rule, size_t start,
                    size_t end, double score) {
  if (score < s->threshold) return;
  if (score > 1) score = 1;
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 16;
    o->v = realloc(o->v, o->cap * sizeof *o->v);
    if (!o->v) abort();
  }
  o->v[o->n++] = (kl_guard_finding){s->name, type, rule, start, end, score, s->action};
}

static int cmp_finding(const void *a, const void *b) {
  const kl_guard_finding *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->end != y->end) return x->end > y->end ? -1 : 1;
  return x->score > y->score ? -1 : x->score < y->score;
}

/* Sorted by start: overlaps of one type merge; of different types the higher score stays. */
static size_t resolve(kl_guard_finding *v, size_t n) {
  if (n < 2) return n;
  qsort(v, n, sizeof *v, cmp_finding);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k && v[i].start < v[k - 1].end) {
      kl_guard_finding *l = &v[k - 1];
      if (!strcmp(l->type, v[i].type)) {
        if (v[i].end > l->end) l->end = v[i].end;
        if (v[i].score > l->score) l->score = v[i].score;
      } else if (v[i].score > l->score) {
        *l = v[i];
      }
      continue;
    }
    v[k++] = v[i];
  }
  return k;
}

typedef struct { unsigned owner; size_t idx; } hit_ref;

static int cmp_ref(const void *a, const void *b, void *vh) {
  const hit_ref *x = a, *y = b;
  const guard_db_hits *h = vh;
  if (x->owner != y->owner) return x->owner < y->owner ? -1 : 1;
  size_t sx = h->v[x->idx].start, sy = h->v[y->idx].start;
  return sx < sy ? -1 : sx > sy;
}

int kl_guard_check(const kl_guard_policy *p, const kl_guard_text *in, kl_arena *a, kl_guard_result *out,
                   kl_err *err) {
  int64_t t0 = kl_mono_ns();
  *out = (kl_guard_result){0};
  const guard_scanner *sc;
  size_t nsc = guard_policy_scanners(p, &sc);
  guard_db_hits h = {0};
  if (!guard_db_scan(guard_policy_stage_db(p, in->stage), in->text, in->len, &h, err)) {
    guard_db_hits_free(&h);
    return -1;
  }
  /* this scanner's hits, sorted by start */
  hit_ref *refs = NULL;
  guard_hit *mine = NULL;
  if (h.n) {
    refs = malloc(h.n * sizeof *refs);
    mine = malloc(h.n * sizeof *mine);
    if (!refs || !mine) abort();
    for (size_t i = 0; i < h.n; i++) refs[i] = (hit_ref){h.owner[i], i};
    qsort_r(refs, h.n, sizeof *refs, cmp_ref, &h);
  }
  guard_out o = {0};
  size_t r = 0;
  for (size_t i = 0; i < nsc; i++) {
    const guard_scanner *s = &sc[i];
    if (s->stage != in->stage || s->kind == &guard_kind_classifier) continue;
    if (in->partial && s->kind->whole_text) continue;
    while (r < h.n && refs[r].owner < i) r++;
    size_t nm = 0;
    for (; r < h.n && refs[r].owner == i; r++) mine[nm++] = h.v[refs[r].idx];
    size_t before = o.n;
    if (s->kind->finish) {
      s->kind->finish(s, in, mine, nm, a, &o);
    } else {
      for (size_t j = 0; j < nm; j++)
        guard_out_push(&o, s, mine[j].rule->type, mine[j].rule->name, mine[j].start, mine[j].end, mine[j].score);
    }
    if (o.n > before) o.n = before + resolve(o.v + before, o.n - before);
  }
  free(refs);
  free(mine);
  guard_db_hits_free(&h);
  if (o.n > 1) qsort(o.v, o.n, sizeof *o.v, cmp_finding);
  if (o.n) {
    out->findings = kl_arena_alloc(a, o.n * sizeof *out->findings);
    memcpy(out->findings, o.v, o.n * sizeof *o.v);
    out->n = o.n;
  }
  free(o.v);
  for (size_t i = 0; i < out->n; i++)
    if (out->findings[i].action > out->action) out->action = out->findings[i].action;
  if (out->action == KL_GUARD_BLOCK || out->action == KL_GUARD_REASK)
    for (size_t i = 0; i < out->n && !out->blocker; i++)
      if (out->findings[i].action == out->action) out->blocker = &out->findings[i];
  out->us = (double)(kl_mono_ns() - t0) / 1e3;
  return 0;
}

long kl_guard_scan(const kl_guard_policy *p, const char *text, size_t len, kl_arena *a, kl_guard_finding **out,
                   kl_err *err) {
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result res;
  *out = NULL;
  if (kl_guard_check(p, &in, a, &res, err) < 0) return -1;
  *out = res.findings;
  return (long)res.n;
}
