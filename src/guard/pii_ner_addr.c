/* pii_ner_addr.c: STREET_ADDRESS and DATE_TIME rules of the pii scanner.
 *
 * Street addresses: Hyperscan finds a street line by its shape, in four families: a house
 * number, capitalised words and a street word ("69 Farnell Street", "75956 Rákóczi út");
 * a street word first ("Via Roma 131", "ul. Jarzębinowa 5", "Rue De La Gare"); a street word
 * glued to the name with a house number ("Ziegelgasse 19", "Koskikatu 25"); PO and military
 * boxes.  The validator then walks forward over what makes it a full address: the unit
 * ("Apt. 864", "Suite 979"), ", city, STATE zip" segments and the following lines of an
 * address block (short lines of capitalised or upper-case words and postcodes, no sentence),
 * so a whole block becomes one finding.  Without a house number a street name scores below
 * the default threshold.
 *
 * Dates and times: ISO 8601, numeric day/month/year in either order (validated: a month is at
 * most 12, a day at most 31), month names, weekdays, clock times.  A bare clock time or year
 * is not personal by itself: they score low and need a context word ("born", "appointment"). */
#include "guard/pii_ner.h"

#include <ctype.h>
#include <string.h>

/* ---- street addresses ---- */
static bool line_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* A unit after the street: "Apt. 864", "Suite 979", "#12", "Unit 4B"; its end or 0. */
static size_t unit_end(const char *t, size_t len, size_t i) {
#define U(w) {w, sizeof w - 1}
  static const struct { const char *w; size_t n; } units[] = {
    U("Apt."), U("Apt"), U("Apartment"), U("Suite"), U("Ste."), U("Ste"), U("Unit"), U("Flat"), U("Floor"), U("Fl."),
    U("Room"), U("Rm."), U("Bldg."), U("Building"), U("Box"), U("#"),
  };
#undef U
  /* most calls look at a byte no unit starts with (addresses are checked at every segment) */
  if (i >= len || !memchr("ASUFRB#", t[i], 7)) return 0;
  for (size_t ui = 0; ui < sizeof units / sizeof *units; ui++) {
    const char *u = units[ui].w;
    size_t n = units[ui].n;
    if (i + n > len || memcmp(t + i, u, n)) continue;
    if (*u != '#' && u[n - 1] != '.' && i + n < len && isalnum((unsigned char)t[i + n])) continue;
    size_t j = i + n;
    while (j < len && t[j] == ' ') j++;
    size_t k = j;
    while (k < len && (isalnum((unsigned char)t[k]) || t[k] == '-') && k - j < 8) k++;
    if (k > j && isdigit((unsigned char)t[j])) return k;
  }
  return 0;
}

/* One segment of an address (a line, or what follows a comma): capitalised or upper-case
 * words, particles, 2-letter codes and postcodes.  Returns its end (trailing spaces excluded)
 * or 0; *full tells whether it ran to the end of the line or segment (rather than stopping at
 * a lowercase word or sentence punctuation). */
static size_t addr_segment(const char *t, size_t len, size_t i, bool *full) {
  size_t end = 0, tokens = 0, digits = 0, groups = 0, n;
  *full = false;
  while (i < len && tokens < 6) {
    while (i < len && line_space(t[i])) i++;
    if (i >= len || t[i] == '\n' || t[i] == ',') { *full = true; break; }
    uint32_t c = guard_utf8_next(t, len, i, &n);
    size_t e;
    if (isdigit((unsigned char)t[i])) {
      e = i;
      while (e < len && (isdigit((unsigned char)t[e]) || (t[e] == '-' && e + 1 < len && isdigit((unsigned char)t[e + 1])))) e++;
      if (e - i > 8 || (e < len && ner_cp_letter((unsigned char)t[e]))) break;
      digits += e - i;
      groups++;
    } else if (ner_cp_upper(c)) {
      e = ner_word_end(t, len, i);
      if (e < len && t[e] == '.') e++;  /* "St." */
    } else if (ner_cp_lower(c)) {
      e = ner_word_end(t, len, i);
      static const char *const part[] = {"de", "del", "la", "le", "les", "da", "do", "dos", "di", "du", "des", "am", "an", "im", "y", NULL};
      bool ok = false;
      for (const char *const *p = part; *p && !ok; p++) ok = strlen(*p) == e - i && !strncmp(*p, t + i, e - i);
      if (!ok) break;
    } else {
      break;
    }
    if (e == i) break;
    tokens++;
    end = e;
    i = e;
    if (i < len && (t[i] == '.' || t[i] == '?' || t[i] == '!' || t[i] == ';' || t[i] == ':' || t[i] == ')')) break;
  }
  if (i >= len) *full = true;
  if (tokens >= 6) *full = false;
  if (groups > 2 || digits > 9) return 0;
  return tokens ? end : 0;
}

