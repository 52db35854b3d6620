/* guard_test_pcre.h: the guard tests' PCRE2 compile of a rule as the engine reads it.
 *
 * The search-form tests (test_guard_injection_forms.c, test_guard_pii_forms.c) compare what
 * Hyperscan searches with what PCRE2 confirms; both compile the rule, and its form, with the
 * options db.c gives PCRE2 for the rule's GUARD_RE_* flags.  Include after <pcre2.h> (with
 * PCRE2_CODE_UNIT_WIDTH 8) and cmocka. */
#ifndef KL_GUARD_TEST_PCRE_H
#define KL_GUARD_TEST_PCRE_H

#include <stdio.h>

#include "guard/guard_int.h"

/* pre(?:re)post, or re alone when neither pre nor post is given */
static inline pcre2_code *guard_test_compile(const char *pre, const char *re, const char *post, unsigned flags) {
  static char pat[65536];
  if (pre || post) {
    snprintf(pat, sizeof pat, "%s(?:%s)%s", pre ? pre : "", re, post ? post : "");
    re = pat;
  }
  uint32_t opts = 0;
  if (flags & GUARD_RE_CASELESS) opts |= PCRE2_CASELESS;
  if (flags & GUARD_RE_UTF8) opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
  assert_non_null(c);
  return c;
}

#endif
