/* auth.c: who is calling, and for which project.
 *
 * Two credentials:
 *   Authorization: Bearer <admin key>       keel's own API; project "default" unless the
 *                                           request names one (X-Keel-Project)
 *   Authorization: Basic base64(pk:sk)      what Langfuse's SDKs (and OTLP exporters configured
 *                                           for Langfuse) send; the project is the key's
 * Without an Authorization header a request is anonymous: allowed (project "default") only
 * where the caller says so, i.e. keel's read API when no admin key is configured (keel then
 * listens on loopback only, see server.c).  Ingestion always needs a credential.
 *
 * Secrets are stored as SHA-256(salt || secret) with a 16-byte random salt per key.  A
 * secret is 122 random bits (a v4 UUID), so a slow KDF would add nothing: no dictionary
 * reaches it.  Comparisons are constant-time (CRYPTO_memcmp).
 *
 * The cache.  Verifying a key needs the api_keys row, i.e. SQL, which never runs on an event
 * loop: a miss goes to libuv's thread pool (lookup + hash), and the verified pair is cached
 * so later requests are answered on the loop without SQL or hashing: public key -> (secret
 * that verified, project, expiry).  Correctness: a hit requires the presented secret to
 * equal the cached one (constant-time), so a wrong secret always misses and is checked
 * against the database; keys are immutable once created (there is no rotation or revocation
 * yet), and entries expire after KL_AUTH_TTL_NS anyway, so a future revocation takes effect
 * within that time.  The cache is bounded (emptied when full) and shared by every worker
 * loop under one mutex (held for a hash-table probe only). */
#include "api/api_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KL_AUTH_TTL_NS (60LL * 1000000000LL)
#define CACHE_BUCKETS 256
#define CACHE_MAX 4096
#define SECRET_MAX 128

typedef struct centry {
  struct centry *next;
  char pk[KL_KEY_PUBLIC_MAX + 1];
  char sk[SECRET_MAX + 1];
  size_t sklen;
  char project[KL_OBS_ID_MAX + 1];
  int64_t expires_mono_ns;
} centry;

struct kl_api_keycache {
  pthread_mutex_t mu;
  centry *b[CACHE_BUCKETS];
  size_t n;
};

kl_api_keycache *kl_api_keycache_new(void) {
  kl_api_keycache *c = calloc(1, sizeof *c);
  if (!c) abort();
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

static void cache_clear(kl_api_keycache *c) {
  for (size_t i = 0; i < CACHE_BUCKETS; i++) {
    while (c->b[i]) {
      centry *e = c->b[i];
      c->b[i] = e->next;
      OPENSSL_cleanse(e->sk, sizeof e->sk);
      free(e);
    }
  }
  c->n = 0;
}

void kl_api_keycache_free(kl_api_keycache *c) {
  if (!c) return;
  cache_clear(c);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static size_t bucket(const char *pk) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)pk; *p; p++) h = (h ^ *p) * 16777619u;
  return h % CACHE_BUCKETS;
}

/* true with the project copied out when (pk, sk) verified within the TTL. */
static bool cache_get(kl_api_keycache *c, const char *pk, const char *sk, size_t sklen, char project[KL_OBS_ID_MAX + 1]) {
  bool ok = false;
  int64_t now = kl_mono_ns();
  pthread_mutex_lock(&c->mu);
  for (centry *e = c->b[bucket(pk)]; e; e = e->next) {
    if (strcmp(e->pk, pk) != 0) continue;
    if (e->expires_mono_ns > now && e->sklen == sklen && CRYPTO_memcmp(e->sk, sk, sklen) == 0) {
      memcpy(project, e->project, KL_OBS_ID_MAX + 1);
      ok = true;
    }
    break;
  }
  pthread_mutex_unlock(&c->mu);
  return ok;
}