/* Walks from e over units, ", segment"s and the following lines of an address block. */
static size_t addr_extend(const char *t, size_t len, size_t e, int *parts) {
  *parts = 0;
  bool after_unit = false;
  for (int step = 0; step < 8; step++) {
    size_t j = e;
    /* "út 66." and "Imre u. 12." end their house number with a dot */
    if (j + 1 < len && t[j] == '.' && j > 0 && isdigit((unsigned char)t[j - 1]) && (t[j + 1] == '\n' || t[j + 1] == ' '))
      j++;
    while (j < len && line_space(t[j])) j++;
    bool comma = j < len && t[j] == ',';
    if (comma) {
      j++;
      while (j < len && line_space(t[j])) j++;
    }
    size_t u = unit_end(t, len, j);
    if (u) {
      e = u;
      ++*parts;
      after_unit = true;
      continue;
    }
    if (j < len && t[j] == '\n') {
      size_t k = j + 1;
      /* lines quoted or bulleted like the first: "> ", "??? ", "* " */
      while (k < len && (line_space(t[k]) || t[k] == '>' || t[k] == '?' || t[k] == '*' || t[k] == '|')) k++;
      if (k < len && t[k] == ',') k++;
      bool full;
      u = unit_end(t, len, k);
      size_t se = u ? u : addr_segment(t, len, k, &full);
      /* a line that turns into prose counts up to its postcode: "Canada 36523 last night" */
      bool zip = se > k && isdigit((unsigned char)t[se - 1]);
      if (!se || (!u && !full && !zip && !(se < len && t[se] == '.'))) break;
      if (se - k > 48) break;
      e = se;
      ++*parts;
      if (!u && !full) break;
      continue;
    }
    /* after a unit the city may follow without a comma: "Suite 000 HUNDSHAGEN Upper Austria?" */
    if (after_unit && !comma && j > e && j < len && !ner_stopword(t, j, ner_word_end(t, len, j))) {
      bool full;
      size_t se = addr_segment(t, len, j, &full);
      after_unit = false;
      if (!se || se - j > 48 || !(full || (se < len && strchr(".?!", t[se])))) break;
      e = se;
      ++*parts;
      continue;
    }
    if (comma) {
      bool full;
      size_t se = addr_segment(t, len, j, &full);
      if (!se || se - j > 48) break;
      e = se;
      ++*parts;
      if (!full) break;
      continue;
    }
    /* a postcode or house number right after: "Denmark 56905", "út 66." */
    if (j > e && j < len && isdigit((unsigned char)t[j])) {
      size_t k = j;
      while (k < len && isdigit((unsigned char)t[k])) k++;
      if (k - j <= 6 && (k == len || !isalnum((unsigned char)t[k]))) {
        e = k;
        continue;
      }
    }
    break;
  }
  return e;
}

enum { A_SUFFIX, A_PREFIX, A_GLUED, A_BOX, A_GENERIC };
typedef struct { int kind; } addr_param;

static bool v_addr(const guard_rule *r, const char *t, size_t len, size_t s, size_t *e, double *score) {
  const addr_param *ap = r->data;
  bool num = false;
  for (size_t i = s; i < *e && !num; i++) num = isdigit((unsigned char)t[i]);
  int parts;
  size_t end = addr_extend(t, len, *e, &parts);
  switch (ap->kind) {
  case A_SUFFIX: case A_BOX: *score = 0.7; break;
  case A_PREFIX: case A_GLUED: *score = num || parts ? 0.65 : 0.25; break;
  case A_GENERIC:
    /* "53772 Holmatun 45": only as the first line of a block */
    if (!parts) return false;
    *score = 0.5;
    break;
  }
  if (parts) *score += 0.15;
  *e = end;
  return true;
}

