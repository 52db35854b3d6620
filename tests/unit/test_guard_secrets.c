/* test_guard_secrets.c: the `secrets` scanner (gitleaks rules) through kl_guard_check.
 *
 * True positives are built at run time from each rule's format with a fixed-seed generator: no
 * real (or realistic-looking literal) secret lives in this file.  A template marks the expected
 * finding between \001 and \002; {Xn} expands to n characters of class X.  Hard negatives are the
 * things gitleaks' filters exist for: placeholders (entropy), stopwords, EXAMPLE keys, words that
 * merely contain a keyword, UUIDs and commit SHAs in prose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard/kl_guard.h"

#define S "\001"
#define E "\002"

static kl_guard_policy *pol;
static kl_arena *arena;
static double build_ms;

static kl_guard_policy *secrets_policy(kl_err *err) {
  kl_guard_scanner_cfg sc = {.kind = "secrets", .stage = KL_GUARD_INPUT};
  kl_guard_policy_cfg pc = {.name = "secrets", .scanners = &sc, .nscanners = 1};
  return kl_guard_policy_build(&pc, err);
}

static int setup(void **state) {
  (void)state;
  kl_err err = {0};
  int64_t t0 = kl_mono_ns();
  pol = secrets_policy(&err);
  build_ms = (double)(kl_mono_ns() - t0) / 1e6;
  if (!pol) fprintf(stderr, "policy: %s\n", err.msg);
  arena = kl_arena_new(1 << 16);
  return pol ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  kl_guard_policy_free(pol);
  kl_arena_free(arena);
  return 0;
}

/* ---- text generation ---- */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static const char *char_class(char c) {
  switch (c) {
  case 'A': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  case 'a': return "abcdefghijklmnopqrstuvwxyz0123456789";
  case 'l': return "abcdefghijklmnopqrstuvwxyz";
  case 'h': return "0123456789abcdef";
  case 'd': return "0123456789";
  case 'U': return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  case 'B': return "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
  case 'w': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  case '6': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  }
  return NULL;
}

/* Expands {Xn} in tpl into the arena; *s,*e get the offsets of the \001..\002 markers (removed). */
static char *expand(const char *tpl, size_t *s, size_t *e) {
  kl_buf b = KL_BUF_INIT;
  *s = *e = (size_t)-1;
  for (const char *p = tpl; *p; p++) {
    if (*p == '\001') { *s = b.len; continue; }
    if (*p == '\002') { *e = b.len; continue; }
    const char *cls = p[0] == '{' ? char_class(p[1]) : NULL;
    if (cls) {
      char *end;
      long n = strtol(p + 2, &end, 10);
      assert_true(*end == '}' && n > 0);
      size_t k = strlen(cls);
      for (long i = 0; i < n; i++) kl_buf_putc(&b, cls[next_rand() % k]);
      p = end;
      continue;
    }
    kl_buf_putc(&b, *p);
  }
  char *out = kl_arena_strndup(arena, b.data ? b.data : "", b.len);
  kl_buf_free(&b);
  return out;
}

static size_t check(const char *text, size_t len, kl_guard_finding **f) {
  kl_err err = {0};
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result res;
  assert_int_equal(kl_guard_check(pol, &in, arena, &res, &err), 0);
  *f = res.findings;
  for (size_t i = 0; i < res.n; i++) {
    assert_string_equal(res.findings[i].type, "SECRET");
    assert_true(res.findings[i].start < res.findings[i].end && res.findings[i].end <= len);
  }
  if (res.n) assert_int_equal(res.action, KL_GUARD_BLOCK);
  return res.n;
}

/* Exactly one finding, of rule id, at the marked span, scoring score. */
static void expect_rule(const char *id, const char *tpl, double score) {
  size_t s, e;
  char *text = expand(tpl, &s, &e);
  assert_true(s != (size_t)-1 && e != (size_t)-1);
  kl_guard_finding *f;
  size_t n = check(text, strlen(text), &f);
  if (n != 1) {
    for (size_t i = 0; i < n; i++)
      fprintf(stderr, "  got %s [%zu,%zu) '%.*s'\n", f[i].rule, f[i].start, f[i].end, (int)(f[i].end - f[i].start),
              text + f[i].start);
    fail_msg("%s: %zu findings in '%s', want 1", id, n, text);
  }
  if (strcmp(f[0].rule, id) || f[0].start != s || f[0].end != e)
    fail_msg("%s: got %s [%zu,%zu) '%.*s', want [%zu,%zu) '%.*s'", id, f[0].rule, f[0].start, f[0].end,
             (int)(f[0].end - f[0].start), text + f[0].start, s, e, (int)(e - s), text + s);
  assert_float_equal(f[0].score, score, 1e-9);
}

