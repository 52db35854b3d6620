/* test_store_ckpt.c: the SQLite writer's WAL is checkpointed by the checkpoint thread
 * (store/sqlite_ckpt.c), so it stays bounded while the writer keeps committing.
 *
 * Writing ~48 MB of observations crosses the checkpoint threshold (32 MiB of WAL)
 * at least once; the pages then reach keel.db itself while the store is open.  Without a
 * working checkpointer keel.db stays at its freshly-migrated size until close and the WAL
 * grows with every commit (the
 * first version of the thread did exactly that: its connection had never read the database,
 * so it did not know it was in WAL mode and every checkpoint was a no-op). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/kl_store.h"
#include "test_tmpdir.h"

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_wal_is_checkpointed_off_the_writer(void **state) {
  (void)state;
  char dir[] = "/tmp/kl-ckpt-XXXXXX", db[64], wal[64];
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/keel.db", dir);
  snprintf(wal, sizeof wal, "%s/keel.db-wal", dir);
  enum { N = 40000 };
  kl_store_opts o = {.data_dir = dir, .queue_capacity = N, .fulltext = KL_FULLTEXT_OFF};
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  assert_non_null(s);
  long long db0 = file_size(db);
  char text[1200];
  memset(text, 'x', sizeof text - 1);
  text[0] = '"', text[sizeof text - 2] = '"', text[sizeof text - 1] = 0;
  for (int i = 0; i < N; i++) {
    kl_obs ob;
    memset(&ob, 0, sizeof ob);
    snprintf(ob.id, sizeof ob.id, "o%06d", i);
    snprintf(ob.trace_id, sizeof ob.trace_id, "t%06d", i / 4);
    ob.type = KL_OBS_SPAN;
    ob.name = "ckpt";
    ob.start_ns = 1700000000000000000LL + (int64_t)i * 1000;
    ob.input_json = text;
    ob.cost_usd = -1;
    assert_int_equal(kl_store_submit(s, &ob, &err), 0);
  }
  kl_store_flush(s);
  /* the checkpoint runs beside the writer: give it up to 20 s to land */
  long long dbn = file_size(db);
  for (int i = 0; i < 400 && dbn < 16 * 1024 * 1024; i++) {
    usleep(50000);
    dbn = file_size(db);
  }
  long long waln = file_size(wal);
  print_message("keel.db %lld -> %lld bytes, WAL %lld bytes\n", db0, dbn, waln);
  assert_true(dbn >= 16 * 1024 * 1024); /* checkpointed pages reached the database */
  kl_store_close(s);
  kl_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_wal_is_checkpointed_off_the_writer)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
