/* test_guard_pii_ctx.c: the confirmation details that speed work must not change: context words
 * (whole runs of letters, ASCII case ignored, 48 bytes before / 24 after), and the spans of the
 * rules whose confirmation windows are narrowed by a lead (dates, clock times, greetings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "guard_test_policy.h"

static int setup(void **state) {
  (void)state;
  kl_guard_opts o = {.min_score = 1e-9};  /* every type, every confirmed hit */
  return policy_setup("ctx", &o);
}

/* The score of the finding of type covering exactly value in text; -1 when there is none. */
static double score_of(const char *text, const char *type, const char *value) {
  kl_guard_finding *f;
  long n = scan(text, &f);
  const char *at = strstr(text, value);
  assert_non_null(at);
  for (long i = 0; i < n; i++)
    if (!strcmp(f[i].type, type) && f[i].start == (size_t)(at - text) && f[i].end == f[i].start + strlen(value))
      return f[i].score;
  return -1;
}

static void test_context_words(void **state) {
  (void)state;
  const char *ip = "10.20.30.40";
  double bare = score_of("we saw 10.20.30.40 twice", "IP_ADDRESS", ip);
  assert_true(bare > 0);
  /* a keyword run, any case, before or after */
  assert_true(score_of("the SERVER is 10.20.30.40 now", "IP_ADDRESS", ip) > bare + 0.3);
  assert_true(score_of("we saw 10.20.30.40 on that Host", "IP_ADDRESS", ip) > bare + 0.3);
  /* a keyword inside a longer run of letters is no keyword */
  assert_true(score_of("the servers is 10.20.30.40 now", "IP_ADDRESS", ip) == bare);
  assert_true(score_of("we saw 10.20.30.40 on hosting", "IP_ADDRESS", ip) == bare);
  /* out of reach: more than 48 bytes before, more than 24 after */
  assert_true(score_of("server ......................................... 10.20.30.40", "IP_ADDRESS", ip) == bare);  /* starts 49 before */
  assert_true(score_of("we saw 10.20.30.40 ................... host", "IP_ADDRESS", ip) == bare);  /* ends 25 after */
  assert_true(score_of("we saw 10.20.30.40 .................. host", "IP_ADDRESS", ip) > bare + 0.3);  /* 24 after */
  assert_true(score_of("server ........................................ 10.20.30.40", "IP_ADDRESS", ip) > bare + 0.3);  /* 48 before */
  /* digits or punctuation next to a keyword still split runs */
  assert_true(score_of("ip:10.20.30.40", "IP_ADDRESS", ip) > bare + 0.3);
  assert_true(score_of("host2 10.20.30.40", "IP_ADDRESS", ip) > bare + 0.3);
}

static void test_narrowed_rules(void **state) {
  (void)state;
  assert_true(score_of("order from 2024-03-18 ok", "DATE_TIME", "2024-03-18") > 0.5);
  assert_true(score_of("at 2024-03-18T12:30:45Z sharp", "DATE_TIME", "2024-03-18T12:30:45Z") > 0.5);
  assert_true(score_of("on 2024/3/8 and", "DATE_TIME", "2024/3/8") > 0.5);
  assert_true(score_of("on 18/03/24 and", "DATE_TIME", "18/03/24") > 0.5);
  assert_true(score_of("on 18.03.2024 14:05 and", "DATE_TIME", "18.03.2024 14:05") > 0.5);
  assert_true(score_of("see you at 12 a.m. then", "DATE_TIME", "12 a.m.") > 0);
  assert_true(score_of("see you at 12:30:45.123 then", "DATE_TIME", "12:30:45.123") > 0);
  assert_true(score_of("meeting at 5pm.", "DATE_TIME", "5pm") > 0.5);
  /* greetings: the name after the phrase, however many blanks */
  assert_true(score_of("thanks,      Maria Rossi", "PERSON", "Maria Rossi") > 0.3);
  assert_true(score_of("x. Married \t Anna.", "PERSON", "Anna") > 0.3);
  assert_true(score_of("Hi Will, how are you", "PERSON", "Will") > 0.3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_context_words),
    cmocka_unit_test(test_narrowed_rules),
  };
  return cmocka_run_group_tests(tests, setup, policy_teardown);
}
