/* apply.c: rewriting a text with its findings: redact, mask, hash, or anonymise-and-restore.
 *
 * Placeholders are typed and numbered per text (<EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2>), and the
 * same value always gets the same number so a model can still tell "the same person" apart
 * from "another person".  Hashes are HMAC-SHA256 under the policy's key (a plain hash of a
 * phone number is trivially reversible by enumeration), truncated to 16 hex chars. */
#include "guard/guard_int.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

typedef struct { const uint8_t *key; size_t len; } hkey;

/* The writers below store into a buffer rewrite() sized for the worst case: a replacement is
 * at most max(the value's length, its type's length + 16) bytes (a placeholder "<TYPE_n>" with
 * up to 10 digits, 16 hex chars of hash, one mask byte per value byte at most). */
static char *put_hash(char *w, const hkey *k, const char *s, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)s, n, md, &mdlen)) abort();
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    *w++ = hex[md[i] >> 4];
    *w++ = hex[md[i] & 15];
  }
  return w;
}

/* "<TYPE_n>" (printf would cost more than the rest of a rewrite) */
static char *put_placeholder(char *w, const char *type, size_t type_len, unsigned no) {
  char d[12];
  size_t k = sizeof d;
  d[--k] = '>';
  do d[--k] = (char)('0' + no % 10); while ((no /= 10) && k > 1);
  d[--k] = '_';
  *w++ = '<';
  memcpy(w, type, type_len);
  w += type_len;
  memcpy(w, d + k, sizeof d - k);
  return w + (sizeof d - k);
}

static char *put_mask(char *w, const kl_guard_finding *f, const char *s, size_t n) {
  if (!strcmp(f->type, "CREDIT_CARD")) {
    size_t digits = 0, seen = 0;
    for (size_t i = 0; i < n; i++) digits += isdigit((unsigned char)s[i]) != 0;
    for (size_t i = 0; i < n; i++) {
      if (!isdigit((unsigned char)s[i])) continue;
      *w++ = ++seen + 4 > digits ? s[i] : '*';
    }
    return w;
  }
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) *w++ = '*';  /* one per code point */
  return w;
}

/* Number of the placeholder for finding i: the number of an earlier same-type, same-value
 * finding, or the next one of its type. */
static unsigned placeholder_no(const char *text, const kl_guard_finding *f, size_t i, const unsigned *nos) {
  unsigned max = 0;
  size_t n = f[i].end - f[i].start;
  for (size_t j = 0; j < i; j++) {
    if (!nos[j] || (f[j].type != f[i].type && strcmp(f[j].type, f[i].type))) continue;
    if (f[j].end - f[j].start == n && !memcmp(text + f[j].start, text + f[i].start, n)) return nos[j];
    if (nos[j] > max) max = nos[j];
  }
  return max + 1;
}

/* Whether scanner `name`'s findings are rewritten, remembered for the last name asked (a
 * text's findings mostly come from one or two scanners). */
typedef struct { const char *name; bool rewrites; } rewrites_memo;

static bool scanner_rewrites(const kl_guard_policy *p, const char *name, rewrites_memo *m) {
  if (m->name != name) {
    m->name = name;
    m->rewrites = guard_policy_rewrites(p, name);
  }
  return m->rewrites;
}

/* Which action rewrites finding f: the override, else its own; ALLOW = leave it. */
static kl_guard_action rewrite_action(const kl_guard_policy *p, const kl_guard_finding *f, kl_guard_action override,
                                      rewrites_memo *m) {
  if (!scanner_rewrites(p, f->scanner, m)) return KL_GUARD_ALLOW;
  kl_guard_action act = override ? override : f->action;
  switch (act) {
  case KL_GUARD_REDACT: case KL_GUARD_MASK: case KL_GUARD_HASH: case KL_GUARD_RESTORE: return act;
  case KL_GUARD_BLOCK: return KL_GUARD_REDACT;  /* a blocked text shown redacted (CLI, traces) */
  default: return KL_GUARD_ALLOW;
  }
}

/* The vault's placeholder for (type, value), or NULL. */
static const char *vault_find(const kl_guard_vault *v, const char *type, const char *val, size_t n) {
  for (size_t i = 0; i < v->n; i++)
    if (v->value_len[i] == n && !strcmp(v->type[i], type) && !memcmp(v->value[i], val, n)) return v->placeholder[i];
  return NULL;
}

static const char *vault_add(kl_guard_vault *v, kl_arena *a, const char *type, const char *val, size_t n) {
  unsigned no = 1;
  for (size_t i = 0; i < v->n; i++) no += !strcmp(v->type[i], type);
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    const char **ph = kl_arena_alloc(a, cap * sizeof *ph), **vl = kl_arena_alloc(a, cap * sizeof *vl),
               **ty = kl_arena_alloc(a, cap * sizeof *ty);
    size_t *ln = kl_arena_alloc(a, cap * sizeof *ln);
    if (v->n) {
      memcpy(ph, v->placeholder, v->n * sizeof *ph);
      memcpy(vl, v->value, v->n * sizeof *vl);
      memcpy(ty, v->type, v->n * sizeof *ty);
      memcpy(ln, v->value_len, v->n * sizeof *ln);
    }
    v->placeholder = ph, v->value = vl, v->type = ty, v->value_len = ln, v->cap = cap;
  }
  v->placeholder[v->n] = kl_arena_sprintf(a, "<%s_%u>", type, no);
  v->value[v->n] = kl_arena_strndup(a, val, n);
  v->type[v->n] = type;
  v->value_len[v->n] = n;
  return v->placeholder[v->n++];
}

