/* test_guard_survey_fast.c: the survey's 64-byte fast path (survey_block in normalise.c) against
 * the byte loop it skips (guard_norm_survey_slow), mark for mark.
 *
 * The fast path takes spans of letters, punctuation, + / - _ and digits with no letter beside
 * them from masks of aligned 64-byte blocks, so what could go wrong is at the edges: a span
 * ending at a block edge or at the text's end, a single letter or a 23/24/25-letter word across
 * an edge, a digit beside a letter on either side (at a block's last byte too), a two-byte
 * character (which the fast path takes) cut by an edge or next to a broken one, '%', '@', '$' or
 * other non-ASCII right after a span, a streak of single letters carried from one span into the
 * next.  Every text here is surveyed both ways and every field must be equal: the labelled
 * injection set at 64 alignments, tricky pieces at every offset across two block edges and the
 * text's end, random sequences of those pieces, and random bytes (fixed seeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/injection_int.h"

static size_t checked, marked;

static void print_marks(const char *what, const guard_norm_marks *m) {
  print_message("%s: nrun %zu", what, m->nrun);
  for (size_t i = 0; i < m->nrun; i++) print_message(" [%zu,%zu)", m->run[i][0], m->run[i][1]);
  print_message(" pct %zu [%zu,%zu) leet %zu [%zu,%zu) spaced %zu [%zu,%zu) homo %zu [%zu,%zu)\n", m->pct, m->pct_a,
                m->pct_b, m->leet, m->leet_a, m->leet_b, m->spaced, m->spaced_a, m->spaced_b, m->homo, m->homo_a,
                m->homo_b);
}

/* Surveys s[0..n) with and without the fast path: the marks must be the same. */
static void same(const char *s, size_t n) {
  guard_norm_marks fast, slow;
  guard_norm_survey_slow = true;
  guard_norm_survey(s, n, &slow);
  guard_norm_survey_slow = false;
  guard_norm_survey(s, n, &fast);
  checked++;
  if (slow.nrun || slow.pct || slow.leet || slow.spaced || slow.homo) marked++;
  if (memcmp(&fast, &slow, sizeof fast) != 0) {
    print_message("differ on %zu bytes: \"", n);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') print_message("%c", c);
      else print_message("\\x%02X", c);
    }
    print_message("\"\n");
    print_marks("fast", &fast);
    print_marks("slow", &slow);
    fail();
  }
}