#define SP "[ \\t]+"
/* byte-mode classes over UTF-8, as in pii_ner.c: loose, the validator decodes */
#define UP "(?:[A-Z]|\\xC3[\\x80-\\x9E]|[\\xC4-\\xC7][\\x80-\\xBF]|\\xCE[\\x86-\\xAB]|\\xD0[\\x80-\\xAF])"
#define LW "(?:[a-z]|\\xC3[\\x9F-\\xBF]|[\\xC4-\\xC9][\\x80-\\xBF]|\\xCE[\\xAC-\\xBF]|\\xCF[\\x80-\\x8E]|\\xD0[\\xB0-\\xBF]|\\xD1[\\x80-\\x9F])"
#define CAPW UP "(?:[A-Za-z'.-]|[\\xC3-\\xC9][\\x80-\\xBF]|[\\xCE-\\xD3][\\x80-\\xBF])*+"
#define PART "(?:(?:de|del|la|le|les|da|do|dos|das|di|du|des|y|e|van|von|der)" SP ")*"
#define SUFFIXES                                                                                                     \
  "Street|St|Str|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|"    \
  "Highway|Hwy|Parkway|Pkwy|Circle|Cir|Trail|Alley|Crescent|Close|Gardens|Grove|Row|Walk|Hill|Mews|Loop|Pike|"      \
  "Plaza|Quay|Wharf|Green|Rise|Heights|Ridge|Crossing|Path|Expressway|Freeway|Turnpike|Causeway|Estate|Fields|"      \
  "Streets|Roads|Avenues|Lanes|Creek|Cliffs|Pass|Point|Union|Lake|River|Bay|Harbor|Island|Springs|Valley|Meadows|"  \
  "Village|Forges|Squares|Falls|Mountain|Ports|Pines|Crest|Ford|Glen|Haven|Hollow|Junction|Landing|Manor|Mill|Mills|"\
  "Orchard|Shore|Shores|Summit|Trace|Vista|Wells|Woods|Flat|Flats|\xC3\xBAt|utca|t\xC3\xA9r|k\xC3\xB6r\xC3\xBAt|ulica|iela|gatve|tee|gade|vej|gata|gatan|straat|laan|weg"
#define PREFIXES                                                                                                     \
  "Rue|Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Calle|Avenida|Avda\\.|Av\\.|Paseo|Camino|Carrer|Plaza|Rua|"      \
  "Pra\xC3\xA7""a|Travessa|Estrada|Rambla|ul\\.|ulica|al\\.|Aleja|Boulevard|Bd\\.|Chemin|Route|All\xC3\xA9""e|Impasse|Quai|"\
  "Cours|Strada|Bulevardul|Calea|Ulitsa|Jalan|Jl\\.|Odos|Carretera|Ronda|Rruga|Sokak|Caddesi|rue|calle|avenida|rua|strada|viale|piazza"
#define GLUED                                                                                                        \
  "stra\xC3\x9F""e|strasse|gasse|weg|allee|platz|damm|ufer|straat|laan|plein|gracht|kade|vej|gade|gata|gatan|"       \
  "v\xC3\xA4gen|vagen|veien|vegen|vegur|katu|tie|kuja|polku|str\xC3\xA6""de|straeti|str\xC3\xA6ti|braut|iela|t\xC3\xA4nav|utca"

static const addr_param addr_params[] = {{A_SUFFIX}, {A_PREFIX}, {A_GLUED}, {A_BOX}, {A_GENERIC}};
#define ANB "(?<![A-Za-z0-9.,/_\\x80-\\xBF-])"
#define ANA "(?![A-Za-z0-9])"

/* Hyperscan looks for the street word (or the box, or "number Capital"); the rest of the
 * line before it is matched by PCRE2 only, in a consuming `pre` that the window (max_len
 * bytes before the street word's end) covers. */
