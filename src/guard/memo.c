/* memo.c: a memory of texts a policy found clean, so a text that comes back is not checked
 * again (kl_guard_memo, kl_guard_check_memo).
 *
 * Chat requests repeat most of their text: the system prompt (often kilobytes of
 * instructions, tool descriptions, a RAG preamble) and the earlier turns of a conversation
 * come back on every call, and each costs a whole check (~100 instructions per byte with
 * every scanner on: a 2 KiB system prompt is ~25 us per call).  A check is a function of the
 * policy, the stage and the text alone when no per-request input takes part (no canary token,
 * no response schema, not a window of a stream), and policies are immutable, so a text found
 * clean once is clean every time.
 *
 * What is kept: copies of clean texts, compared byte for byte on a hit, so no hash collision
 * can let a different text through unchecked.  Texts with findings are not kept: their
 * findings feed rewriting and observations, and they are the rare case.  A text is admitted
 * on its second clean sighting (a table of recently seen hashes says whether it was seen), so
 * a stream of one-off user messages does not push out the system prompts that do repeat.
 * Slots are direct-mapped by hash; a new admission replaces the slot's text.  The bytes kept
 * are bounded (max_bytes), and so is one text (an eighth of that).
 *
 * Not thread-safe, on purpose: one memo per event loop (the gateway keeps one per worker),
 * so a lookup takes no lock.  The hash reads at most 128 bytes (the head and tail of the text)
 * plus its length: cheap on a miss, and the byte comparison settles a hit. */
#include "guard/db.h"

#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 256   /* texts kept (power of two) */
#define MEMO_SEEN 2048   /* hashes of texts seen once (power of two) */
#define MEMO_HASHED 64   /* bytes hashed at each end of a text */

typedef struct {
  uint64_t hash;   /* 0: empty */
  uint64_t policy; /* the policy's serial (guard_policy_serial) */
  char *text;
  size_t len;
  unsigned char stage, expect_json;
} memo_slot;

struct kl_guard_memo {
  memo_slot slot[MEMO_SLOTS];
  uint64_t seen[MEMO_SEEN];
  size_t bytes, max_bytes;
  kl_guard_memo_stats st;
};

kl_guard_memo *kl_guard_memo_new(size_t max_bytes) {
  kl_guard_memo *m = calloc(1, sizeof *m);
  if (!m) abort();
  m->max_bytes = max_bytes ? max_bytes : (size_t)4 << 20;
  return m;
}

void kl_guard_memo_free(kl_guard_memo *m) {
  if (!m) return;
  for (size_t i = 0; i < MEMO_SLOTS; i++) free(m->slot[i].text);
  free(m);
}

kl_guard_memo_stats kl_guard_memo_stats_get(const kl_guard_memo *m) {
  kl_guard_memo_stats s = m->st;
  s.bytes = m->bytes;
  return s;
}

/* FNV-1a over the key's fields, the first and last MEMO_HASHED bytes and the length. */
static uint64_t memo_hash(uint64_t policy, const kl_guard_text *in) {
  uint64_t h = 0xcbf29ce484222325ull;
#define MIX(b) (h = (h ^ (unsigned char)(b)) * 0x100000001b3ull)
  const char *t = in->text;
  size_t n = in->len, head = n < 2 * MEMO_HASHED ? n : MEMO_HASHED;
  for (size_t i = 0; i < head; i++) MIX(t[i]);
  for (size_t i = n - (n < 2 * MEMO_HASHED ? 0 : MEMO_HASHED); i < n; i++) MIX(t[i]);
#undef MIX
  h ^= (uint64_t)n * 0x9e3779b97f4a7c15ull;
  h ^= policy * 0xc2b2ae3d27d4eb4full + ((uint64_t)in->stage << 1 | in->expect_json);
  h ^= h >> 29;
  return h ? h : 1;
}

/* Whether a check of in depends on the text and stage alone. */
static bool memo_applies(const kl_guard_text *in) {
  return !in->partial && !in->canary && !in->json_schema;
}

int kl_guard_check_memo(const kl_guard_policy *p, kl_guard_memo *m, const kl_guard_text *in, kl_arena *a,
                        kl_guard_result *out, kl_err *err) {
  if (!m || !memo_applies(in)) return kl_guard_check(p, in, a, out, err);
  int64_t t0 = kl_mono_ns();
  uint64_t pol = guard_policy_serial(p), h = memo_hash(pol, in);
  memo_slot *s = &m->slot[h & (MEMO_SLOTS - 1)];
  if (s->hash == h && s->policy == pol && s->len == in->len && s->stage == in->stage &&
      s->expect_json == in->expect_json && !memcmp(s->text, in->text, in->len)) {
    *out = (kl_guard_result){.action = KL_GUARD_ALLOW, .memo_hit = true};
    m->st.hits++;
    out->us = (double)(kl_mono_ns() - t0) / 1e3;
    return 0;
  }
  m->st.misses++;
  if (kl_guard_check(p, in, a, out, err) != 0) return -1;
  if (out->n || in->len > m->max_bytes / 8) return 0;
  uint64_t *seen = &m->seen[h & (MEMO_SEEN - 1)];
  if (*seen != h) {  /* first sighting: remember the hash only */
    *seen = h;
    return 0;
  }
  size_t freed = s->text ? s->len + 1 : 0;
  if (m->bytes - freed + in->len + 1 > m->max_bytes) return 0;
  char *copy = malloc(in->len + 1);
  if (!copy) return 0;  /* the memo is an optimisation: no memory, no entry */
  memcpy(copy, in->text, in->len);
  copy[in->len] = 0;
  if (s->text) m->st.evictions++;
  free(s->text);
  m->bytes = m->bytes - freed + in->len + 1;
  *s = (memo_slot){.hash = h, .policy = pol, .text = copy, .len = in->len, .stage = (unsigned char)in->stage,
                   .expect_json = in->expect_json};
  m->st.admitted++;
  return 0;
}
