/* guard_observe.c: a rail's GUARDRAIL observation (kl_gw_guard_observe): scanner, verdict,
 * entity types and byte offsets into the text named by `part`, latency; never the matched
 * value.  Every rail that runs writes one (guard_rails.c for input and output, guard_stream.c
 * for streamed output, guard_classify.c for HTTP classifiers), so its cost is paid per rail
 * per call, and this file is about writing its JSON cheaply.  A policy with `observe_clean:
 * false` keeps only the rails that found something, blocked, or failed: a clean rail's row is
 * most of what rails add to a short call (two rows, ~45k instructions in the trace writer).
 *
 * The observation's JSON is built without printf (a %f takes ~1k instructions) and stored
 * straight into its buffer, one reserve per finding: with 53 findings (a 4 KiB prompt with
 * PII) an append per field took ~2.2k instructions per finding, most of it in the appends and
 * in checking, character by character, strings that repeat from finding to finding (scanner,
 * type, rule: policy strings; part: one per text), whose check is now remembered by pointer.
 * Strings that need escaping go through kl_buf_json_str, which writes the same bytes for plain
 * ones.  Numbers are written exactly as "%zu" and "%.Nf" would write them; a value within
 * reach of a rounding tie (or negative, or large) goes to printf itself. */
#include "gateway/gw_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define put_lit(b, lit) kl_buf_append((b), lit, sizeof lit - 1)

typedef struct { const char *s; size_t n; /* its length, or SIZE_MAX: needs escaping */ } plain_str;

/* The strings checked so far, by pointer: a few types and rules alternate along the findings. */
typedef struct { plain_str v[8]; unsigned n, next; } plain_memo;

static size_t plain_len(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    unsigned char ch = (unsigned char)s[n];
    if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\') return SIZE_MAX;
  }
  return n;
}

/* *s's length when it needs no escaping (NULL becomes ""), else SIZE_MAX. */
static inline size_t plain_of(plain_memo *m, const char **s) {
  if (!*s) *s = "";
  for (unsigned i = 0; i < m->n; i++)
    if (m->v[i].s == *s) return m->v[i].n;
  plain_str *e = &m->v[m->n < 8 ? m->n++ : m->next++ % 8];
  *e = (plain_str){*s, plain_len(*s)};
  return e->n;
}

static inline char *w_mem(char *p, const void *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}
/* a literal: memcpy of a constant size, which the compiler turns into a few stores */
#define W_LIT(p, lit) (memcpy((p), lit, sizeof lit - 1), (p) += sizeof lit - 1)

static char *w_qstr(char *p, const char *s, size_t n) {
  *p++ = '"';
  if (n) p = w_mem(p, s, n);
  *p++ = '"';
  return p;
}

static char *w_size(char *p, size_t v) { /* offsets and counts: within int64 */
  char d[24], *s = kl_i64_digits(d + sizeof d, (int64_t)v);
  return w_mem(p, s, (size_t)(d + sizeof d - s));
}

/* "%.Nf" of v into d (at most 32 bytes); false: printf must decide. */
static bool fixed_fast(char *d, size_t *len, double v, int decimals) {
  static const double scale[] = {1, 10, 100, 1000};
  double x = v * scale[decimals], fl = floor(x), frac = x - fl;
  /* below 2^32 the product is within 2.4e-7 of v's exact decimal value, so a fraction this far
   * from .5 rounds the same way as printf's exact rounding */
  if (signbit(v) || !(x < 4e9) || fabs(frac - 0.5) < 1e-6) return false;
  uint64_t q = (uint64_t)fl + (frac > 0.5), ip = q, fp = 0;
  for (int i = 0; i < decimals; i++) ip /= 10;
  fp = q - ip * (uint64_t)scale[decimals];
  char *p = w_size(d, (size_t)ip);
  if (decimals) {
    *p++ = '.';
    for (int i = decimals - 1; i >= 0; i--, fp /= 10) p[i] = (char)('0' + fp % 10);
    p += decimals;
  }
  *len = (size_t)(p - d);
  return true;
}

static void put_fixed(kl_buf *b, double v, int decimals) {
  char d[32];
  size_t n;
  if (fixed_fast(d, &n, v, decimals)) kl_buf_append(b, d, n);
  else kl_buf_printf(b, "%.*f", decimals, v);
}

/* A JSON string at w: stored as it is when plain (n from plain_of), else through
 * kl_buf_json_str, after which o has room for `room` more bytes again. */