static const guard_rule addr_rules[] = {
  {.type = "STREET_ADDRESS", .name = "street_suffix",
   .pre = ANB "\\d{1,6}(?:" SP "\\d{1,6})?" SP "(?:" CAPW SP PART "){0,3}" CAPW, .re = SP "(?:(?:" SUFFIXES ")\\b\\.?|u\\.)",
   .post = ANA, .max_len = 100, .score = 0.7, .validate_rule = v_addr, .data = &addr_params[0]},
  {.type = "STREET_ADDRESS", .name = "street_prefix", .pre = ANB "(?:\\d{1,6}(?:" SP "\\d{1,6})?" SP ")?", .re = "\\b(?:" PREFIXES ")" SP,
   .post = PART CAPW "(?:" SP PART CAPW "){0,4}(?:,?" SP "\\d{1,5}[A-Za-z]?)?" ANA, .max_len = 120, .score = 0.65,
   .validate_rule = v_addr, .data = &addr_params[1]},
  {.type = "STREET_ADDRESS", .name = "street_glued", .pre = ANB "(?:\\d{1,6}" SP ")?" UP "(?:" LW ")*",
   .re = "(?:" GLUED ")\\.?" SP "\\d{1,5}", .post = "[A-Za-z]?" ANA, .max_len = 80, .score = 0.65, .validate_rule = v_addr,
   .data = &addr_params[2]},
  {.type = "STREET_ADDRESS", .name = "po_box", .pre = "(?<![A-Za-z0-9])",
   .re = "(?:P\\.? ?O\\.? ?Box|Post Office Box|PSC|CMR|Unit" SP "\\d{1,5},?" SP "Box)" SP "\\d{1,6}|"
   "(?:USNS|USNV|USS|USCGC)" SP "[A-Z][a-z]+|(?:APO|FPO|DPO)" SP "(?:AA|AE|AP)" SP "\\d{5}", .post = ANA, .max_len = 48,
   .score = 0.7, .validate_rule = v_addr, .data = &addr_params[3]},
  {.type = "STREET_ADDRESS", .name = "street_generic", .pre = ANB, .re = "\\b\\d{2,6}" SP "[A-Z]",
   .post = "[a-z]+(?:[ \\t]" UP LW "+){0,2}" SP "\\d{1,4}[A-Za-z]?" ANA, .max_len = 80, .score = 0.5,
   .validate_rule = v_addr, .data = &addr_params[4], .find = guard_find_street_generic},
};

/* ---- dates and times ---- */
static unsigned num(const char *t, size_t *i, size_t e, size_t *nd) {
  unsigned v = 0;
  *nd = 0;
  while (*i < e && isdigit((unsigned char)t[*i])) { v = v * 10 + (unsigned)(t[(*i)++] - '0'); ++*nd; }
  return v;
}

static bool time_ok(const char *t, size_t i, size_t e) {
  size_t nd;
  while (i < e && !isdigit((unsigned char)t[i])) i++;
  if (i >= e) return true;
  unsigned h = num(t, &i, e, &nd);
  if (i >= e || t[i] != ':') return h <= 12;  /* "5pm" */
  i++;
  unsigned m = num(t, &i, e, &nd);
  if (h > 24 || m > 59) return false;
  if (i < e && t[i] == ':') {
    i++;
    if (num(t, &i, e, &nd) > 60) return false;
  }
  return true;
}

static bool v_date_iso(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t i = s, nd;
  unsigned y = num(t, &i, *e, &nd);
  i++;
  unsigned m = num(t, &i, *e, &nd);
  i++;
  unsigned d = num(t, &i, *e, &nd);
  if (y < 1000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  return time_ok(t, i, *e);
}

static bool v_date_num(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t i = s, n1, n2, n3;
  unsigned a = num(t, &i, *e, &n1);
  char sep = t[i++];
  unsigned b = num(t, &i, *e, &n2);
  if (t[i++] != sep) return false;
  unsigned c = num(t, &i, *e, &n3);
  if (n1 == 4) {  /* 2024/03/18 */
    if (a < 1000 || b < 1 || b > 12 || c < 1 || c > 31) return false;
  } else {
    if (a < 1 || b < 1 || !((a <= 12 && b <= 31) || (a <= 31 && b <= 12))) return false;
    if (n3 == 2 && sep != '/') return false;  /* "1.2.34" is a version */
    if (n3 == 4 && (c < 1000 || c > 2999)) return false;
    (void)c;
  }
  return time_ok(t, i, *e);
}

static bool v_date_words(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len;
  size_t i = s, nd;
  bool day = false;
  while (i < *e) {
    if (isdigit((unsigned char)t[i])) {
      unsigned v = num(t, &i, *e, &nd);
      if (nd <= 2) {
        if (v < 1 || v > 31) return false;
        day = true;
      }
    } else {
      i++;
    }
  }
  if (!day) *score = 0.45;  /* "March 2024" */
  return true;
}

static bool v_time(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  return time_ok(t, s, *e);
}

static bool v_word_date(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)score;
  return !ner_word_before(t, s, "@._/\\-") && !ner_word_after(t, len, *e, "@_/\\-");
}

