/* fuzz_store_spill.c: the store's two parsers of outside bytes.
 *  - kl_obs_from_json (spill-file lines, which a crash can tear anywhere): must not crash,
 *    and what it accepts must round-trip: after one normalisation (invalid UTF-8 becomes
 *    U+FFFD, long ids are cut to KL_OBS_ID_MAX bytes) to_json(from_json(x)) is a fixed point.
 *  - kl_rec_from_json (the same lines for partial records and scores): the same fixed point.
 *  - the list cursor (comes from API clients): any bytes give 0 or a 400, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

static kl_store *g_store;
static char g_dir[] = "/tmp/kl-fuzz-store-XXXXXX";

static void cleanup(void) {
  kl_store_close(g_store);
  const char *files[] = {"keel.db", "keel.db-wal", "keel.db-shm", "spill.jsonl"};
  char p[96];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", g_dir, files[i]);
    unlink(p);
  }
  rmdir(g_dir);
}

static void open_once(void) {
  if (g_store) return;
  const char *dir = mkdtemp(g_dir);
  if (!dir) abort();
  atexit(cleanup);
  kl_log_set_level(KL_LOG_ERROR);
  kl_store_opts o = {.data_dir = dir};
  g_store = kl_store_open(&o, NULL);
  if (!g_store) abort();
  kl_obs ob;
  memset(&ob, 0, sizeof ob);
  strcpy(ob.id, "a");
  strcpy(ob.trace_id, "t");
  ob.start_ns = 5;
  kl_store_submit(g_store, &ob, NULL);
  kl_store_flush(g_store);
}

/* to_json(from_json(x)) is a fixed point after one normalisation. */
static void rec_roundtrip(const uint8_t *data, size_t size) {
  kl_err err;
  kl_rec *r = kl_rec_from_json((const char *)data, size, &err);
  if (!r) return;
  kl_buf a = KL_BUF_INIT, b = KL_BUF_INIT, c = KL_BUF_INIT;
  kl_rec_to_json(r, &a);
  kl_rec *r2 = kl_rec_from_json(a.data, a.len, &err);
  if (!r2) abort();
  kl_rec_to_json(r2, &b);
  kl_rec *r3 = kl_rec_from_json(b.data, b.len, &err);
  if (!r3) abort();
  kl_rec_to_json(r3, &c);
  if (c.len != b.len || memcmp(c.data, b.data, b.len) != 0 || r3->kind != r->kind) abort();
  kl_rec_free(r);
  kl_rec_free(r2);
  kl_rec_free(r3);
  kl_buf_free(&a);
  kl_buf_free(&b);
  kl_buf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  open_once();
  rec_roundtrip(data, size);
  kl_err err;
  kl_obs *o = kl_obs_from_json((const char *)data, size, &err);
  if (o) {
    kl_buf a = KL_BUF_INIT, b = KL_BUF_INIT, c = KL_BUF_INIT;
    kl_obs_to_json(o, &a);
    kl_obs *o2 = kl_obs_from_json(a.data, a.len, &err);
    if (!o2) abort();
    kl_obs_to_json(o2, &b);
    kl_obs *o3 = kl_obs_from_json(b.data, b.len, &err);
    if (!o3) abort();
    kl_obs_to_json(o3, &c);
    if (c.len != b.len || memcmp(c.data, b.data, b.len) != 0) abort();
    kl_obs_free(o3);
    kl_obs_free(o2);
    kl_obs_free(o);
    kl_buf_free(&a);
    kl_buf_free(&b);
    kl_buf_free(&c);
  }
  char *cur = malloc(size + 1);
  memcpy(cur, data, size);
  cur[size] = 0;
  kl_trace_filter f = {.cursor = cur, .limit = 2};
  kl_buf out = KL_BUF_INIT;
  kl_err_clear(&err);
  if (kl_store_list_traces(g_store, &f, &out, &err) != 0 && err.code != 400) abort();
  kl_buf_free(&out);
  free(cur);
  return 0;
}
