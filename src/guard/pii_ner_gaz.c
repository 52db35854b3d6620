/* pii_ner_gaz.c: the gazetteer's window source: finds, without Hyperscan, the match ends of
 * the chunk rules (person_first_name, location_country, location_us_state, location_city,
 * location_city_word; pii_ner.c) and of the nrp rule's word list, which has their shape.
 *
 * Each chunk rule's search form is an alternation of ~70 literal entries.  Compiled with the
 * rest of the policy, those ~2600 literals changed how Hyperscan ran everything else: over 4 KiB
 * of plain prose the pii scanner took 137k instructions per check with them in the database
 * and takes 120k with this source (the every-kind input policy: 576k -> 542k); over the
 * benchmark's log-like sample it is about even (356k -> 361k; every kind 646k -> 640k).
 *
 * The source reports exactly what Hyperscan reported: for each chunk, every end of an
 * occurrence of one of its entries, anywhere (inside words too: "Annabelle" holds "Ann" and
 * "Anna"; byte for byte and case-sensitive, as the literals were compiled), so the engine
 * opens the same windows and the findings cannot change (test_guard_pii_gaz compares it with
 * Hyperscan running the chunks).
 *
 * How: every entry starts with a byte of a small set (A-Z, a few UTF-8 lead bytes of
 * capitals), found 32 bytes at a time with SSE2; a bit set of the entries' first two bytes
 * drops most of those starts ("Ké", "If"); from the others one walk down a trie of every entry
 * reports the slots (list's chunk) of the entries that end along the way.  A walk stops at the
 * first byte no entry continues with: after two or three bytes in prose.  The trie is built
 * once with the gazetteer (ner_gaz_trie_add, ner_gaz_trie_done) and read-only afterwards. */
#include "guard/pii_ner.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Flat trie: node n's children are keys/kid[first[n], first[n] + nkids[n]), keys sorted; the
 * slots of the entries ending at node n are term[tfirst[n], tfirst[n + 1]).  Node 0 is the
 * root, whose children are looked up in root[] by byte instead. */
typedef struct {
  unsigned char *keys;  /* padded by 16 bytes: SSE2 loads may read past a node's last key */
  unsigned *kid, *first, *nkids, *tfirst, *term;
  unsigned root[256];   /* child of the root by first byte, 0 if none */
  bool starts_simd;     /* every entry starts with A-Z or a byte of [hi_lo, hi_lo + hi_span] */
  unsigned char hi_lo, hi_span;  /* the range of the entries' first bytes >= 0x80 */
  bool pairs_ok;        /* every entry has two bytes or more: pairs[] may reject a start */
  uint64_t pairs[65536 / 64];  /* bit (a << 8 | b): some entry starts with the bytes a, b */
} gaz_trie;

static gaz_trie g_trie;

/* The trie under construction: a node's children as a linked list. */
typedef struct {
  unsigned child, sibling;  /* 0: none (node 0 is the root, never anyone's child) */
  unsigned char byte;
  unsigned *slots;
  size_t nslots;
} build_node;

static build_node *b_nodes;
static size_t b_n, b_cap;

static unsigned new_node(unsigned char byte) {
  if (b_n == b_cap) {
    b_cap = b_cap ? b_cap * 2 : 4096;
    b_nodes = realloc(b_nodes, b_cap * sizeof *b_nodes);
    if (!b_nodes) abort();
  }
  b_nodes[b_n] = (build_node){0, 0, byte, NULL, 0};
  return (unsigned)b_n++;
}

void ner_gaz_trie_add(const char *entry, unsigned slot) {
  if (!b_n) new_node(0);
  unsigned n = 0;
  for (const unsigned char *p = (const unsigned char *)entry; *p; p++) {
    unsigned *at = &b_nodes[n].child;  /* children kept sorted by byte */
    while (*at && b_nodes[*at].byte < *p) at = &b_nodes[*at].sibling;
    if (!*at || b_nodes[*at].byte != *p) {
      unsigned k = new_node(*p);  /* (may move b_nodes: `at` is recomputed below) */
      unsigned *at2 = &b_nodes[n].child;
      while (*at2 && b_nodes[*at2].byte < *p) at2 = &b_nodes[*at2].sibling;
      b_nodes[k].sibling = *at2;
      *at2 = k;
      n = k;
    } else {
      n = *at;
    }
  }
  if (n == 0) return;  /* an empty entry never matched anything */
  build_node *b = &b_nodes[n];
  for (size_t i = 0; i < b->nslots; i++)
    if (b->slots[i] == slot) return;
  b->slots = realloc(b->slots, (b->nslots + 1) * sizeof *b->slots);
  if (!b->slots) abort();
  b->slots[b->nslots++] = slot;
}