static char *w_str(kl_buf *o, char *w, const char *s, size_t n, size_t room) {
  if (n != SIZE_MAX) return w_qstr(w, s, n);
  o->len = (size_t)(w - o->data);
  kl_buf_json_str(o, s, strlen(s));
  kl_buf_reserve(o, room);
  return o->data + o->len;
}

/* A score's "%.3f" (ok false: printf must decide), remembered by value: a few scores (1.000,
 * 0.700, 0.950 ...) repeat along the findings, and formatting one costs ~150 instructions. */
typedef struct {
  double v;
  char s[32];
  size_t n;
  bool ok;
} score_str;

typedef struct { score_str v[4]; unsigned n, next; } score_memo;

static score_str *score_of(score_memo *m, double v) {
  for (unsigned i = 0; i < m->n; i++)
    if (!memcmp(&m->v[i].v, &v, sizeof v)) return &m->v[i];  /* bit for bit: -0.0 is not 0.0 */
  score_str *e = &m->v[m->n < 4 ? m->n++ : m->next++ % 4];
  e->v = v;
  e->n = 0;
  e->ok = fixed_fast(e->s, &e->n, v, 3);
  return e;
}

/* The findings array's elements: one reserve per finding (for the plain case), then stores. */
static void put_findings(kl_buf *o, const kl_gw_guard_part *parts, size_t nparts) {
  plain_memo memo = {.n = 0};
  score_memo scores = {.n = 0};
  size_t nf = 0;
  for (size_t p = 0; p < nparts; p++) {
    const char *part = parts[p].part;
    size_t part_n = parts[p].res.n ? plain_of(&memo, &part) : 0;
    for (size_t i = 0; i < parts[p].res.n; i++) {
      const kl_guard_finding *f = &parts[p].res.findings[i];
      const char *sc = f->scanner, *ty = f->type, *ru = f->rule, *act = kl_guard_action_name(f->action);
      size_t sn = plain_of(&memo, &sc), tn = plain_of(&memo, &ty), rn = plain_of(&memo, &ru), an = strlen(act);
      score_str *sv = score_of(&scores, f->score);
      const char *score = sv->s;
      size_t scn = sv->n;
      bool fast_score = sv->ok;
      /* literals 74, quotes 8, two sizes of at most 20 digits, the comma; escaped strings and a
       * printf'd score make their own room */
      size_t room = 140 + an + scn;
      for (size_t k = 0, ln[4] = {sn, tn, rn, part_n}; k < 4; k++) room += ln[k] == SIZE_MAX ? 0 : ln[k];
      kl_buf_reserve(o, room);
      char *w = o->data + o->len;
      if (nf++) *w++ = ',';
      W_LIT(w, "{\"scanner\":");
      w = w_str(o, w, sc, sn, room);
      W_LIT(w, ",\"type\":");
      w = w_str(o, w, ty, tn, room);
      W_LIT(w, ",\"rule\":");
      w = w_str(o, w, ru, rn, room);
      W_LIT(w, ",\"action\":\"");
      w = w_mem(w, act, an);
      W_LIT(w, "\",\"start\":");
      w = w_size(w, f->start);
      W_LIT(w, ",\"end\":");
      w = w_size(w, f->end);
      W_LIT(w, ",\"score\":");
      if (fast_score) {
        w = w_mem(w, score, scn);
      } else {
        o->len = (size_t)(w - o->data);
        put_fixed(o, f->score, 3);
        kl_buf_reserve(o, room);
        w = o->data + o->len;
      }
      W_LIT(w, ",\"part\":");
      w = w_str(o, w, part, part_n, room);
      *w++ = '}';
      o->len = (size_t)(w - o->data);
    }
  }
  o->data[o->len] = 0;
}

/* The observation's output JSON with findings. */
static void put_output(kl_buf *o, const kl_gw_guard_part *parts, size_t nparts, size_t nall, kl_guard_action verdict,
                       double us) {
  kl_buf_reserve(o, 64 + nall * 160);
  put_lit(o, "{\"verdict\":\"");
  kl_buf_puts(o, kl_guard_action_name(verdict));
  put_lit(o, "\",\"findings\":[");
  put_findings(o, parts, nparts);
  put_lit(o, "],\"latency_us\":");
  put_fixed(o, us, 1);
  kl_buf_putc(o, '}');
}