#define MONTHS                                                                                                     \
  "(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|"   \
  "Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
#define DAYNUM "\\d{1,2}(?:st|nd|rd|th)?"
#define TIME_RE "\\d{1,2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?"
#define DNB "(?<![\\w.:/+-])"
#define DNA "(?![\\w]|[.:/-]\\d)"

static const guard_rule date_rules[] = {
  {.type = "DATE_TIME", .name = "date_iso", .re = "\\d{4}-\\d{1,2}-\\d{1,2}(?:(?:T|[ \\t]+)" TIME_RE "(?:Z|[+-]\\d{2}:?\\d{2})?)?",
   .pre = DNB, .post = DNA, .max_len = 40, .score = 0.6, .validate = v_date_iso, .find = guard_find_date_iso},
  {.type = "DATE_TIME", .name = "date_numeric", .re = "(?:\\d{1,2}[/.-]\\d{1,2}[/.-](?:\\d{4}|\\d{2})|\\d{4}/\\d{1,2}/\\d{1,2})"
   "(?:[ \\t]+" TIME_RE "(?:[ \\t]?[AaPp]\\.?[Mm]\\.?)?)?", .pre = DNB, .post = DNA, .max_len = 40, .score = 0.55,
   .validate = v_date_num},
  {.type = "DATE_TIME", .name = "date_words", .re = "\\b(?:" MONTHS "\\.?[ \\t]+" DAYNUM "(?:,?[ \\t]+\\d{4})?|" DAYNUM
   "[ \\t]+(?:of[ \\t]+)?" MONTHS "\\.?(?:,?[ \\t]+\\d{4})?|" MONTHS "[ \\t]+\\d{4})\\b", .max_len = 40, .score = 0.6,
   .validate = v_date_words},
  {.type = "DATE_TIME", .name = "weekday", .re = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?",
   .max_len = 10, .score = 0.3, .validate = v_word_date},
  {.type = "DATE_TIME", .name = "time", .re = "\\b(?:" TIME_RE "(?:[ \\t]?[AaPp]\\.?[Mm]\\.?)?|\\d{1,2}[ \\t]?(?:[AaPp]\\.[Mm]\\.|[AaPp][Mm]\\b))",
   .pre = DNB, .post = "(?![\\w]|[.:]\\d)", .max_len = 24, .score = 0.2, .validate = v_time, .find = guard_find_time},
  {.type = "DATE_TIME", .name = "year_context", .re = "\\b(?:born in|founded in|established in|since|dated|in the year|year of)[ \\t]+",
   .post = "\\K(?:1[6-9]|20)\\d{2}(?![\\w])", .flags = GUARD_RE_CASELESS, .max_len = 40, .score = 0.5},
};

/* date_numeric's pre-check (guard_scanner_hs_check): the digits source reports its form's ends
 * inside every dotted number ("10.20.30.40" holds "20.30.40", "2024-03-18" holds "24-03-18"),
 * and PCRE2 then found no start the lookbehind allows: one call each, 17 per 4 KiB of the rails
 * bench's prompt.  A match starts where DNB allows, then either 1-2 digits, [/.-], 1-2 digits,
 * [/.-] and 2 or 4 digits, or 4 digits, '/', 1-2 digits, '/' and 1-2 digits; every run is a
 * whole run of digits (a run cut short leaves a digit next, which the separator, DNA or the time
 * tail's blank refuses), and after the last one comes what DNA allows (a blank, which the time
 * tail starts with, passes).  The check looks for such a start in the window; it stands for the
 * whole pattern, as test_guard_pii_forms and fuzz_guard_prechecks hold it. */
