/* tokenizer_int.h: the tokenizer's private structure, shared by tokenizer_load.c (building
 * it) and tokenizer.c (using it).  Not part of the llm layer's API; the fuzzer and the unit
 * test use the two merge functions to check that they agree. */
#ifndef KL_TOKENIZER_INT_H
#define KL_TOKENIZER_INT_H

#include "llm/kl_llm.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string.h>

/* One open-addressing slot: the key's hash (to skip most memcmp) and rank + 1 (0 = empty). */
typedef struct kl_tok_slot {
  uint32_t hash;
  uint32_t rank1;
} kl_tok_slot;

struct kl_tokenizer {
  const char *name;
  pcre2_code *re;         /* the split pattern, JIT-compiled when possible */
  uint8_t *blob;          /* every token's bytes, back to back */
  uint32_t *tok_off;      /* rank -> offset in blob (ranks are dense here: index = rank) */
  uint16_t *tok_len;      /* rank -> length in bytes; 0 = no token has this rank */
  uint32_t nranks;        /* max rank + 1 */
  uint32_t ntokens;
  uint32_t max_len;       /* longest token in bytes: longer strings need no lookup */
  kl_tok_slot *slots;     /* power-of-two table, load factor <= 0.5 */
  uint32_t mask;
};

uint32_t kl_tok_hash(const uint8_t *p, size_t n);

/* Rank of the byte string, or UINT32_MAX if it is not a token.  Lock-free, read-only. */
static inline uint32_t kl_tok_rank(const struct kl_tokenizer *t, const uint8_t *p, size_t n) {
  if (n > t->max_len) return UINT32_MAX;
  uint32_t h = kl_tok_hash(p, n);
  for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const kl_tok_slot *s = &t->slots[i];
    if (!s->rank1) return UINT32_MAX;
    if (s->hash == h) {
      uint32_t r = s->rank1 - 1;
      if (t->tok_len[r] == n && !memcmp(t->blob + t->tok_off[r], p, n)) return r;
    }
  }
}

/* The two byte-pair merges of one piece (n >= 1 bytes): tiktoken's quadratic scan and the
 * O(n log n) heap version used for long pieces.  Both return the token count and write up
 * to `cap` ranks to `out` (out may be NULL).  They must agree exactly. */
size_t kl_tok_merge_scan(const struct kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap);
size_t kl_tok_merge_heap(const struct kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap);

#endif
