/* tokenizer_load.c: building a tokenizer from tiktoken's rank file, once per encoding.
 *
 * The file (npm tiktoken's encoders/<name>.json, embedded by tokenizer_data.c) has the split
 * regex in `pat_str` and the ranks in `bpe_ranks`: lines "<ignored> <offset> <b64> <b64> ...",
 * token i on a line having rank offset + i.  We decode every token once into one blob and
 * index it with an open-addressing hash table (hash + rank per 8-byte slot, load <= 0.5),
 * so a lookup during merging is one hash of a few bytes and usually one memcmp.  Ranks are
 * dense (0..199997 for o200k), so rank -> bytes is two flat arrays.
 *
 * Tokenizers are built lazily on first use (start-up pays nothing when counting is never
 * needed), published with an atomic pointer, and are immutable afterwards: counting never
 * locks.  Building takes a mutex so two threads asking at once build it once.
 * kl_tokenizer_free_all() exists for tests that want a LeakSanitizer-clean exit. */
#include "llm/tokenizer_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

extern const char kl_tok_o200k[], kl_tok_o200k_end[];
extern const char kl_tok_cl100k[], kl_tok_cl100k_end[];

/* A small multiply-xor hash over 8-byte words: tokens are short, so per-call setup matters
 * more than throughput on long keys. */
uint32_t kl_tok_hash(const uint8_t *p, size_t n) {
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t h = (uint64_t)n * k;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ 0xff) * k;
  }
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return (uint32_t)h;
}

static int8_t b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return (int8_t)(c - 'A');
  if (c >= 'a' && c <= 'z') return (int8_t)(c - 'a' + 26);
  if (c >= '0' && c <= '9') return (int8_t)(c - '0' + 52);
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes standard base64 (with '=' padding) into out; returns the length or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
  if (n == 0 || n % 4) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int8_t v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      unsigned char c = (unsigned char)s[i + (size_t)j];
      if (c == '=' && i + 4 == n && j >= 2) {
        v[j] = 0;
        pad++;
      } else if (pad || (v[j] = b64val(c)) < 0) {
        return -1;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2) out[o++] = (uint8_t)(w >> 8);
    if (pad < 1) out[o++] = (uint8_t)w;
  }
  return (long)o;
}

static void tok_free(kl_tokenizer *t) {
  if (!t) return;
  pcre2_code_free(t->re);
  free(t->blob);
  free(t->tok_off);
  free(t->tok_len);
  free(t->slots);
  free(t);
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) {
    kl_error("tokenizer: out of memory");
    abort();
  }
  return p;
}

/* One pass over bpe_ranks: with t->blob == NULL it only measures (token count, blob size,
 * max rank); otherwise it fills the blob and the rank arrays. */
static int scan_ranks(kl_tokenizer *t, const char *s, size_t n, size_t *blob_len, uint32_t *max_rank,
                      kl_err *err) {
  size_t pos = 0, blen = 0;
  uint32_t count = 0, maxr = 0;
  uint8_t tmp[1024];
  while (pos < n) {
    size_t eol = pos;
    while (eol < n && s[eol] != '\n') eol++;
    /* fields: <ignored> <offset> tokens... */
    size_t p = pos;
    while (p < eol && s[p] != ' ') p++;
    if (p < eol) p++;
    uint64_t off = 0;
    size_t digits = 0;
    while (p < eol && s[p] >= '0' && s[p] <= '9' && digits < 10) off = off * 10 + (uint64_t)(s[p++] - '0'), digits++;
    if (p < eol && s[p] == ' ') p++;
    if (eol > pos && (!digits || off > UINT32_MAX / 2)) {
      kl_err_set(err, 500, "tokenizer %s: bad bpe_ranks line at byte %zu", t->name, pos);
      return -1;
    }
    uint64_t idx = 0;
    while (p < eol) {
      size_t e = p;
      while (e < eol && s[e] != ' ') e++;
      if (e > p) {
        uint64_t rank = off + idx++;
        long len = (e - p) <= sizeof tmp / 3 * 4 ? b64_decode(s + p, e - p, tmp) : -1;
        if (len <= 0 || rank >= UINT32_MAX / 2) {
          kl_err_set(err, 500, "tokenizer %s: bad token at byte %zu", t->name, p);
          return -1;
        }
        if (t->blob) {
          if (t->tok_len[rank]) {
            kl_err_set(err, 500, "tokenizer %s: rank %llu given twice", t->name, (unsigned long long)rank);
            return -1;
          }
          memcpy(t->blob + blen, tmp, (size_t)len);
          t->tok_off[rank] = (uint32_t)blen;
          t->tok_len[rank] = (uint16_t)len;
          if ((uint32_t)len > t->max_len) t->max_len = (uint32_t)len;
        }
        blen += (size_t)len;
        count++;
        if (rank > maxr) maxr = (uint32_t)rank;
      }
      p = e + 1;
    }
    pos = eol + 1;
  }
  if (blen > UINT32_MAX) {
    kl_err_set(err, 500, "tokenizer %s: rank data too large", t->name);
    return -1;
  }
  t->ntokens = count;
  *blob_len = blen;
  *max_rank = maxr;
  return 0;
}