static void cache_put(kl_api_keycache *c, const char *pk, const char *sk, size_t sklen, const char *project) {
  pthread_mutex_lock(&c->mu);
  size_t bi = bucket(pk);
  centry *e = c->b[bi];
  while (e && strcmp(e->pk, pk) != 0) e = e->next;
  if (!e) {
    if (c->n >= CACHE_MAX) cache_clear(c);
    e = calloc(1, sizeof *e);
    if (!e) abort();
    snprintf(e->pk, sizeof e->pk, "%s", pk);
    e->next = c->b[bi];
    c->b[bi] = e;
    c->n++;
  }
  memcpy(e->sk, sk, sklen);
  e->sk[sklen] = 0;
  e->sklen = sklen;
  snprintf(e->project, sizeof e->project, "%s", project);
  e->expires_mono_ns = kl_mono_ns() + KL_AUTH_TTL_NS;
  pthread_mutex_unlock(&c->mu);
}

/* ---- hashing and key creation ---- */

void kl_api_key_hash(const unsigned char salt[KL_KEY_SALT_LEN], const char *secret, size_t len,
                     unsigned char out[KL_KEY_HASH_LEN]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned int n = 0;
  if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, salt, KL_KEY_SALT_LEN) != 1 ||
      EVP_DigestUpdate(md, secret, len) != 1 || EVP_DigestFinal_ex(md, out, &n) != 1 || n != KL_KEY_HASH_LEN) {
    fprintf(stderr, "keel: SHA-256 failed\n");
    abort();
  }
  EVP_MD_CTX_free(md);
}

bool kl_api_key_verify(const kl_store_key *k, const char *secret, size_t len) {
  unsigned char h[KL_KEY_HASH_LEN];
  kl_api_key_hash(k->salt, secret, len, h);
  return CRYPTO_memcmp(h, k->hash, KL_KEY_HASH_LEN) == 0;
}

static void uuid4(const char *prefix, char *out, size_t cap) {
  unsigned char b[16];
  kl_random_bytes(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, cap, "%s%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int kl_api_key_create(const kl_store_opts *opts, const char *project, char pk[KL_API_KEY_BUF], char sk[KL_API_KEY_BUF],
                      kl_err *err) {
  kl_store_key k;
  memset(&k, 0, sizeof k);
  uuid4("pk-lf-", pk, KL_API_KEY_BUF);
  uuid4("sk-lf-", sk, KL_API_KEY_BUF);
  snprintf(k.public_key, sizeof k.public_key, "%s", pk);
  kl_random_bytes(k.salt, sizeof k.salt);
  kl_api_key_hash(k.salt, sk, strlen(sk), k.hash);
  return kl_store_key_create(opts, project, &k, err);
}

/* ---- parsing Authorization ---- */

static bool admin_ok(const kl_config *cfg, const char *tok) {
  size_t a = strlen(tok), b = strlen(cfg->admin_key);
  unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < b; i++) diff |= (unsigned char)(tok[i < a ? i : 0] ^ cfg->admin_key[i]);
  return diff == 0;
}

typedef struct auth_work {
  uv_work_t work;
  kl_http_req *req;
  kl_api_ctx *ctx;
  kl_api_auth_cb cb;
  void *ud;
  char pk[KL_KEY_PUBLIC_MAX + 1];
  char sk[SECRET_MAX + 1];
  size_t sklen;
  kl_store_key key;
  int status; /* 0 verified, 401 wrong, 500 store error */
  kl_err err;
} auth_work;

static void auth_run(uv_work_t *w) {
  auth_work *aw = w->data;
  if (kl_store_key_get(aw->ctx->store, aw->pk, &aw->key, &aw->err) != 0) {
    aw->status = aw->err.code == 404 ? 401 : 500;
    return;
  }
  aw->status = kl_api_key_verify(&aw->key, aw->sk, aw->sklen) ? 0 : 401;
}