static void expect_none(const char *tpl) {
  size_t s, e;
  char *text = expand(tpl, &s, &e);
  kl_guard_finding *f;
  size_t n = check(text, strlen(text), &f);
  if (n) fail_msg("'%s': unexpected %s '%.*s'", text, f[0].rule, (int)(f[0].end - f[0].start), text + f[0].start);
}

/* ---- tests ---- */
static void test_build(void **state) {
  (void)state;
  /* setup built the policy: every rule of data/secrets.json compiled (a rule that failed would
   * fail the build, naming it).  Hyperscan compiles are slow under ASan: one build only. */
  assert_non_null(pol);
  fprintf(stderr, "secrets-only policy build: %.1f ms\n", build_ms);
}

/* Each rule alone, outside the engine: PCRE2 accepts it, and the JSON has the shape secrets.c
 * reads.  (Whether Hyperscan takes each natively is reported by scripts/gen_secrets.py: all
 * 220 do; the engine would fall back to PREFILTER mode otherwise.) */
static void test_rules_compile(void **state) {
  (void)state;
  cJSON *doc = cJSON_ParseWithLength((const char *)kl_embed_secrets, kl_embed_secrets_len);
  assert_non_null(doc);
  const cJSON *rules = cJSON_GetObjectItem(doc, "rules"), *r;
  int nrules = cJSON_GetArraySize(rules);
  assert_true(nrules >= 200);
  cJSON_ArrayForEach(r, rules) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(r, "id"));
    const char *re = cJSON_GetStringValue(cJSON_GetObjectItem(r, "regex"));
    const char *pre = cJSON_GetStringValue(cJSON_GetObjectItem(r, "pre"));
    bool ci = cJSON_IsTrue(cJSON_GetObjectItem(r, "caseless"));
    assert_non_null(id);
    assert_non_null(re);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r, "keywords")) > 0);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "max_len")) >= 8);
    char pat[8192];
    snprintf(pat, sizeof pat, "%s(?:%s)", pre ? pre : "", re);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, ci ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
    if (!c) fail_msg("rule %s: PCRE2 rejects it at %zu", id, (size_t)eo);
    pcre2_code_free(c);
  }
  fprintf(stderr, "%d rules\n", nrules);
  cJSON_Delete(doc);
}

static void test_providers(void **state) {
  (void)state;
  expect_rule("openai-api-key", "OPENAI_API_KEY=\"" S "sk-proj-{w74}T3BlbkFJ{A74}" E "\"\n", 1);
  expect_rule("openai-api-key", "key: " S "sk-{A20}T3BlbkFJ{A20}" E "\n", 1);
  expect_rule("anthropic-api-key", "export ANTHROPIC_API_KEY=" S "sk-ant-api03-{w93}AA" E "\n", 1);
  expect_rule("anthropic-admin-api-key", "admin " S "sk-ant-admin01-{w93}AA" E " ok", 1);
  expect_rule("aws-access-token", "aws_access_key_id = " S "AKIA{U16}" E "\n", 1);
  expect_rule("aws-access-token", "role creds " S "ASIA{U16}" E ".", 1);
  expect_rule("github-pat", "git clone https://" S "ghp_{A36}" E "@github.com/o/r.git", 1);
  expect_rule("github-oauth", "token " S "gho_{A36}" E, 1);
  expect_rule("github-fine-grained-pat", "GH_TOKEN=" S "github_pat_{A22}_{A59}" E "\n", 1);
  expect_rule("gitlab-pat", "PRIVATE-TOKEN: " S "glpat-{A20}" E "\n", 1);
  expect_rule("gitlab-runner-authentication-token", "runner " S "glrt-{A20}" E "\n", 1);
  expect_rule("slack-bot-token", "SLACK_BOT_TOKEN " S "xoxb-{d12}-{d12}-{A24}" E "\n", 1);
  expect_rule("slack-webhook-url", "post to " S "https://hooks.slack.com/services/T{A8}/B{A10}/{A24}" E " now", 1);
  expect_rule("stripe-access-token", "stripe.api_key = '" S "sk_live_{A24}" E "'\n", 1);
  expect_rule("gcp-api-key", "maps key " S "AIza{A35}" E "\n", 1);
  expect_rule("npm-access-token", "//registry.npmjs.org/:_authToken=" S "npm_{a36}" E "\n", 1);
  expect_rule("huggingface-access-token", "HF " S "hf_{l34}" E "\n", 1);
  expect_rule("sendgrid-api-token", "SENDGRID " S "SG.{A22}.{A43}" E "\n", 1);
  expect_rule("twilio-api-key", "twilio " S "SK{h32}" E "\n", 1);
  expect_rule("digitalocean-pat", "do " S "dop_v1_{h64}" E "\n", 1);
  expect_rule("age-secret-key", "# age\n" S "AGE-SECRET-KEY-1{B58}" E "\n", 1);
  expect_rule("shopify-access-token", "X-Shopify-Access-Token: " S "shpat_{h32}" E "\n", 1);
  expect_rule("pypi-upload-token", "password = " S "pypi-AgEIcHlwaS5vcmc{w70}" E "\n", 1);
  expect_rule("databricks-api-token", "host tok " S "dapi{h32}" E "\n", 1);
  expect_rule("jwt", "Cookie: session=" S "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{A40}.{w43}" E ";\n", 1);
  expect_rule("curl-auth-header",
              "curl -X POST https://api.example.com/v1 -H \"Authorization: Bearer " S "{A40}" E "\" -d '{}'", 1);
}