void ner_gaz_trie_done(void) {
  if (!b_n) new_node(0);
  gaz_trie *g = &g_trie;
  size_t n = b_n, nterm = 0;
  for (size_t i = 0; i < n; i++) nterm += b_nodes[i].nslots;
  g->keys = calloc(n + 16, 1);
  g->kid = calloc(n + 1, sizeof *g->kid);
  g->first = calloc(n, sizeof *g->first);
  g->nkids = calloc(n, sizeof *g->nkids);
  g->tfirst = calloc(n + 1, sizeof *g->tfirst);
  g->term = calloc(nterm + 1, sizeof *g->term);
  if (!g->keys || !g->kid || !g->first || !g->nkids || !g->tfirst || !g->term) abort();
  /* node numbers stay those of the build; children are laid out in node order */
  size_t k = 0, t = 0;
  for (size_t i = 0; i < n; i++) {
    g->first[i] = (unsigned)k;
    for (unsigned c = b_nodes[i].child; c; c = b_nodes[c].sibling) {
      g->keys[k] = b_nodes[c].byte;
      g->kid[k++] = c;
      if (i == 0) g->root[b_nodes[c].byte] = c;
    }
    g->nkids[i] = (unsigned)k - g->first[i];
    g->tfirst[i] = (unsigned)t;
    for (size_t q = 0; q < b_nodes[i].nslots; q++) g->term[t++] = b_nodes[i].slots[q];
    free(b_nodes[i].slots);
  }
  g->tfirst[n] = (unsigned)t;
  g->pairs_ok = true;
  for (unsigned c = 0; c < 256; c++) {
    unsigned n1 = g->root[c];
    if (!n1) continue;
    if (g->tfirst[n1 + 1] > g->tfirst[n1]) g->pairs_ok = false;  /* a one-byte entry */
    for (unsigned j = 0; j < g->nkids[n1]; j++) {
      unsigned pair = c << 8 | g->keys[g->first[n1] + j];
      g->pairs[pair >> 6] |= (uint64_t)1 << (pair & 63);
    }
  }
  g->starts_simd = true;
  int lo = 0x100, hi = 0;
  for (int c = 0; c < 0x100; c++) {
    if (!g->root[c] || (c >= 'A' && c <= 'Z')) continue;
    if (c < 0x80) g->starts_simd = false;
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  g->hi_lo = lo <= hi ? (unsigned char)lo : 'A';  /* none: the range A-A adds nothing */
  g->hi_span = lo <= hi ? (unsigned char)(hi - lo) : 0;
  free(b_nodes);
  b_nodes = NULL;
  b_n = b_cap = 0;
}

/* The child of node n by byte c, 0 if none. */
static inline unsigned trie_child(const gaz_trie *g, unsigned n, unsigned char c) {
  unsigned f = g->first[n], nk = g->nkids[n];
#ifdef __SSE2__
  if (nk > 4) {
    const __m128i v = _mm_set1_epi8((char)c);
    for (unsigned j = 0; j < nk; j += 16) {
      unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(g->keys + f + j)), v));
      if (nk - j < 16) m &= (1u << (nk - j)) - 1;
      if (m) return g->kid[f + j + (unsigned)__builtin_ctz(m)];
    }
    return 0;
  }
#endif
  for (unsigned j = 0; j < nk; j++)
    if (g->keys[f + j] == c) return g->kid[f + j];
  return 0;
}

/* Reports every entry occurrence starting at p. */
static inline void walk(const gaz_trie *g, const char *t, size_t len, size_t p, unsigned n,
                        guard_source_report_fn report, void *ctx) {
  for (size_t q = p + 1;; q++) {
    for (unsigned i = g->tfirst[n]; i < g->tfirst[n + 1]; i++) report(ctx, g->term[i], GUARD_SOURCE_LEAD, q);
    if (q >= len || !(n = trie_child(g, n, (unsigned char)t[q]))) return;
  }
}

/* The bytes of p[0, 16) that may start an entry, as a bit mask: A-Z and the range of the
 * UTF-8 lead bytes of the entries' non-ASCII capitals ("Å", "Č": 0xC3-0xC4). */
#ifdef __SSE2__
typedef struct { __m128i a, z, hlo, hspan; } start_set;

static inline unsigned start_mask(const start_set *k, const char *p) {
  const __m128i v = _mm_loadu_si128((const __m128i *)p), x = _mm_sub_epi8(v, k->a), y = _mm_sub_epi8(v, k->hlo);
  return (unsigned)_mm_movemask_epi8(
      _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, k->z), x), _mm_cmpeq_epi8(_mm_min_epu8(y, k->hspan), y)));
}
#endif

/* Candidate starts are found 32 bytes at a time (start_mask); then the root's table says which
 * of them start an entry.  Byte by byte if some entry starts with another byte. */
static void gaz_scan(const char *t, size_t len, guard_source_report_fn report, void *ctx) {
  const gaz_trie *g = &g_trie;
  size_t i = 0;
#ifdef __SSE2__
  const start_set k = {_mm_set1_epi8('A'), _mm_set1_epi8(25), _mm_set1_epi8((char)g->hi_lo),
                       _mm_set1_epi8((char)g->hi_span)};
  for (; g->starts_simd && i + 32 <= len; i += 32) {
    uint32_t m = start_mask(&k, t + i) | (uint32_t)start_mask(&k, t + i + 16) << 16;
    while (m) {
      size_t p = i + (unsigned)__builtin_ctz(m);
      m &= m - 1;
      if (p + 1 < len && g->pairs_ok) {  /* most capitals start no entry's first two bytes */
        unsigned pair = (unsigned)(unsigned char)t[p] << 8 | (unsigned char)t[p + 1];
        if (!(g->pairs[pair >> 6] >> (pair & 63) & 1)) continue;
      }
      unsigned n = g->root[(unsigned char)t[p]];
      if (n) walk(g, t, len, p, n, report, ctx);
    }
  }
#endif
  for (; i < len; i++) {
    unsigned n = g->root[(unsigned char)t[i]];
    if (n) walk(g, t, len, i, n, report, ctx);
  }
}

const guard_window_source ner_gaz_source = {gaz_scan};
