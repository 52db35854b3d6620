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

/* Findings mostly come out of the scanners in order already, and when not (the stage's
 * scanners' slices put together, or one scanner's findings out of order by a few places),
 * nearly so: an insertion sort costs n compares plus one move per inversion, where glibc's
 * qsort (a merge sort through a function pointer) costs ~n log n calls and copies (on the
 * Presidio texts, ~9k instructions per check).  Both are stable, so the order is the same;
 * an array far from sorted goes to qsort after a bounded number of moves (what the insertion
 * sort did so far kept equal findings in their order, so qsort's stable result is unchanged). */
static void sort_findings(kl_guard_finding *v, size_t n) {
  size_t moves = 0, budget = 8 * n + 64;
  for (size_t i = 1; i < n; i++) {
    if (cmp_finding(&v[i - 1], &v[i]) <= 0) continue;
    kl_guard_finding x = v[i];
    size_t j = i;
    for (; j > 0 && cmp_finding(&v[j - 1], &x) > 0; j--) v[j] = v[j - 1];
    v[j] = x;
    if ((moves += i - j) > budget) {
      qsort(v, n, sizeof *v, cmp_finding);
      return;
    }
  }
}

/* Sorted by start: overlaps of one type merge; of different types the higher score stays. */
static size_t resolve(kl_guard_finding *v, size_t n) {
  if (n < 2) return n;
  sort_findings(v, n);
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

/* Hits sorted by start; equal starts keep their order (rule order): a stable sort.  Hits
 * come grouped by rule, each rule's sorted, so one rule's hits (the common case) are sorted
 * already and a few rules' hits are nearly so: insertion sort, with a merge sort (glibc's
 * qsort, stable when it can allocate; ties broken by position anyway) for large counts. */
typedef struct { guard_hit h; size_t pos; } hit_pos;

static int cmp_hit_pos(const void *a, const void *b) {
  const hit_pos *x = a, *y = b;
  if (x->h.start != y->h.start) return x->h.start < y->h.start ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void sort_hits(guard_hit *v, size_t n, kl_arena *a) {
  size_t unsorted = 0;
  for (size_t i = 1; i < n; i++) unsorted += v[i].start < v[i - 1].start;
  if (!unsorted) return;
  if (n <= 64) {
    for (size_t i = 1; i < n; i++) {
      guard_hit x = v[i];
      size_t j = i;
      for (; j > 0 && v[j - 1].start > x.start; j--) v[j] = v[j - 1];
      v[j] = x;
    }
    return;
  }
  hit_pos *t = kl_arena_alloc(a, n * sizeof *t);
  for (size_t i = 0; i < n; i++) t[i] = (hit_pos){v[i], i};
  qsort(t, n, sizeof *t, cmp_hit_pos);
  for (size_t i = 0; i < n; i++) v[i] = t[i].h;
}

typedef struct { unsigned owner; size_t pos; } owner_pos;

static int cmp_owner_pos(const void *a, const void *b) {
  const owner_pos *x = a, *y = b;
  if (x->owner != y->owner) return x->owner < y->owner ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Stable regrouping of the hits by owner (not needed with guard.c's rule order). */
static void group_by_owner(guard_db_hits *h, kl_arena *a) {
  owner_pos *t = kl_arena_alloc(a, h->n * sizeof *t);
  guard_hit *v = kl_arena_alloc(a, h->n * sizeof *v);
  for (size_t i = 0; i < h->n; i++) t[i] = (owner_pos){h->owner[i], i};
  qsort(t, h->n, sizeof *t, cmp_owner_pos);
  for (size_t i = 0; i < h->n; i++) {
    v[i] = h->v[t[i].pos];
    h->owner[i] = t[i].owner;
  }
  memcpy(h->v, v, h->n * sizeof *v);
}

int kl_guard_check(const kl_guard_policy *p, const kl_guard_text *in, kl_arena *a, kl_guard_result *out,
                   kl_err *err) {
  int64_t t0 = kl_mono_ns();
  *out = (kl_guard_result){0};
  const guard_scanner *sc;
  size_t nsc = guard_policy_scanners(p, &sc);
  guard_db_hits h = {.a = a};
  if (!guard_db_scan(guard_policy_stage_db(p, in->stage), in->text, in->len, &h, err)) {
    guard_db_hits_free(&h);
    return -1;
  }
  /* the stage's rule set holds its scanners' rules scanner after scanner (guard.c), and hits
   * come in rule order: each scanner's hits are one slice (else they are made so) */
  for (size_t i = 1; i < h.n; i++)
    if (h.owner[i] < h.owner[i - 1]) {
      group_by_owner(&h, a);
      break;
    }
  guard_out o = {0};
  size_t r = 0;
  for (size_t i = 0; i < nsc; i++) {
    const guard_scanner *s = &sc[i];
    if (s->stage != in->stage || s->kind == &guard_kind_classifier) continue;
    if (in->partial && s->kind->whole_text) continue;
    while (r < h.n && h.owner[r] < i) r++;
    guard_hit *mine = h.v ? h.v + r : NULL;  /* no hits: h.v is NULL, and NULL + 0 is UB */
    size_t nm = 0;
    for (; r < h.n && h.owner[r] == i; r++) nm++;
    sort_hits(mine, nm, a);
    size_t before = o.n;
    if (s->kind->finish) {
      s->kind->finish(s, in, mine, nm, a, &o);
    } else {
      for (size_t j = 0; j < nm; j++)
        guard_out_push(&o, s, mine[j].rule->type, mine[j].rule->name, mine[j].start, mine[j].end, mine[j].score);
    }
    if (o.n > before) o.n = before + resolve(o.v + before, o.n - before);
  }
  guard_db_hits_free(&h);
  if (in->partial)  /* a private key the window cannot hold whole: secrets.c */
    for (size_t i = 0; i < nsc && !out->hold; i++)
      if (sc[i].stage == in->stage && sc[i].kind == &guard_kind_secrets) {
        out->hold_from = guard_secrets_open_key(in->text, in->len);
        out->hold = out->hold_from != SIZE_MAX;
      }
  if (o.n > 1) sort_findings(o.v, o.n);
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
