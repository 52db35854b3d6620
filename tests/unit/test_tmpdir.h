/* test_tmpdir.h: a test's scratch directory, removed with everything in it afterwards. */
#ifndef KL_TEST_TMPDIR_H
#define KL_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>

static inline int kl_test_rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb, (void)type, (void)ftw;
  return remove(p);
}

/* rm -rf dir (depth first, symlinks not followed). */
static inline void kl_test_rmtree(const char *dir) { nftw(dir, kl_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

#endif