static int build_index(kl_tokenizer *t, kl_err *err) {
  uint32_t cap = 1024;
  while (cap < t->ntokens * 2u) cap <<= 1;
  t->slots = xcalloc(cap, sizeof *t->slots);
  t->mask = cap - 1;
  for (uint32_t r = 0; r < t->nranks; r++) {
    if (!t->tok_len[r]) continue;
    const uint8_t *p = t->blob + t->tok_off[r];
    if (kl_tok_rank(t, p, t->tok_len[r]) != UINT32_MAX) {
      kl_err_set(err, 500, "tokenizer %s: token of rank %u listed twice", t->name, r);
      return -1;
    }
    uint32_t h = kl_tok_hash(p, t->tok_len[r]), i = h & t->mask;
    while (t->slots[i].rank1) i = (i + 1) & t->mask;
    t->slots[i].hash = h;
    t->slots[i].rank1 = r + 1;
  }
  /* Byte-level BPE: every single byte must be a token, or merging could get stuck. */
  for (int b = 0; b < 256; b++) {
    uint8_t c = (uint8_t)b;
    if (kl_tok_rank(t, &c, 1) == UINT32_MAX) {
      kl_err_set(err, 500, "tokenizer %s: byte 0x%02x has no rank", t->name, b);
      return -1;
    }
  }
  return 0;
}

/* tiktoken's regex engine (Rust's) takes \s to be Unicode's White_Space property; PCRE2's
 * \s with UCP also matches U+180E MONGOLIAN VOWEL SEPARATOR (through \h), which splits
 * differently (found by the integration test).  So \s and \S are spelled out as classes of
 * exactly White_Space before compiling.  \S inside a class cannot be spelled out; the
 * shipped patterns do not use it there, and a pattern that does is rejected. */
#define WS_CLASS "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
static char *rewrite_ws(const char *pat) {
  kl_buf b = KL_BUF_INIT;
  bool in_class = false;
  for (const char *p = pat; *p; p++) {
    if (*p == '\\' && p[1]) {
      if (p[1] == 's') {
        kl_buf_puts(&b, in_class ? WS_CLASS : "[" WS_CLASS "]");
      } else if (p[1] == 'S' && !in_class) {
        kl_buf_puts(&b, "[^" WS_CLASS "]");
      } else if (p[1] == 'S') {
        kl_buf_free(&b);
        return NULL;
      } else {
        kl_buf_append(&b, p, 2);
      }
      p++;
      continue;
    }
    if (*p == '[' && !in_class) {
      in_class = true;
      kl_buf_putc(&b, '[');
      if (p[1] == '^') kl_buf_putc(&b, *++p);
      if (p[1] == ']') kl_buf_putc(&b, *++p); /* a leading ']' is a literal */
      continue;
    }
    if (*p == ']' && in_class) in_class = false;
    kl_buf_putc(&b, *p);
  }
  return kl_buf_steal(&b);
}