static inline bool dn_word(unsigned char c) { return guard_is_alnum(c) || c == '_'; }  /* \w */
static inline bool dn_sep(unsigned char c) { return c == '/' || c == '.' || c == '-'; }

static size_t dn_run(const unsigned char *u, size_t len, size_t i) {  /* the run of digits at i */
  size_t k = i;
  while (k < len && guard_is_digit(u[k])) k++;
  return k - i;
}

static bool date_num_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  for (size_t s = *start; s < end; s++) {
    if (!guard_is_digit(u[s])) continue;
    if (s > 0 && (dn_word(u[s - 1]) || u[s - 1] == '.' || u[s - 1] == ':' || u[s - 1] == '/' || u[s - 1] == '+' ||
                  u[s - 1] == '-'))
      continue;  /* DNB */
    size_t l1 = dn_run(u, len, s), i = s + l1;
    if (i >= len || !dn_sep(u[i]) || (l1 > 2 && !(l1 == 4 && u[i] == '/'))) continue;
    bool year_first = l1 == 4;
    size_t l2 = dn_run(u, len, ++i);
    i += l2;
    if (l2 < 1 || l2 > 2 || i >= len || (year_first ? u[i] != '/' : !dn_sep(u[i]))) continue;
    size_t l3 = dn_run(u, len, ++i);
    i += l3;
    if (year_first ? l3 < 1 || l3 > 2 : l3 != 2 && l3 != 4) continue;
    if (i < len && (dn_word(u[i]) || ((u[i] == ':' || dn_sep(u[i])) && i + 1 < len && guard_is_digit(u[i + 1]))))
      continue;  /* DNA (a blank passes it: the time tail may follow) */
    if (s > *start) *start = s;
    return true;
  }
  return false;
}

/* street_generic's pre-check: its form "\d{2,6}[ \t]+[A-Z]" has an unbounded blank run, so its
 * lead is max_len and each window reached 80 bytes back from the capital.  A match starts at the
 * house number itself: the whole run of 2-6 digits before the blanks (\b before it, and ANB),
 * and its post goes on with a lowercase letter after the capital.  The window starts there.
 * Pattern-exact (test_guard_pii_forms, fuzz_guard_prechecks). */
static bool street_generic_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  if (end >= len || (unsigned char)(u[end] - 'a') >= 26) return false;  /* post: [a-z]+ */
  size_t q = end - 1;                                                   /* the capital */
  while (q > 0 && guard_is_blank(u[q - 1])) q--;
  size_t a = q;
  while (a > 0 && guard_is_digit(u[a - 1])) a--;
  if (q - a < 2 || q - a > 6) return false;
  if (a > 0) {
    unsigned char c = u[a - 1];  /* \b, and ANB: not after [A-Za-z0-9.,/_\x80-\xBF-] */
    if (dn_word(c) || c == '.' || c == ',' || c == '/' || c == '-' || (c >= 0x80 && c <= 0xBF)) return false;
  }
  if (a > *start) *start = a;
  return true;
}

/* A byte of UP or LW, the loose UTF-8 letter classes above (both: [\xC4-\xC7][\x80-\xBF]). */
static inline bool addr_letter_byte(unsigned char c) {
  return guard_is_letter(c) || (c >= 0x80 && c <= 0xBF) || (c >= 0xC3 && c <= 0xC9) ||
         (c >= 0xCE && c <= 0xD1);
}

/* A byte UP can start with: [A-Z], 0xC3-0xC7, 0xCE, 0xD0. */
static inline bool addr_up_byte(unsigned char c) {
  return (unsigned char)(c - 'A') < 26 || (c >= 0xC3 && c <= 0xC7) || c == 0xCE || c == 0xD0;
}

/* The start of a house number ending, after blanks, just before i: (?:\d{1,6}SP)? in front of a
 * street word at i, or i when there is none (a run of 7 digits or more has a digit before its
 * last 6, which ANB refuses). */