/* Pieces the survey treats differently, and pieces of ordinary text. */
static const char *const pieces[] = {
    "the", "ab", "plain", "words", "a", "I", "x", " ", "  ", "\n", "\t", ".", ",", "!", "|", "*", "'", "\"", ":", "(",
    ")", "#", "`", "?", ";", "+", "/", "-", "_", "=", "==", "%", "%41", "%4", "%zz", "0", "1", "3", "4", "5", "2",
    "2024", "a1", "9z", "x1y", "10.20.30.40", "+44 20 7946 0958", "v1.2.3", "@", "$", "h@ck", "th$s", "1gn0r3",
    "pr3v10us", "w0rld", "abcdefghijklmnopqrstuvw" /* 23 */,
    "abcdefghijklmnopqrstuvwx" /* 24 */, "abcdefghijklmnopqrstuvwxy" /* 25 */, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
    "aGVsbG8gd29ybGQgdGhpcyBpcw==", "deadbeefcafebabe0123456789abcdef", "well-known", "and/or", "snake_case_name",
    "i g n o r e", "x.y.z.w", "a-b-c-d", "a  b  c  d", "p_w_n_e_d", "\xC3\xA9" /* é */, "\xC3\x9F" /* ß */,
    "caf\xC3\xA9", "\xC2\xA0" /* no-break space */, "\xCD\xBF", "\xC1\x81", "\xC3\xC3\xA9",
    ("Gr\xC3\xBC\xC3\x9F" "e"), "\xD0\xBE" /* Cyrillic o */, "\xD0\xB0" /* Cyrillic a */, "ign\xD0\xBEre",
    "\xCE\xBF" /* Greek o */,
    "\xCE\xB1" /* Greek alpha */, "\xEF\xBC\xA1" /* fullwidth A */, "\xEF\xBD\x89" /* fullwidth i */,
    "\xEF\xBC\x81" /* fullwidth ! */, "\xE6\x97\xA5\xE6\x9C\xAC" /* CJK */, "\xE2\x80\x94" /* dash */,
    "\xE2\x80\x8B" /* zero width space */, "\xF0\x9D\x90\x80" /* math bold A */, "\xF0\x9F\x8E\x89" /* emoji */,
    "\xF3\xA0\x80\x81" /* tag */, "\x80", "\xC3", "\xED\xA0\x80", "\xFF", "\x7F", "\x01",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* Ordinary text to put around a piece: words, punctuation, a single letter. */
static const char filler[] = "so we said a word, then more of it (quite plain text) and I go on; the end is near. "
                             "lorem ipsum dolor sit amet, consectetur adipiscing elit sed do eiusmod tempor. ";

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

/* Every piece after 0 to 139 bytes of ordinary text (across two block edges), then the text
 * ends, or goes on with ordinary text, with a space, or with a second piece. */
static void test_pieces_at_every_offset(void **st) {
  (void)st;
  char t[512];
  for (size_t p = 0; p < NPIECES; p++) {
    size_t pl = strlen(pieces[p]);
    for (size_t off = 0; off < 140; off++) {
      memcpy(t, filler, off);
      memcpy(t + off, pieces[p], pl);
      size_t n = off + pl;
      same(t, n);                              /* the piece ends the text */
      t[n] = ' ';
      same(t, n + 1);                          /* then a space ends it */
      memcpy(t + n, filler + 3, 60);           /* then ordinary text, past the next edge */
      same(t, n + 60);
      const char *q = pieces[(p * 7 + off) % NPIECES];
      memcpy(t + n, q, strlen(q));             /* then another piece */
      same(t, n + strlen(q));
      t[off] = ' ';                            /* its first byte a space */
      same(t, n);
    }
  }
}

/* Random sequences of pieces, with and without spaces between them. */
static void test_random_pieces(void **st) {
  (void)st;
  char t[2048];
  for (int k = 0; k < 40000; k++) {
    size_t n = 0, count = 1 + next_rand() % 60;
    bool spaced = next_rand() % 2;
    for (size_t j = 0; j < count; j++) {
      const char *q = pieces[next_rand() % NPIECES];
      size_t ql = strlen(q);
      if (n + ql + 1 > sizeof t) break;
      memcpy(t + n, q, ql);
      n += ql;
      if (spaced && next_rand() % 3) t[n++] = " \n.,"[next_rand() % 4];
    }
    same(t, n);
    if (n > 1) same(t + 1, n - 1);  /* and shifted by one against the blocks */
  }
}

/* Random bytes: uniform, and from a small alphabet of the bytes that matter. */
static void test_random_bytes(void **st) {
  (void)st;
  static const char alphabet[] = "aZxI .,\n!|*-_/+=%0123457@$\xC3\xA9\xD0\xBE\xEF\xBC\xA1\x80";
  char t[400];
  for (int k = 0; k < 60000; k++) {
    size_t n = next_rand() % sizeof t;
    bool uniform = k % 4 == 0;
    for (size_t i = 0; i < n; i++)
      t[i] = uniform ? (char)next_rand() : alphabet[next_rand() % (sizeof alphabet - 1)];
    same(t, n);
  }
  /* long texts: the last block, runs past MAX_RUNS, streaks over many blocks */
  char *big = malloc(20000);
  assert_non_null(big);
  for (int k = 0; k < 200; k++) {
    size_t n = 5000 + next_rand() % 15000;
    for (size_t i = 0; i < n; i++) {
      uint32_t r = next_rand() % 100;
      big[i] = r < 70 ? (char)('a' + next_rand() % 26) : r < 88 ? ' ' : alphabet[next_rand() % (sizeof alphabet - 1)];
    }
    same(big, n);
  }
  free(big);
}

/* The labelled injection set, each text at 64 alignments (0 to 63 bytes of ordinary text
 * before it) and cut at every length in its first 130 bytes. */
static void test_labelled_set(void **st) {
  (void)st;
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/injection/labelled.jsonl", KEEL_SOURCE_DIR);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  static char line[65536], t[65536 + 128];
  size_t texts = 0;
  while (fgets(line, sizeof line, fp)) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *txt = cJSON_GetObjectItem(j, "text");
    if (cJSON_IsString(txt)) {
      const char *s = txt->valuestring;
      size_t n = strlen(s);
      texts++;
      for (size_t pad = 0; pad < 64; pad++) {
        memcpy(t, filler, pad);
        memcpy(t + pad, s, n);
        same(t, pad + n);
      }
      for (size_t cut = 0; cut <= n && cut < 130; cut++) same(s, cut);
    }
    cJSON_Delete(j);
  }
  fclose(fp);
  assert_true(texts > 100);
  print_message("%zu labelled texts; %zu surveys, %zu with marks, the same both ways\n", texts, checked, marked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pieces_at_every_offset),
      cmocka_unit_test(test_random_pieces),
      cmocka_unit_test(test_random_bytes),
      cmocka_unit_test(test_labelled_set),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