static kl_tokenizer *tok_build(const char *name, const char *json, size_t len, kl_err *err) {
  kl_tokenizer *t = xcalloc(1, sizeof *t);
  t->name = name;
  cJSON *root = kl_json_parse(json, len, err);
  if (!root) goto fail;
  const char *pat = kl_json_str(root, "pat_str");
  const cJSON *ranks = cJSON_GetObjectItemCaseSensitive(root, "bpe_ranks");
  if (!pat || !cJSON_IsString(ranks)) {
    kl_err_set(err, 500, "tokenizer %s: pat_str or bpe_ranks missing", name);
    goto fail;
  }
  char *wpat = rewrite_ws(pat);
  if (!wpat) {
    kl_err_set(err, 500, "tokenizer %s: pat_str uses \\S inside a class", name);
    goto fail;
  }
  int ec;
  PCRE2_SIZE eoff;
  t->re = pcre2_compile((PCRE2_SPTR)wpat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eoff, NULL);
  free(wpat);
  if (!t->re) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 500, "tokenizer %s: pat_str at %zu: %s", name, (size_t)eoff, (char *)msg);
    goto fail;
  }
  pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* optional: the interpreter gives the same splits */

  const char *rs = ranks->valuestring;
  size_t rn = strlen(rs), blob_len;
  uint32_t max_rank;
  if (scan_ranks(t, rs, rn, &blob_len, &max_rank, err) < 0) goto fail;
  if (t->ntokens < 256) {
    kl_err_set(err, 500, "tokenizer %s: only %u tokens", name, t->ntokens);
    goto fail;
  }
  t->nranks = max_rank + 1;
  t->blob = xcalloc(blob_len, 1);
  t->tok_off = xcalloc(t->nranks, sizeof *t->tok_off);
  t->tok_len = xcalloc(t->nranks, sizeof *t->tok_len);
  if (scan_ranks(t, rs, rn, &blob_len, &max_rank, err) < 0 || build_index(t, err) < 0) goto fail;
  cJSON_Delete(root);
  return t;
fail:
  cJSON_Delete(root);
  tok_free(t);
  return NULL;
}

/* ---- the shared instances ---- */

static const struct {
  const char *name;
  const char *start, *end;
} encodings[] = {
    {"o200k_base", kl_tok_o200k, kl_tok_o200k_end},
    {"cl100k_base", kl_tok_cl100k, kl_tok_cl100k_end},
};
#define N_ENC (sizeof encodings / sizeof encodings[0])

static _Atomic(kl_tokenizer *) shared[N_ENC];
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;

kl_tokenizer *kl_tokenizer_get(const char *encoding, kl_err *err) {
  size_t i = 0;
  while (i < N_ENC && (!encoding || strcmp(encoding, encodings[i].name))) i++;
  if (i == N_ENC) {
    kl_err_set(err, 400, "unknown encoding '%s' (known: o200k_base, cl100k_base)", encoding ? encoding : "(null)");
    return NULL;
  }
  kl_tokenizer *t = atomic_load_explicit(&shared[i], memory_order_acquire);
  if (t) return t;
  pthread_mutex_lock(&build_mu);
  t = atomic_load_explicit(&shared[i], memory_order_acquire);
  if (!t) {
    int64_t t0 = kl_mono_ns();
    t = tok_build(encodings[i].name, encodings[i].start, (size_t)(encodings[i].end - encodings[i].start), err);
    if (t) {
      kl_debug("tokenizer %s: %u tokens loaded in %.1f ms", t->name, t->ntokens, (double)(kl_mono_ns() - t0) / 1e6);
      atomic_store_explicit(&shared[i], t, memory_order_release);
    }
  }
  pthread_mutex_unlock(&build_mu);
  return t;
}

void kl_tokenizer_free_all(void) {
  pthread_mutex_lock(&build_mu);
  for (size_t i = 0; i < N_ENC; i++) tok_free(atomic_exchange(&shared[i], NULL));
  pthread_mutex_unlock(&build_mu);
}

const char *kl_tokenizer_name(const kl_tokenizer *t) { return t->name; }

static bool has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

const char *kl_tokenizer_for_model(const char *model) {
  if (!model) return "o200k_base";
  const char *slash = strrchr(model, '/'); /* "openai/gpt-4", "azure/gpt-35-turbo" */
  if (slash) model = slash + 1;
  if (has_prefix(model, "ft:")) model += 3; /* fine-tunes: "ft:gpt-3.5-turbo:org::id" */
  static const char *const o200k[] = {"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", NULL};
  static const char *const cl100k[] = {"gpt-4", "gpt-3.5", "gpt-35", "text-embedding-", "davinci-002",
                                       "babbage-002", NULL};
  for (int i = 0; o200k[i]; i++)
    if (has_prefix(model, o200k[i])) return "o200k_base";
  for (int i = 0; cl100k[i]; i++)
    if (has_prefix(model, cl100k[i])) return "cl100k_base";
  return "o200k_base";
}
