/* db_cache.c: compiling a Hyperscan database (db.c), through a cache on disk.
 *
 * Compiling the gitleaks rules takes ~0.8 s (most of a policy's build), and keel builds the
 * same databases at every start and every `keel guard scan`.  A compiled database is
 * serialised to $KEEL_CACHE_DIR (default $XDG_CACHE_HOME/keel, then ~/.cache/keel) under the
 * SHA-256 of everything that determines it: Hyperscan's version, the platform it was tuned
 * for, and each expression with its flags and its id.  Loading it takes milliseconds.  A
 * missing, unwritable or corrupt cache only costs the compile: every failure falls back to it.
 *
 * The ids belong to the key: a rule's id is its place among its stage's rules, and rules found
 * without Hyperscan (window sources) take places too, so two stages can hold the very same
 * expressions under other ids ("card, email" and "email": email's form as id 1 and as id 0).
 * Keyed by expressions alone, the second loaded the first's database and its matches went to
 * the wrong rule, or past the end of the rule arrays (test_guard_cache's test_cache_ids). */
#include "guard/db.h"

#include <hs/hs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool cache_dir(char *out, size_t n) {
  const char *d = getenv("KEEL_CACHE_DIR");
  if (d && !strcmp(d, "off")) return false;
  if (d && *d) return snprintf(out, n, "%s", d) < (int)n;
  const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
  if (x && *x) return snprintf(out, n, "%s/keel", x) < (int)n;
  if (h && *h) return snprintf(out, n, "%s/.cache/keel", h) < (int)n;
  return false;
}

static bool cache_path(const char *const *exprs, const unsigned *flags, const unsigned *ids, size_t n, char *out,
                       size_t outn) {
  char dir[512];
  if (!cache_dir(dir, sizeof dir)) return false;
  hs_platform_info_t pl;
  if (hs_populate_platform(&pl) != HS_SUCCESS) return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) abort();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  static const char key_version[] = "keel-hs-cache-2";  /* 2: ids in the key */
  EVP_DigestUpdate(ctx, key_version, sizeof key_version);
  const char *v = hs_version();
  EVP_DigestUpdate(ctx, v, strlen(v) + 1);
  EVP_DigestUpdate(ctx, &pl, sizeof pl);
  for (size_t i = 0; i < n; i++) {
    EVP_DigestUpdate(ctx, exprs[i], strlen(exprs[i]) + 1);
    EVP_DigestUpdate(ctx, &flags[i], sizeof flags[i]);
    EVP_DigestUpdate(ctx, &ids[i], sizeof ids[i]);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  int k = snprintf(out, outn, "%s/hs-", dir);
  for (int i = 0; i < 16 && k > 0 && (size_t)k + 3 < outn; i++) k += snprintf(out + k, outn - (size_t)k, "%02x", md[i]);
  return k > 0 && (size_t)k + 4 < outn && snprintf(out + k, outn - (size_t)k, ".db") > 0;
}

static hs_database_t *cache_load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  hs_database_t *db = NULL;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20)) {
    char *buf = malloc((size_t)st.st_size);
    if (!buf) abort();
    if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size &&
        hs_deserialize_database(buf, (size_t)st.st_size, &db) != HS_SUCCESS)
      db = NULL;
    free(buf);
  }
  fclose(f);
  return db;
}

static void cache_store(const char *path, const hs_database_t *db) {
  char *bytes = NULL;
  size_t n = 0;
  if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) return;
  char dir[704], tmp[736];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    for (char *p = dir + 1; *p; p++)  /* mkdir -p */
      if (*p == '/') {
        *p = 0;
        mkdir(dir, 0700);
        *p = '/';
      }
    mkdir(dir, 0700);
  }
  /* write then rename: a concurrent reader never sees half a file */
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f) {
    bool ok = fwrite(bytes, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
  }
  free(bytes);
}

bool guard_hs_compile(const char **exprs, unsigned *flags, const unsigned *ids, size_t n, hs_database_t **out,
                        kl_err *err) {
  bool ok = false;
  char cpath[700];
  bool cached = cache_path(exprs, flags, ids, n, cpath, sizeof cpath);
  if (cached && (*out = cache_load(cpath))) return true;
  /* Each failed compile names one bad expression: retry it in PREFILTER mode, and as a last
   * resort replace it by a pattern that matches every byte (PCRE2 then scans the whole text
   * for that rule: slow but correct, and only for exotic configured patterns). */
  for (int attempt = 0; attempt <= 2 * (int)n; attempt++) {
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, out, &ce) == HS_SUCCESS) {
      ok = true;
      break;
    }
    int bad = ce ? ce->expression : -1;
    if (bad < 0) {
      kl_err_set(err, 500, "guard: hyperscan: %s", ce && ce->message ? ce->message : "compile failed");
      hs_free_compile_error(ce);
      break;
    }
    hs_free_compile_error(ce);
    if (!(flags[bad] & HS_FLAG_PREFILTER)) {
      flags[bad] |= HS_FLAG_PREFILTER;
    } else {
      exprs[bad] = "(?s:.)";
      flags[bad] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
    }
  }
  /* keyed by the rules as given: the PREFILTER fallbacks are deterministic, so the same
   * rules always come to this database */
  if (ok && cached) cache_store(cpath, *out);
  return ok;
}