static size_t addr_number_before(const unsigned char *u, size_t i) {
  size_t b = i;
  while (b > 0 && guard_is_blank(u[b - 1])) b--;
  if (b == i) return i;
  size_t a = b;
  while (a > 0 && guard_is_digit(u[a - 1])) a--;
  return b - a >= 1 && b - a <= 6 ? a : i;
}

/* street_glued's pre-check.  Its expression has no form to cut (the glued word, "\.?", blanks and
 * 1-5 digits: Hyperscan reports an end after each digit), so its lead was max_len and each window
 * reached 80 bytes back; PCRE2 then searched all of them for "Capital, lowercase letters, glued
 * word" (~7k instructions a call on the Presidio texts).  Every match holds the end after its
 * first digit, so only that end opens a window.  Back from it come blanks, an optional '.', and
 * the glued word at the end of one unbroken run of UP/LW bytes that holds the word's capital;
 * before that run only a house number and blanks may belong to the match.  So the window starts
 * at the run, or at that number, and opens only if the run has a byte a capital can start with.
 * Pattern-exact (test_guard_pii_forms, fuzz_guard_prechecks). */
static bool street_glued_may_match(const char *t, size_t len, size_t end, size_t *start) {
  (void)len;
  const unsigned char *u = (const unsigned char *)t;
  size_t d = end;
  while (d > 0 && guard_is_digit(u[d - 1])) d--;
  if (end - d != 1) return false;  /* the end after the first digit stands for the others */
  size_t q = d;
  while (q > 0 && guard_is_blank(u[q - 1])) q--;
  if (q == d) return false;
  if (q > 0 && u[q - 1] == '.') q--;
  size_t p = q;
  bool up = false;
  while (p > 0 && addr_letter_byte(u[p - 1])) up |= addr_up_byte(u[--p]);
  if (!up) return false;
  size_t a = addr_number_before(u, p);
  if (a > *start) *start = a;
  return true;
}

/* street_prefix's pre-check.  Its form is the prefix word and one blank with no lead of its own,
 * so each window reached 120 bytes back and PCRE2 searched them all for the word.  A match starts
 * at the word, whose bytes are letters, '.' and UTF-8 ("Avda.", "Pra\xC3\xA7a"), or at up to two
 * house numbers and blanks before it; after the blanks it ends with comes a particle
 * ("de", "la", ...: a lowercase d, l, e, y or v) or a capital.  The window starts at the
 * run of such bytes before the blank, or at the digits and blanks before that. */
static bool street_prefix_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  size_t i = end;
  while (i < len && guard_is_blank(u[i])) i++;
  if (i >= len) return false;
  unsigned char c = u[i];
  if (!addr_up_byte(c) && c != 'd' && c != 'l' && c != 'e' && c != 'y' && c != 'v') return false;
  size_t w = end - 1;  /* the blank the form ends with */
  while (w > 0 && (addr_letter_byte(u[w - 1]) || u[w - 1] == '.' || u[w - 1] >= 0xC0)) w--;
  size_t a = w;  /* (?:\d{1,6}(?:SP\d{1,6})?SP)?: any digits and blanks, loosely */
  while (a > 0 && (guard_is_blank(u[a - 1]) || guard_is_digit(u[a - 1]))) a--;
  while (a < w && guard_is_blank(u[a])) a++;
  if (a > *start) *start = a;
  return true;
}

/* date_words' search form and pre-check.  Its expression starts with a day number in one
 * branch, so Hyperscan followed every digit of the text into its automaton (dropping the rule
 * from the pii database saved 3.4-4.9k instructions per 4 KiB).  Every match holds a month name
 * followed by a word boundary (a '.', a ',', a blank, or its end), within max_len of its start:
 * that is the form.  A match then goes on from the month with an optional '.', blanks and a
 * digit (a day or a year), or comes to the month from a day number (digits, then maybe st, nd,
 * rd or th), blanks and maybe "of" and blanks; the pre-check wants one of the two, and for the
 * first alone starts the window at the month (its run of letters: the \b the branch starts
 * with).  Pattern-exact (test_guard_pii_forms, fuzz_guard_prechecks). */
static const char date_words_form[] = MONTHS "\\b";

/* Whether a day number may end just before x: a digit, or st, nd, rd or th after one (loosely:
 * any two bytes that are no digit after a digit). */
