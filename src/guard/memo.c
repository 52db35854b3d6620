/* memo.c: a memory of texts a policy has checked, so a text that comes back is not checked
 * again (kl_guard_memo, kl_guard_check_memo).
 *
 * Chat requests repeat most of their text: the system prompt (often kilobytes of
 * instructions, tool descriptions, a RAG preamble) and the earlier turns of a conversation
 * come back on every call, and each costs a whole check (~100 instructions per byte with
 * every scanner on: a 2 KiB system prompt is ~25 us per call).  A check is a function of the
 * policy, the stage and the text alone when no per-request input takes part (no canary token,
 * no response schema, not a window of a stream), and policies are immutable, so a text's
 * result is the same every time it is checked.
 *
 * What is kept: copies of the texts, compared byte for byte on a hit, so no hash collision
 * can let a different text through unchecked, and each text's result: its findings (offsets,
 * types and scores; the strings they name live with the policy, which the key pins) and the
 * index of the finding that decided a block.  Texts with findings are kept too: a contact
 * address in a system prompt, or a user's phone number in turn 1 of a conversation, comes
 * back on every later call, and redacting it again needs only the findings.  Not kept: a text
 * with a finding whose action is anonymise-and-restore, whose values must not outlive their
 * request.  A text is admitted on its second sighting (a table of recently seen hashes says
 * whether it was seen), so a stream of one-off user messages does not push out the system
 * prompts that do repeat.  Slots are direct-mapped by hash; a new admission replaces the
 * slot's text.  The bytes kept (texts and findings) are bounded (max_bytes), and so is one
 * text (an eighth of that).  The memo lives in memory only and dies with the process.
 *
 * Not thread-safe, on purpose: one memo per event loop (the gateway keeps one per worker),
 * so a lookup takes no lock.  The hash reads at most 128 bytes (the head and tail of the text)
 * plus its length: cheap on a miss, and the byte comparison settles a hit. */
#include "guard/db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 256   /* texts kept (power of two) */
#define MEMO_SEEN 2048   /* hashes of texts seen once (power of two) */
#define MEMO_HASHED 64   /* bytes hashed at each end of a text */

typedef struct {
  uint64_t hash;               /* 0: empty */
  uint64_t policy;             /* the policy's serial (guard_policy_serial) */
  void *block;                 /* malloc'd: the n findings of the result, then the text and a NUL */
  size_t len, size;            /* the text's length; the block's bytes */
  size_t n;
  size_t blocker;              /* index of the finding that decided a block or reask, or SIZE_MAX */
  kl_guard_action action;
  unsigned char stage, expect_json;
} memo_slot;

static inline const kl_guard_finding *slot_findings(const memo_slot *s) { return s->block; }
static inline const char *slot_text(const memo_slot *s) {
  return (const char *)s->block + s->n * sizeof(kl_guard_finding);
}

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
  for (size_t i = 0; i < MEMO_SLOTS; i++) free(m->slot[i].block);
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
      s->expect_json == in->expect_json && !memcmp(slot_text(s), in->text, in->len)) {
    *out = (kl_guard_result){.action = s->action, .n = s->n, .memo_hit = true};
    if (s->n) {
      out->findings = kl_arena_alloc(a, s->n * sizeof *out->findings);
      memcpy(out->findings, slot_findings(s), s->n * sizeof *out->findings);
      if (s->blocker != SIZE_MAX) out->blocker = &out->findings[s->blocker];
    }
    m->st.hits++;
    out->us = (double)(kl_mono_ns() - t0) / 1e3;
    return 0;
  }
  m->st.misses++;
  if (kl_guard_check(p, in, a, out, err) != 0) return -1;
  if (in->len > m->max_bytes / 8) return 0;
  for (size_t i = 0; i < out->n; i++)
    if (out->findings[i].action == KL_GUARD_RESTORE) return 0;
  uint64_t *seen = &m->seen[h & (MEMO_SEEN - 1)];
  if (*seen != h) {  /* first sighting: remember the hash only */
    *seen = h;
    return 0;
  }
  /* one block: the findings (aligned), then the text and its NUL */
  size_t fbytes = out->n * sizeof *out->findings, size = fbytes + in->len + 1;
  size_t freed = s->block ? s->size : 0;
  if (m->bytes - freed + size > m->max_bytes) return 0;
  char *block = malloc(size);
  if (!block) return 0;  /* the memo is an optimisation: no memory, no entry */
  if (fbytes) memcpy(block, out->findings, fbytes);
  char *copy = block + fbytes;
  memcpy(copy, in->text, in->len);
  copy[in->len] = 0;
  if (s->block) m->st.evictions++;
  free(s->block);
  m->bytes = m->bytes - freed + size;
  *s = (memo_slot){.hash = h, .policy = pol, .block = block, .len = in->len, .size = size, .n = out->n,
                   .blocker = out->blocker ? (size_t)(out->blocker - out->findings) : SIZE_MAX,
                   .action = out->action, .stage = (unsigned char)in->stage, .expect_json = in->expect_json};
  m->st.admitted++;
  return 0;
}