static void test_private_key(void **state) {
  (void)state;
  kl_buf t = KL_BUF_INIT;
  kl_buf_puts(&t, "here is the key:\n" S "-----BEGIN RSA PRIVATE KEY-----\n");
  for (int i = 0; i < 25; i++) kl_buf_puts(&t, "{664}\n");
  kl_buf_puts(&t, "{640}==\n-----END RSA PRIVATE KEY-----" E "\nthanks");
  expect_rule("private-key", t.data, 1);
  kl_buf_reset(&t);
  kl_buf_puts(&t, S "-----BEGIN OPENSSH PRIVATE KEY-----\n");
  for (int i = 0; i < 6; i++) kl_buf_puts(&t, "{670}\n");
  kl_buf_puts(&t, "-----END OPENSSH PRIVATE KEY-----" E);
  expect_rule("private-key", t.data, 1);
  /* a header alone, or a public key, is not a private key */
  expect_none("-----BEGIN RSA PRIVATE KEY----- goes here");
  kl_buf_reset(&t);
  kl_buf_puts(&t, "-----BEGIN PUBLIC KEY-----\n");
  for (int i = 0; i < 6; i++) kl_buf_puts(&t, "{664}\n");
  kl_buf_puts(&t, "-----END PUBLIC KEY-----");
  expect_none(t.data);
  kl_buf_free(&t);
}

static void test_generic(void **state) {
  (void)state;
  expect_rule("generic-api-key", "api_key = \"" S "{A32}" E "\"\n", 0.8);
  expect_rule("generic-api-key", "DB_PASSWORD: " S "{A20}" E "\n", 0.8);
  expect_rule("generic-api-key", "client_secret => '" S "{A40}" E "',", 0.8);
  expect_rule("generic-api-key", "const authToken = `" S "{A24}" E "`;", 0.8);
  /* placeholders and templates: no digit, low entropy, or not [\w.=-] */
  expect_none("api_key = \"your-api-key-here\"\n");
  expect_none("API_KEY=xxxxxxxxxxxxxxxxxxxxxxxx\n");
  expect_none("password = \"changeme\"\n");
  expect_none("token: ${GITHUB_TOKEN}\n");
  expect_none("token: {{ secrets.NPM_TOKEN }}\n");
  expect_none("password = os.environ[\"DB_PASSWORD\"]\n");
  expect_none("secret_key = 123456789012345678\n");
  /* stopwords (gitleaks' list) and allow-listed key names */
  expect_none("api_key = \"example{A12}4\"\n");
  expect_none("auth_token = \"0123abcdefghijklmnopqrstuvwxyz\"\n");
  expect_none("monkey: 4f3a{A20}9\n");
  expect_none("turkey = 8a7b{A20}1\n");
  expect_none("author: Ja9{A20}\n");
  expect_none("key_id = {A20}7\n");
  expect_none("csrf_token = \"{A30}1\"\n");
  /* a word that merely contains a keyword, in prose */
  expect_none("The keyboard shortcut is Ctrl-K, and the monkeys were passwordless.");
}

/* gitleaks wants a rule's keyword somewhere in the file; keel: in the match or the 256 bytes
 * before it.  Two rules whose keyword is never inside their match show the difference. */