static inline bool dw_day_ends(const unsigned char *u, size_t x) {
  return x > 0 && (guard_is_digit(u[x - 1]) || (x >= 3 && guard_is_digit(u[x - 3]) && !guard_is_digit(u[x - 2])));
}

static bool date_words_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  size_t ms = end;  /* the month's run of letters */
  while (ms > 0 && guard_is_letter(u[ms - 1])) ms--;
  /* before: DAYNUM [ \t]+ (?:of [ \t]+)? */
  size_t k = ms;
  while (k > 0 && guard_is_blank(u[k - 1])) k--;
  if (k < ms) {
    size_t b = k;
    if (b >= 3 && u[b - 1] == 'f' && u[b - 2] == 'o' && guard_is_blank(u[b - 3])) {  /* "of": then blanks before it */
      size_t c = b - 2;
      while (c > 0 && guard_is_blank(u[c - 1])) c--;
      if (dw_day_ends(u, c)) return true;
    }
    if (dw_day_ends(u, b)) return true;
  }
  /* after: \.? [ \t]+ \d */
  size_t i = end;
  if (i < len && u[i] == '.') i++;
  size_t j = i;
  while (j < len && guard_is_blank(u[j])) j++;
  if (j == i || j >= len || !guard_is_digit(u[j])) return false;
  if (ms > *start) *start = ms;
  return true;
}

/* po_box's search form.  Its expression has no form to cut and Hyperscan ran it whole, at ~5k
 * instructions per 4 KiB of the Presidio texts (dropping the rule from the database saved that
 * much): the optional dots and blanks of "P.O. Box" leave it no long literal to look for.  Every
 * match holds one of these literals, within max_len of its start. */
static const char po_box_form[] = "Box|PSC|CMR|US(?:NS|NV|S|CGC)|[ADF]PO";

/* Speed hints (guard_scanner_hs_hint) of the rules pii_digits.c does not take: without a lead
 * of its own, a rule with a form and no `pre` starts where its form does. */

void guard_pii_ner_add_addr(guard_scanner *s, unsigned types) {
  if (types & (1u << KL_GUARD_STREET_ADDRESS))
    for (size_t i = 0; i < sizeof addr_rules / sizeof *addr_rules; i++) {
      guard_rule *r = guard_scanner_add_rule(s, &addr_rules[i]);
      r->context = guard_context_words(KL_GUARD_STREET_ADDRESS);
      if (guard_pii_digits_take(s, r)) {  /* street_generic: found without Hyperscan */
        if (!strcmp(r->name, "street_generic")) guard_scanner_hs_check(s, r, street_generic_may_match);
        continue;
      }
      const char *form = guard_re_search_form(s, r->re);  /* the street word without \b, one blank */
      if (form) guard_scanner_hs_hint(s, r, form, 0);
      if (!strcmp(r->name, "po_box")) guard_scanner_hs_hint(s, r, po_box_form, 0);
      if (!strcmp(r->name, "street_glued")) guard_scanner_hs_check(s, r, street_glued_may_match);
      if (!strcmp(r->name, "street_prefix")) guard_scanner_hs_check(s, r, street_prefix_may_match);
    }
  if (types & (1u << KL_GUARD_DATE_TIME))
    for (size_t i = 0; i < sizeof date_rules / sizeof *date_rules; i++) {
      guard_rule *r = guard_scanner_add_rule(s, &date_rules[i]);
      r->context = guard_context_words(KL_GUARD_DATE_TIME);
      if (guard_pii_digits_take(s, r)) {  /* date_iso, date_numeric, time: likewise */
        if (!strcmp(r->name, "date_numeric")) guard_scanner_hs_check(s, r, date_num_may_match);
        continue;
      }
      const char *form = guard_re_search_form(s, r->re);  /* without the leading \b, one blank */
      /* without a lead of its own, a rule with a form and no `pre` starts where its form does */
      unsigned lead = form && !r->pre ? GUARD_LEAD_PREFIX : 0;
      if (!strcmp(r->name, "date_words")) {
        form = date_words_form;
        lead = 0;
        guard_scanner_hs_check(s, r, date_words_may_match);
      }
      if (form || lead) guard_scanner_hs_hint(s, r, form, lead);
    }
}