void kl_gw_guard_observe(kl_gw_call *c, kl_guard_stage st, const kl_gw_guard_part *parts, size_t nparts,
                         kl_guard_action verdict, const char *blocked, int64_t start_ns, double us) {
  kl_gw_guard *gd = c->guard;
  kl_buf o = KL_BUF_INIT;
  size_t nall = 0, nmemo = 0;
  for (size_t p = 0; p < nparts; p++) {
    nall += parts[p].res.n;
    nmemo += parts[p].res.memo_hit;
  }
  /* observe_clean: false leaves out rails that found nothing (the metrics still count them) */
  if (!gd->r->observe_clean && !nall && verdict == KL_GUARD_ALLOW && !blocked) return;
  /* no findings (most calls): the whole output in a stack buffer */
  char obuf[96], lat[32];
  size_t latn;
  const char *out_json = obuf;
  if (!nall && fixed_fast(lat, &latn, us, 1)) {
    const char *vn = kl_guard_action_name(verdict);  /* at most "restore" */
    char *w = obuf;
    W_LIT(w, "{\"verdict\":\"");
    w = w_mem(w, vn, strlen(vn));
    W_LIT(w, "\",\"findings\":[],\"latency_us\":");
    w = w_mem(w, lat, latn);
    *w++ = '}';
    *w = 0;
  } else {
    put_output(&o, parts, nparts, nall, verdict, us);
    out_json = o.data;
  }
  /* the metadata in a stack buffer when the policy's name is plain and fits (it always is in
   * practice: a config name) */
  char mbuf[256];
  kl_buf meta = KL_BUF_INIT;
  const char *meta_json = mbuf;
  plain_memo pm = {.n = 0};
  const char *pname = gd->r->name;
  size_t name_n = plain_of(&pm, &pname);
  const char *stn = kl_guard_stage_name(st);
  /* a streamed answer's rail: how many windows checked it on the way, in how long (guard_stream.c) */
  size_t windows = st == KL_GUARD_OUTPUT && gd->stream_rails ? gd->windows : 0;
  size_t windows_us = gd->windows_us > 0 ? (size_t)(gd->windows_us + 0.5) : 0;
  if (name_n < 128) {
    char *w = mbuf;
    W_LIT(w, "{\"policy\":");
    w = w_qstr(w, pname, name_n);
    W_LIT(w, ",\"stage\":\"");
    w = w_mem(w, stn, strlen(stn));
    W_LIT(w, "\",\"texts\":");
    w = w_size(w, nparts);
    if (nmemo) {
      W_LIT(w, ",\"texts_remembered\":");
      w = w_size(w, nmemo);
    }
    if (windows) {
      W_LIT(w, ",\"stream_windows\":");
      w = w_size(w, windows);
      W_LIT(w, ",\"stream_windows_us\":");
      w = w_size(w, windows_us);
    }
    *w++ = '}';
    *w = 0;
  } else {
    put_lit(&meta, "{\"policy\":");
    kl_buf_json_str(&meta, gd->r->name, strlen(gd->r->name));
    put_lit(&meta, ",\"stage\":\"");
    kl_buf_puts(&meta, stn);
    put_lit(&meta, "\",\"texts\":");
    kl_buf_i64(&meta, (int64_t)nparts);
    if (nmemo) {
      put_lit(&meta, ",\"texts_remembered\":");
      kl_buf_i64(&meta, (int64_t)nmemo);
    }
    if (windows) {
      put_lit(&meta, ",\"stream_windows\":");
      kl_buf_i64(&meta, (int64_t)windows);
      put_lit(&meta, ",\"stream_windows_us\":");
      kl_buf_i64(&meta, (int64_t)windows_us);
    }
    kl_buf_putc(&meta, '}');
    meta_json = meta.data;
  }
  static const char *const names[] = {"guardrail.input", "guardrail.during", "guardrail.output"};
  kl_span s = {
      .ctx = &c->ctx,
      .type = KL_OBS_GUARDRAIL,
      .name = names[st == KL_GUARD_OUTPUT ? 2 : st == KL_GUARD_DURING ? 1 : 0],
      .trace_name = c->ops->route,
      .start_ns = start_ns,
      .end_ns = kl_gw_now(c),
      .level = verdict == KL_GUARD_BLOCK ? "ERROR" : nall ? "WARNING" : "DEFAULT",
      .status_message = blocked,
      .output_json = out_json,
      .metadata_json = meta_json,
  };
  kl_err err = {0};
  if (kl_tracer_span(c->g->tracer, &s, &err) != 0) kl_warn("trace: guardrail observation not recorded: %s", err.msg);
  kl_buf_free(&o);
  kl_buf_free(&meta);
}