/* Written straight into the arena, sized for the worst case (see put_hash): no growing buffer
 * to append to and copy out.  A 4 KiB prompt with 53 findings: 26k -> ~15k instructions. */
static char *rewrite(const kl_guard_policy *p, const char *text, size_t len, const kl_guard_finding *f, size_t nf,
                     kl_guard_action override, kl_guard_vault *vault, kl_arena *a, size_t *out_len) {
  hkey k = {NULL, 0};
  k.key = guard_policy_key(p, &k.len);
  size_t cap = len + 1;
  for (size_t i = 0; i < nf; i++) cap += strlen(f[i].type) + 16;
  char *out = kl_arena_alloc(a, cap), *w = out;
  unsigned *nos = nf ? kl_arena_calloc(a, nf * sizeof *nos) : NULL;
  rewrites_memo memo = {NULL, false};
  size_t cur = 0;
  for (size_t i = 0; i < nf; i++) {
    if (f[i].start < cur || f[i].end > len || f[i].end <= f[i].start) continue;  /* overlaps across scanners */
    kl_guard_action act = rewrite_action(p, &f[i], override, &memo);
    if (act == KL_GUARD_ALLOW) continue;
    memcpy(w, text + cur, f[i].start - cur);
    w += f[i].start - cur;
    const char *s = text + f[i].start;
    size_t n = f[i].end - f[i].start;
    switch (act) {
    case KL_GUARD_MASK: w = put_mask(w, &f[i], s, n); break;
    case KL_GUARD_HASH: w = put_hash(w, &k, s, n); break;
    case KL_GUARD_RESTORE:
      if (vault) {
        const char *ph = vault_find(vault, f[i].type, s, n);
        if (!ph) ph = vault_add(vault, a, f[i].type, s, n);
        size_t pl = strlen(ph);
        memcpy(w, ph, pl);
        w += pl;
        break;
      }
      /* without a vault, restore is a redaction */
      __attribute__((fallthrough));
    default:
      nos[i] = placeholder_no(text, f, i, nos);
      w = put_placeholder(w, f[i].type, strlen(f[i].type), nos[i]);
      break;
    }
    cur = f[i].end;
  }
  memcpy(w, text + cur, len - cur);
  w += len - cur;
  *w = 0;
  if (out_len) *out_len = (size_t)(w - out);
  return out;
}

/* Moves a finished buffer into the arena as a NUL-terminated string and frees it. */
static char *into_arena(kl_buf *b, kl_arena *a, size_t *out_len) {
  char *out = kl_arena_alloc(a, b->len + 1);
  if (b->len) memcpy(out, b->data, b->len);
  out[b->len] = 0;
  if (out_len) *out_len = b->len;
  kl_buf_free(b);
  return out;
}

char *kl_guard_apply(const kl_guard_policy *p, const char *text, size_t len, const kl_guard_finding *f, size_t nf,
                     kl_guard_action action, kl_arena *a, size_t *out_len) {
  return rewrite(p, text, len, f, nf, action, NULL, a, out_len);
}

char *kl_guard_anonymise(const kl_guard_policy *p, const char *text, size_t len, const kl_guard_finding *f,
                         size_t nf, kl_guard_vault *vault, kl_arena *a, size_t *out_len) {
  return rewrite(p, text, len, f, nf, KL_GUARD_ALLOW, vault, a, out_len);
}

char *kl_guard_restore(const kl_guard_vault *v, const char *text, size_t len, kl_arena *a, size_t *out_len) {
  kl_buf b = KL_BUF_INIT;
  size_t cur = 0;
  for (const char *q; v->n && (q = memchr(text + cur, '<', len - cur));) {
    size_t at = (size_t)(q - text), hit = (size_t)-1;
    for (size_t i = 0; i < v->n; i++) {
      size_t pl = strlen(v->placeholder[i]);
      if (pl <= len - at && !memcmp(text + at, v->placeholder[i], pl)) {
        hit = i;
        break;
      }
    }
    kl_buf_append(&b, text + cur, at - cur);
    if (hit == (size_t)-1) {
      kl_buf_putc(&b, '<');
      cur = at + 1;
      continue;
    }
    kl_buf_append(&b, v->value[hit], v->value_len[hit]);
    cur = at + strlen(v->placeholder[hit]);
  }
  kl_buf_append(&b, text + cur, len - cur);
  return into_arena(&b, a, out_len);
}