static void auth_done(uv_work_t *w, int status) {
  auth_work *aw = w->data;
  if (status == 0 && aw->status == 0) {
    cache_put(aw->ctx->keys, aw->pk, aw->sk, aw->sklen, aw->key.project_id);
    const char *project = kl_arena_strdup(aw->req->arena, aw->key.project_id);
    OPENSSL_cleanse(aw->sk, sizeof aw->sk);
    aw->cb(aw->req, aw->ctx, project, 0, aw->ud);
    return;
  }
  OPENSSL_cleanse(aw->sk, sizeof aw->sk);
  if (aw->status == 500) kl_warn("auth: %s", aw->err.msg);
  aw->cb(aw->req, aw->ctx, NULL, aw->status == 500 ? 500 : 401, aw->ud);
}

void kl_api_authenticate(kl_http_req *req, kl_api_ctx *ctx, bool allow_anonymous, kl_api_auth_cb cb, void *ud) {
  const char *h = kl_http_header_get(req, "authorization");
  if (!h || !*h) {
    if (allow_anonymous && !ctx->cfg->admin_key) cb(req, ctx, "default", 0, ud);
    else cb(req, ctx, NULL, 401, ud);
    return;
  }
  if (strncasecmp(h, "Bearer ", 7) == 0) {
    if (ctx->cfg->admin_key && admin_ok(ctx->cfg, h + 7)) {
      const char *p = kl_http_header_get(req, "x-keel-project");
      cb(req, ctx, p && *p && strlen(p) <= KL_OBS_ID_MAX ? p : "default", 0, ud);
    } else {
      cb(req, ctx, NULL, 401, ud);
    }
    return;
  }
  if (strncasecmp(h, "Basic ", 6) != 0) {
    cb(req, ctx, NULL, 401, ud);
    return;
  }
  char dec[kl_base64_max(((KL_KEY_PUBLIC_MAX + SECRET_MAX + 1) / 3 + 1) * 4)];
  size_t hl = strlen(h + 6);
  ptrdiff_t n = hl <= ((KL_KEY_PUBLIC_MAX + SECRET_MAX + 1) / 3 + 1) * 4
                    ? kl_base64_decode(h + 6, hl, (unsigned char *)dec)
                    : -1; /* longer than any pair we issue: refused without decoding */
  char *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
  size_t pklen = colon ? (size_t)(colon - dec) : 0, sklen = colon ? (size_t)n - pklen - 1 : 0;
  if (!colon || pklen == 0 || pklen > KL_KEY_PUBLIC_MAX || sklen == 0 || sklen > SECRET_MAX ||
      memchr(dec, 0, (size_t)n)) {
    cb(req, ctx, NULL, 401, ud);
    return;
  }
  *colon = 0;
  char project[KL_OBS_ID_MAX + 1];
  if (cache_get(ctx->keys, dec, colon + 1, sklen, project)) {
    OPENSSL_cleanse(dec, sizeof dec);
    cb(req, ctx, kl_arena_strdup(req->arena, project), 0, ud);
    return;
  }
  auth_work *aw = kl_arena_calloc(req->arena, sizeof *aw);
  aw->work.data = aw;
  aw->req = req;
  aw->ctx = ctx;
  aw->cb = cb;
  aw->ud = ud;
  memcpy(aw->pk, dec, pklen + 1);
  memcpy(aw->sk, colon + 1, sklen);
  aw->sklen = sklen;
  OPENSSL_cleanse(dec, sizeof dec);
  int rc = uv_queue_work(req->loop, &aw->work, auth_run, auth_done);
  if (rc != 0) cb(req, ctx, NULL, 500, ud);
}

void kl_api_respond_unauthorized(kl_http_req *req, int status) {
  kl_buf b = KL_BUF_INIT;
  if (status == 401) {
    kl_buf_error_json(&b, "missing or invalid credentials (Authorization: Basic base64(public_key:secret_key), or Bearer <admin key>)",
                      "authentication_error", NULL, "unauthorized");
    kl_http_header h[] = {{"WWW-Authenticate", "Basic realm=\"keel\""}};
    kl_http_respond_ex(req, 401, "application/json", h, 1, b.data, b.len);
  } else {
    kl_buf_error_json(&b, "could not check credentials", "api_error", NULL, NULL);
    kl_http_respond(req, status, "application/json", b.data, b.len);
  }
  kl_buf_free(&b);
}