static void test_keywords(void **state) {
  (void)state;
  expect_rule("facebook-access-token", "facebook app token: " S "{d16}|{a32}" E "\n", 1);
  expect_none("app token: {d16}|{a32}\n");
  expect_rule("airtable-personnal-access-token", "AIRTABLE_TOKEN=" S "pat{A14}.{h64}" E "\n", 1);
  expect_none("use pat{A14}.{h64} here\n");
  kl_buf t = KL_BUF_INIT;
  kl_buf_puts(&t, "facebook");
  for (int i = 0; i < 300; i++) kl_buf_putc(&t, ' ');
  kl_buf_puts(&t, "{d16}|{a32}\n");
  expect_none(t.data);
  kl_buf_free(&t);
}

/* generic-api-key and a provider's rule on overlapping spans: one finding, the provider's rule,
 * covering both (ghp_ tokens have no terminator, so the generic value runs on past it) */
static void test_overlap(void **state) {
  (void)state;
  expect_rule("github-pat", "GITHUB_TOKEN=" S "ghp_{A36}.v2x9Q" E "\n", 1);
}

static void test_hard_negatives(void **state) {
  (void)state;
  expect_none("Set OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxx in your shell.");
  expect_none("OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "T3BlbkFJxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
  expect_none("ghp_000000000000000000000000000000000000 is not a token");
  expect_none("AWS docs use AKIAIOSFODNN7EXAMPLE as the access key id.");
  expect_none("xoxb-0000000000-0000000000-xxxxxxxx");
  expect_none("The request 123e4567-e89b-12d3-a456-426614174000 failed; retry with id "
              "9b2f4c1e-7d3a-4e8b-a1c2-5f6e7d8c9b0a.");
  expect_none("Fixed in commit 3f2a9c1b7e4d8f6a5b0c9d2e1f3a4b5c6d7e8f90 (see 1a2b3c4d5e6f).");
  expect_none("The skier (sk-1) wore AKIA-branded gloves; the API returns JSON; tokens are cheap.");
  expect_none("We use a secret sauce: olive oil, garlic and 2 lemons.");
  expect_none("");
}

static void test_offsets_utf8(void **state) {
  (void)state;
  /* multi-byte text before the secret: offsets are bytes */
  expect_rule("github-pat", "Clé d’accès — voilà: " S "ghp_{A36}" E " ✓", 1);
  /* two secrets, both exact */
  size_t s, e;
  char *text = expand("a " S "glpat-{A20}" E " b ghp_{A36} c", &s, &e);
  kl_guard_finding *f;
  assert_int_equal(check(text, strlen(text), &f), 2);
  assert_int_equal(f[0].start, s);
  assert_int_equal(f[0].end, e);
  assert_string_equal(f[0].rule, "gitlab-pat");
  assert_string_equal(f[1].rule, "github-pat");
  assert_memory_equal(text + f[1].start, "ghp_", 4);
  assert_int_equal(f[1].end - f[1].start, 40);
}

static void test_json_and_code(void **state) {
  (void)state;
  /* inside a JSON string (a chat request), with a JSON-escaped newline right after */
  expect_rule("anthropic-api-key",
              "{\"messages\":[{\"role\":\"user\",\"content\":\"my key: " S "sk-ant-api03-{w93}AA" E "\\nthanks\"}]}", 1);
  expect_rule("generic-api-key", "{\"api_key\": \"" S "{A32}" E "\", \"model\": \"gpt-4o\"}", 0.8);
  /* in a fenced code block: the provider's rule wins over generic-api-key on the same value */
  expect_rule("openai-api-key",
              "```python\nclient = OpenAI(api_key=\"" S "sk-proj-{w74}T3BlbkFJ{A74}" E "\")\n```\n", 1);
  expect_rule("aws-access-token", "```ini\n[default]\naws_access_key = " S "AKIA{U16}" E "\n```", 1);
}

static void test_end_of_text(void **state) {
  (void)state;
  /* a whole secret ending the text is found (gitleaks' `$` terminator) */
  expect_rule("anthropic-api-key", "key " S "sk-ant-api03-{w93}AA" E, 1);
  expect_rule("github-pat", "token " S "ghp_{A36}" E, 1);
  /* one cut by the end of the text is not reported as a shorter secret */
  expect_none("token ghp_{A20}");
  expect_none("key sk-ant-api03-{w60}");
  expect_none("the key is sk-proj-{w74}T3BlbkFJ{A30}");
  expect_none("AKIA{U10}");
  kl_buf t = KL_BUF_INIT;
  kl_buf_puts(&t, "-----BEGIN RSA PRIVATE KEY-----\n");
  for (int i = 0; i < 10; i++) kl_buf_puts(&t, "{664}\n");
  expect_none(t.data);
  kl_buf_free(&t);
}

static void test_output_stage(void **state) {
  (void)state;
  /* an output scanner with its own name and action (one more Hyperscan build: keep it to one) */
  kl_guard_scanner_cfg sc = {.kind = "secrets", .name = "out-secrets", .stage = KL_GUARD_OUTPUT,
                             .action = KL_GUARD_REDACT};
  kl_guard_policy_cfg pc = {.name = "out", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  size_t s, e;
  char *text = expand("reply: " S "ghp_{A36}" E "\n", &s, &e);
  kl_guard_text in = {.text = text, .len = strlen(text), .stage = KL_GUARD_OUTPUT};
  kl_guard_result res;
  assert_int_equal(kl_guard_check(p, &in, arena, &res, &err), 0);
  assert_int_equal(res.n, 1);
  assert_int_equal(res.findings[0].start, s);
  assert_int_equal(res.findings[0].end, e);
  assert_string_equal(res.findings[0].scanner, "out-secrets");
  assert_int_equal(res.action, KL_GUARD_REDACT);
  /* the input stage of that policy has no scanner: nothing found there */
  in.stage = KL_GUARD_INPUT;
  assert_int_equal(kl_guard_check(p, &in, arena, &res, &err), 0);
  assert_int_equal(res.n, 0);
  kl_guard_policy_free(p);
}

/* Stream windows (kl_guard_text.partial): a PEM private key is longer than a window, so a
 * window holds the text from an open BEGIN line on (hold_from) until its END line comes. */
static void test_stream_open_key(void **state) {
  (void)state;
#define BODY64 "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4"  /* 77 bytes */
  struct { const char *text; bool hold; size_t from; } cases[] = {
      {"here it is:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow", true, 12},
      {"-----BEGIN OPENSSH PRIVATE KEY-----", true, 0},
      {"x -----begin encrypted private key-----\nabc", true, 2},             /* (?i), as the rule */
      {"-----BEGIN PGP PRIVATE KEY BLOCK-----\nxyz", true, 0},
      {"a -----BEGIN PRIVATE KEY-----\n" BODY64 "\n-----END PRIVATE KEY----- b", false, 0},  /* closed */
      {"-----BEGIN PGP PRIVATE KEY BLOCK-----\n" BODY64 "\n-----END PGP PRIVATE KEY BLOCK-----", false, 0},
      /* the rule's END comes 64 bytes or more after the header: a nearer one closes nothing */
      {"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----", true, 0},
      /* a closed key, then an open one: held from the second (27 + 1 + 77 + 1 + 25 + 1 = 132) */
      {"-----BEGIN PRIVATE KEY-----\n" BODY64 "\n-----END PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\nBB", true, 132},
      /* one header to the rule's greedy class: it ends at the second PRIVATE KEY----- */
      {"-----BEGIN X PRIVATE KEY-------BEGIN X PRIVATE KEY----- " BODY64, true, 0},
      {"-----BEGIN PRIV", false, 0},                        /* not a header yet: the next window sees it */
      {"-----BEGIN PUBLIC KEY-----\nMIIB", false, 0},
      {"-----BEGIN CERTIFICATE-----\nMIIB", false, 0},
      {"-----BEGIN RSA? PRIVATE KEY-----", false, 0},        /* '?' is not a header byte */
      {"-- ----- -----BEGIN", false, 0},
      {"", false, 0},
  };

  kl_guard_scanner_cfg sc = {.kind = "secrets", .stage = KL_GUARD_OUTPUT};
  kl_guard_policy_cfg pc = {.name = "out", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kl_guard_result r;
    kl_guard_text in = {.text = cases[i].text, .len = strlen(cases[i].text), .stage = KL_GUARD_OUTPUT, .partial = true};
    assert_int_equal(kl_guard_check(p, &in, arena, &r, &err), 0);
    if (r.hold != cases[i].hold) fail_msg("case %zu: hold %d", i, r.hold);
    if (r.hold && r.hold_from != cases[i].from) fail_msg("case %zu: hold from %zu", i, r.hold_from);
    in.partial = false;  /* whole texts never hold: the rule itself decides there */
    assert_int_equal(kl_guard_check(p, &in, arena, &r, &err), 0);
    assert_false(r.hold);
  }
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_build),          cmocka_unit_test(test_rules_compile),
    cmocka_unit_test(test_providers),      cmocka_unit_test(test_private_key),
    cmocka_unit_test(test_generic),        cmocka_unit_test(test_hard_negatives),
    cmocka_unit_test(test_keywords),       cmocka_unit_test(test_overlap),
    cmocka_unit_test(test_offsets_utf8),   cmocka_unit_test(test_json_and_code),
    cmocka_unit_test(test_end_of_text),    cmocka_unit_test(test_output_stage),
    cmocka_unit_test(test_stream_open_key),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
