/* test_store_erase.c: what deleted data leaves in the SQLite file (kl_store_opts.secure_delete).
 *
 * Byte for byte in keel.db after the store is closed (closing checkpoints the WAL into the
 * file and removes it; a WAL left behind is searched too):
 *   - by default (secure_delete on) text that retention deleted is gone, also where SQLite
 *     had moved it while the table grew, and so is the old version of a replaced observation;
 *   - with KL_SECURE_DELETE_OFF retention still zeroes the rows it deletes (query_admin.c
 *     turns secure_delete on for its transactions), but a replaced version stays in free
 *     space: the trade-off sqlite.c and the docs describe.
 * A marker that was never deleted is found, so a search that cannot find anything fails.
 * PostgreSQL has no such setting: under KEEL_TEST_PG_URL these tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "store/store_int.h"
#include "store_test_pg.h"
#include "test_tmpdir.h"

#define S 1000000000LL

typedef struct {
  char dir[64];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/kl-erase-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  kl_test_rmtree(f->dir);
  free(f);
  return 0;
}

static kl_store *open_opts(fx *f, kl_store_opts o) {
  o.data_dir = f->dir;
  o.flush_interval_ms = 5;
  o.merge = kl_api_ingest_merge;
  return kl_test_store_open(o);
}

static void submit(kl_store *s, const char *id, const char *trace, int64_t start, const char *input_json) {
  kl_obs o = kl_test_span(id, trace, start);
  o.input_json = input_json;
  kl_err err;
  kl_err_clear(&err);
  assert_int_equal(kl_store_submit(s, &o, &err), 0);
}

/* Whether `marker` occurs in dir/name (a missing file has nothing). */
static bool file_has(const fx *f, const char *name, const char *marker) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", f->dir, name);
  FILE *fp = fopen(path, "rb");
  if (!fp) return false;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  bool found = memmem(buf, (size_t)n, marker, strlen(marker)) != NULL;
  free(buf);
  return found;
}

static bool store_has(const fx *f, const char *marker) {
  return file_has(f, "keel.db", marker) || file_has(f, "keel.db-wal", marker);
}

/* Writes nold expired observations (~1 KB each) and a fresh one, then lets retention run
 * with the given setting; fails if any expired marker is left in the file. */
static void retention_run(fx *f, int nold, int secure_delete) {
  int64_t now = kl_now_ns();
  kl_store *s = open_opts(f, (kl_store_opts){.secure_delete = secure_delete});
  for (int i = 0; i < nold; i++) {
    char id[16], in[1024];
    snprintf(id, sizeof id, "old%02d", i);
    snprintf(in, sizeof in, "\"expired-marker-%02d %0*d\"", i, 900, 0);
    submit(s, id, "T-old", now - 10 * 86400 * S + i, in);
  }
  submit(s, "new", "T-new", now - 86400 * S, "\"kept-marker\"");
  kl_store_close(s);
  assert_true(store_has(f, "expired-marker-00")); /* the search finds what is there */

  s = open_opts(f, (kl_store_opts){.secure_delete = secure_delete, .retention_days = 7, .retention_interval_ms = 10});
  kl_store_stats st;
  for (int i = 0; i < 1000; i++) {
    kl_store_get_stats(s, &st);
    if (st.expired >= (uint64_t)nold + 1) break; /* the observations, then their emptied trace */
    usleep(10000);
  }
  kl_store_get_stats(s, &st);
  assert_int_equal(st.expired, nold + 1);
  kl_store_close(s);
  for (int i = 0; i < nold; i++) {
    char m[32];
    snprintf(m, sizeof m, "expired-marker-%02d", i);
    if (store_has(f, m)) fail_msg("%s is still in the file after retention deleted it", m);
  }
  assert_true(store_has(f, "kept-marker"));
}

/* 20 rows: more than a 16 KiB page, so SQLite moved some of them when the table grew. */
static void test_retention_zeroes(void **state) {
  if (kl_test_pg()) skip();
  retention_run(*state, 20, 0);
}

/* Without secure_delete, rows that never moved (one page's worth) are still zeroed. */
static void test_retention_zeroes_when_off(void **state) {
  if (kl_test_pg()) skip();
  retention_run(*state, 3, KL_SECURE_DELETE_OFF);
}

/* An observation written twice (a replay, an update): its first version's bytes. */
static bool replaced_version_left(fx *f, int secure_delete) {
  kl_store *s = open_opts(f, (kl_store_opts){.secure_delete = secure_delete});
  submit(s, "a", "T", kl_now_ns(), "\"first-version-marker\"");
  submit(s, "b", "T", kl_now_ns(), "\"a neighbour, so that the page does not empty\"");
  kl_store_flush(s);
  /* longer than the first, so SQLite cannot put it where the first one was */
  submit(s, "a", "T", kl_now_ns(), "\"second version, a longer one than the first version\"");
  kl_store_close(s);
  assert_true(store_has(f, "second version"));
  return store_has(f, "first-version-marker");
}

static void test_replaced_row_default(void **state) {
  if (kl_test_pg()) skip();
  assert_false(replaced_version_left(*state, 0));
}

/* KL_SECURE_DELETE_OFF's documented cost: the old version stays in free space. */
static void test_replaced_row_off(void **state) {
  if (kl_test_pg()) skip();
  assert_true(replaced_version_left(*state, KL_SECURE_DELETE_OFF));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_retention_zeroes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retention_zeroes_when_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replaced_row_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replaced_row_off, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
