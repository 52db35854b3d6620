/* pii_ner.c: named entities for the pii scanner without a model: PERSON, LOCATION, NRP and
 * ORGANIZATION (street addresses and dates are in pii_ner_addr.c).
 *
 * Everything runs in the policy's one Hyperscan pass, so every rule starts with something
 * cheap to find: a gazetteer word (common first names, countries, US states, large cities:
 * small literal alternations, the rules' search forms, whose ends a trie walk finds in place
 * of Hyperscan (pii_ner_gaz.c), while PCRE2 confirms a plain capitalised word and the
 * validator looks it up in a hash table of every list), two
 * capitalised words in a row (checked against all ~14k first names and ~13k surnames, which
 * Hyperscan never sees: compiling them would take seconds), a context phrase ("Mr.", "my name
 * is", "lives in") or a legal-form suffix.  Capitalisation, word boundaries over UTF-8 and the
 * rest of the entity are checked in validators, which only ever see candidates.  No rule is
 * compiled in UTF mode (Hyperscan's Unicode mode makes big rule sets slow to compile): the
 * expressions use loose byte classes for UTF-8 letters and the validators decode.
 *
 * A context rule's Hyperscan expression is the phrase alone; PCRE2 goes on past a \K to the
 * capital that follows, so the finding is the name without its title ("Dr. Anette Lahtela" ->
 * "Anette Lahtela"), and the validator takes the name's words.  The organisation rules (and
 * the street rules) put the capitalised words before their suffix in a consuming `pre`: PCRE2
 * matches it in the window (max_len bytes before the suffix Hyperscan found).
 *
 * Scores encode the evidence (the default threshold is 0.3): a first name followed by a
 * capitalised surname 0.6; a lone common first name 0.35; a first name that is also an English
 * word, a calendar word or a place ("Will", "May", "Mark", "Georgia") 0.1 alone, 0.45 with a
 * surname, 0.25 at a sentence's start; an unknown first word before an initial 0.5 or a known
 * surname 0.4; after a title or "my name is" 0.85, after "hi" / "dear" 0.45; countries and
 * states 0.5, cities 0.45, cities that are also words or first names ("Reading") 0.15.
 * Context words near a finding add 0.35 (the engine), so "Hi Will," passes and "Will it
 * rain?" does not. */
#include "guard/pii_ner.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- letters and case ---- */
bool ner_cp_upper(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return true;
    if (c == 0x131 || c == 0x138 || c == 0x149) return false;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1;
    if (c == 0x178) return true;
    return !(c & 1);
  }
  if (c >= 0x1E00 && c <= 0x1EFF) return !(c & 1);  /* Latin Extended Additional (Vietnamese) */
  if (c >= 0x391 && c <= 0x3A9) return true;         /* Greek */
  if (c >= 0x400 && c <= 0x42F) return true;         /* Cyrillic */
  return false;
}

bool ner_cp_letter(uint32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return c >= 0xC0 && guard_cp_is_word(c) && c != 0xD7 && c != 0xF7;
}

bool ner_cp_lower(uint32_t c) { return ner_cp_letter(c) && !ner_cp_upper(c) && (c < 0x2E80 || c > 0xFFFF); }

static bool is_apos(const char *t, size_t len, size_t i, size_t *n) {
  if (i < len && t[i] == '\'') { *n = 1; return true; }
  if (i + 2 < len && !memcmp(t + i, "\xE2\x80\x99", 3)) { *n = 3; return true; }  /* ’ */
  return false;
}

size_t ner_word_end(const char *t, size_t len, size_t i) {
  size_t n, e = i;
  while (e < len) {
    unsigned char b = (unsigned char)t[e];
    if ((unsigned char)((b | 0x20) - 'a') < 26) {  /* ASCII letters: most bytes */
#ifdef __SSE2__
      if (e + 16 <= len) {  /* the run of them, 16 bytes at a time, by the same test */
        e += (size_t)__builtin_ctz(~guard_letters16(t + e) | 0x10000u);
        continue;
      }
#endif
      e++;
      continue;
    }
    if (b < 0x80 && b != '-' && b != '\'') break;  /* ASCII that is no letter and no joiner: most ends */
    uint32_t c = guard_utf8_next(t, len, e, &n);
    if (ner_cp_letter(c)) { e += n; continue; }
    size_t an = 0;
    bool joiner = c == '-' || is_apos(t, len, e, &an);
    if (!joiner || e == i) break;
    size_t k = e + (an ? an : 1), m;
    if (k >= len || !ner_cp_letter(guard_utf8_next(t, len, k, &m))) break;
    /* a possessive "'s" is not part of the word */
    if (an && (t[k] == 's' || t[k] == 'S') && (k + 1 >= len || !ner_cp_letter(guard_utf8_next(t, len, k + 1, &m)))) break;
    e = k;
  }
  return e;
}

bool ner_is_cap_word(const char *t, size_t len, size_t s, size_t e) {
  size_t n;
  if (s >= e) return false;
  uint32_t c = guard_utf8_next(t, len, s, &n);
  return ner_cp_upper(c) && s + n < e;
}

bool ner_word_before(const char *t, size_t s, const char *also) {
  if (s == 0) return false;
  unsigned char b = (unsigned char)t[s - 1];
  if (b < 0x80) return guard_cp_is_word(b) || strchr(also, b);  /* what the decoding below gives */
  size_t n;
  uint32_t c = guard_utf8_prev(t, s, &n);
  return guard_cp_is_word(c) || (c < 0x80 && strchr(also, (int)c));
}

bool ner_word_after(const char *t, size_t len, size_t e, const char *also) {
  if (e >= len) return false;
  size_t n;
  uint32_t c = guard_utf8_next(t, len, e, &n);
  return guard_cp_is_word(c) || (c < 0x80 && c && strchr(also, (int)c));
}

bool ner_sentence_start(const char *t, size_t s) {
  while (s > 0) {
    char c = t[s - 1];
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '(' || c == '*' || c == '-') { s--; continue; }
    return c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '>';
  }
  return true;
}

/* Capitalised words that begin sentences, name streets, organisations and dates: never part of
 * a person's name.  Sorted (strcmp order): stop_index groups them by first letter. */
static const char *const stopwords[] = {
  "About", "After", "Again", "Airlines", "Airport", "All", "Alley", "Also", "Am", "An", "And", "Any", "Apartment",
  "April", "Apt", "Are", "Arena", "As", "Ask", "Associates", "At", "August", "Ave", "Avenue", "Band", "Bank", "Bay",
  "Be", "Because", "Before", "Best", "Blvd", "Board", "Boulevard", "Box", "But", "By", "Can", "Capital", "Captain",
  "Center", "Centre", "Church", "City", "Cliff", "Cliffs", "Close", "Club", "Co", "College", "Company", "Consulting",
  "Corp", "Corporation", "Could", "Country", "County", "Court", "Creek", "Crescent", "Crest", "Customer", "Date",
  "Day", "Dear", "December", "Department", "Do", "Doctor", "Does", "Dr", "Drive", "Each", "East", "Economic",
  "Email", "Enterprises", "Even", "Every", "Everyone", "Falls", "February", "Financial", "Flat", "Flats", "Floor",
  "For", "Ford", "Forge", "Forges", "Fort", "Foundation", "Friday", "From", "Gallery", "Gardens", "General", "Glen",
  "Global", "GmbH", "Good", "Governor", "Great", "Group", "Grove", "Guys", "Had", "Harbor", "Harbour", "Has", "Have",
  "Haven", "He", "Heights", "Hello", "Her", "Here", "Hey", "Hi", "High", "Highway", "His", "Holdings", "Hollow",
  "Hospital", "Hotel", "How", "I", "If", "In", "Inc", "Incorporated", "Industries", "Institute", "Insurance",
  "International", "Investments", "Is", "Island", "Islands", "It", "Its", "January", "July", "Junction", "June",
  "Just", "King", "LLC", "Labs", "Lady", "Lake", "Lakes", "Landing", "Lane", "Lanes", "Last", "Let", "Library",
  "Limited", "Ln", "Logistics", "Loop", "Lord", "Ltd", "Main", "Manor", "March", "May", "Me", "Meadows", "Media",
  "Mill", "Mills", "Minister", "Monday", "More", "Most", "Motors", "Mountain", "Mountains", "Mr", "Mrs", "Ms",
  "Museum", "My", "Name", "New", "Next", "No", "North", "Not", "November", "Now", "October", "Of", "Office", "Oh",
  "Ok", "Okay", "On", "Once", "One", "Only", "Or", "Orchard", "Orchestra", "Our", "Park", "Partners", "Pass",
  "Pharmaceuticals", "Phone", "Pines", "Place", "Plaza", "Please", "Point", "Pope", "Port", "Ports", "Prairie",
  "President", "Prince", "Princess", "Professor", "Queen", "Ranch", "Rd", "Re", "Regards", "Ridge", "River", "Road",
  "Roads", "Room", "Row", "Saint", "Saturday", "School", "See", "Senator", "September", "Services", "She", "Shore",
  "Shores", "Should", "Since", "Sir", "So", "Software", "Solutions", "Some", "South", "Springs", "Square", "Squares",
  "St", "Stadium", "Station", "Street", "Streets", "Suite", "Summit", "Sunday", "Support", "Systems",
  "Team", "Technologies", "Terrace", "Thank", "Thanks", "That", "The", "Theater", "Theatre", "Their", "Then",
  "There", "These", "They", "This", "Those", "Thursday", "To", "Today", "Tomorrow", "Trace", "Tuesday", "Tunnel",
  "Turnpike", "Union", "Unit", "University", "Upon", "Us", "User", "Valley", "Ventures", "Very", "Viaduct",
  "Village", "Vista", "Walk", "Was", "Way", "We", "Wednesday", "Well", "Wells", "West", "What", "When", "Where",
  "Which", "While", "Who", "Why", "Will", "With", "Woods", "Would", "Yes", "Yesterday", "You", "Your",
};

/* The stopwords by first letter (all are capitalised ASCII, at most 15 bytes) with their
 * lengths: a lookup compares a few lengths and one or two words, where a bsearch copied the
 * word and ran ~9 strcmp calls (ner_stopword runs for most capitalised words: ~650 times per
 * 4 KiB of the Presidio texts, 27k instructions -> 6k). */
#define NSTOP (sizeof stopwords / sizeof *stopwords)
static unsigned short stop_at[27];  /* words beginning with 'A' + k: [stop_at[k], stop_at[k + 1]) */
static unsigned char stop_len[NSTOP];
static unsigned short stop_lens[26]; /* bit n: a word beginning with 'A' + k has n bytes (most names: none) */
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static void stop_index(void) {
  size_t i = 0;
  for (int k = 0; k <= 26; k++) {
    while (i < NSTOP && stopwords[i][0] - 'A' < k) i++;
    stop_at[k] = (unsigned short)i;
  }
  for (i = 0; i < NSTOP; i++) {
    stop_len[i] = (unsigned char)strlen(stopwords[i]);
    stop_lens[stopwords[i][0] - 'A'] |= (unsigned short)(1u << stop_len[i]);
  }
}

bool ner_stopword(const char *t, size_t s, size_t e) {
  size_t n = e - s;
  unsigned k = (unsigned)((unsigned char)t[s] - 'A');
  if (!n || n > 15 || k >= 26) return false;
  pthread_once(&stop_once, stop_index);
  if (!(stop_lens[k] >> n & 1)) return false;
  for (unsigned i = stop_at[k]; i < stop_at[k + 1]; i++)
    if (stop_len[i] == n && !memcmp(stopwords[i], t + s, n)) return true;
  return false;
}

/* ---- the gazetteer ---- */
/* N: common first names (Hyperscan looks for them alone); F, f: the other first names and
 * those that are also words, L: surnames (looked up for "First Last" pairs only); C, S, P, p:
 * places. */
enum { G_COMMON, G_FIRST, G_FIRST_AMB, G_SURNAME, G_COUNTRY, G_STATE, G_CITY, G_CITY_AMB, G_N };
/* A tag bit past the lists': the word is a stopword (ner_stopword's list), so a validator that
 * asks both about one word makes one lookup. */
enum { G_STOP = G_N };
static const char g_tags[G_N] = {'N', 'F', 'f', 'L', 'C', 'S', 'P', 'p'};
static const bool g_scanned[G_N] = {true, false, false, false, true, true, true, true};

/* Hyperscan's compile time grows faster than linearly with an alternation's size (a 1 KB one
 * takes ~12 ms, a 6 KB one ~140 ms): many small ones keep the whole build in a few hundred ms. */
#define CHUNK_BYTES 500

typedef struct {
  char **chunks;   /* alternations of about CHUNK_BYTES */
  unsigned *lead;  /* per chunk: its longest entry, in bytes */
  size_t nchunks;
  char **sorted;   /* the entries, sorted, for lookups */
  size_t n;
} gaz_list;

static gaz_list g_lists[G_N];
static unsigned g_slot_base[G_N];  /* list l's chunk i is slot g_slot_base[l] + i of ner_gaz_source */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void gaz_index(void);

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static int cmp_len_desc(const void *a, const void *b) {
  size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
  return x != y ? (x < y ? 1 : -1) : strcmp(*(char *const *)a, *(char *const *)b);
}

/* Alternations of about CHUNK_BYTES for Hyperscan only: PCRE2 confirms a generic capitalised
 * word (or words) near the match and the validator looks it up in the hash table, which is
 * far cheaper than re-running an alternation of a hundred names in every window. */
static void build_chunks(gaz_list *g, unsigned slot_base) {
  char **byl = malloc((g->n ? g->n : 1) * sizeof *byl);
  if (!byl) abort();
  memcpy(byl, g->sorted, g->n * sizeof *byl);
  qsort(byl, g->n, sizeof *byl, cmp_len_desc);
  kl_buf b = KL_BUF_INIT;
  unsigned lead = 0;
  for (size_t i = 0; i <= g->n; i++) {
    if (b.len && (i == g->n || b.len > CHUNK_BYTES)) {
      kl_buf_putc(&b, ')');
      g->chunks = realloc(g->chunks, (g->nchunks + 1) * sizeof *g->chunks);
      g->lead = realloc(g->lead, (g->nchunks + 1) * sizeof *g->lead);
      if (!g->chunks || !g->lead) abort();
      g->lead[g->nchunks] = lead;
      g->chunks[g->nchunks++] = kl_buf_steal(&b);
    }
    if (i == g->n) break;
    if (!b.len) lead = (unsigned)strlen(byl[i]);  /* longest first */
    kl_buf_puts(&b, b.len ? "|" : "(?:");
    ner_gaz_trie_add(byl[i], slot_base + (unsigned)g->nchunks);  /* the window source's copy */
    for (const char *p = byl[i]; *p; p++) {
      if (strchr(".\\()[]{}|*+?^$-", *p)) kl_buf_putc(&b, '\\');
      kl_buf_putc(&b, *p);
    }
  }
  kl_buf_free(&b);
  free(byl);
}

/* The nrp rule's words (NRP below).  Literal and capitalised like a chunk's entries, so the
 * gazetteer's trie finds their ends too (slot g_nrp_slot): as one Hyperscan alternation they
 * were ~4k instructions of the LINES database's pass over MT-Bench's 4 KiB ("American" inside
 * every "Americans", and capitals at every sentence start to follow up). */
#define NRP_WORDS                                                                                                   \
  "Afghan|African|Albanian|Algerian|American|Arab|Argentine|Argentinian|Armenian|Asian|Australian|Austrian|"      \
  "Bangladeshi|Belgian|Bosnian|Brazilian|British|Bruneian|Buddhist|Bulgarian|Cambodian|Canadian|Catholic|Chilean|" \
  "Chinese|Christian|Colombian|Communist|Conservative|Croatian|Cuban|Cypriot|Czech|Danish|Democrat|Dutch|"          \
  "Ecuadorian|Egyptian|English|Estonian|Ethiopian|European|Filipino|Finnish|French|Georgian|German|Ghanaian|Greek|"\
  "Greenlander|Greenlandic|Hindu|Hispanic|Hungarian|Icelandic|Indian|Indonesian|Iranian|Iraqi|Irish|Israeli|"       \
  "Italian|Jamaican|Japanese|Jewish|Jordanian|Kenyan|Korean|Kurdish|Latino|Latvian|Lebanese|Libertarian|Lithuanian|"\
  "Luxembourgish|Macedonian|Malaysian|Maltese|Mexican|Moroccan|Mormon|Muslim|Nepali|Nigerian|Norwegian|Pakistani|"  \
  "Palestinian|Peruvian|Polish|Portuguese|Protestant|Republican|Romanian|Russian|Saudi|Scottish|Serbian|Sikh|"      \
  "Singaporean|Slovak|Slovakian|Slovenian|Socialist|Somali|Spanish|Sudanese|Swedish|Swiss|Syrian|Taiwanese|Thai|"    \
  "Tunisian|Turkish|Ukrainian|Uruguayan|Venezuelan|Vietnamese|Welsh|Zimbabwean"

static unsigned g_nrp_slot;  /* the trie's slot for NRP_WORDS, after every list's chunks */

static void add_nrp_words(unsigned slot) {
  static const char words[] = NRP_WORDS;
  char w[32];
  for (const char *p = words; *p;) {
    size_t n = strcspn(p, "|");
    if (n >= sizeof w) abort();  /* the list's words are short */
    memcpy(w, p, n);
    w[n] = 0;
    ner_gaz_trie_add(w, slot);
    p += n + (p[n] == '|');
  }
}

static void gaz_load(void) {
  const char *d = (const char *)kl_embed_gazetteer, *end = d + kl_embed_gazetteer_len;
  size_t cap[G_N] = {0};
  while (d < end) {
    const char *nl = memchr(d, '\n', (size_t)(end - d));
    if (!nl) nl = end;
    if (nl - d > 2 && d[1] == ' ') {
      const char *tp = memchr(g_tags, d[0], G_N);
      if (tp) {
        gaz_list *g = &g_lists[tp - g_tags];
        if (g->n == cap[tp - g_tags]) {
          cap[tp - g_tags] = cap[tp - g_tags] ? cap[tp - g_tags] * 2 : 256;
          g->sorted = realloc(g->sorted, cap[tp - g_tags] * sizeof *g->sorted);
          if (!g->sorted) abort();
        }
        size_t n = (size_t)(nl - d - 2);
        g->sorted[g->n] = xmalloc(n + 1);
        memcpy(g->sorted[g->n], d + 2, n);
        g->sorted[g->n++][n] = 0;
      }
    }
    d = nl + 1;
  }
  unsigned slots = 0;
  for (int i = 0; i < G_N; i++) {
    qsort(g_lists[i].sorted, g_lists[i].n, sizeof *g_lists[i].sorted, cmp_str);
    g_slot_base[i] = slots;
    if (g_scanned[i]) build_chunks(&g_lists[i], slots);
    slots += (unsigned)g_lists[i].nchunks;
  }
  g_nrp_slot = slots;
  add_nrp_words(g_nrp_slot);
  ner_gaz_trie_done();
  gaz_index();
}

/* Every entry of every list in one open-addressing hash table: a word's lists in one probe
 * (validators look words up several times per candidate). */
typedef struct {
  const char *k;
  size_t n;
  unsigned tags;  /* bit per list */
} gslot;
static gslot *g_tab;
static size_t g_mask;

static uint32_t fnv(const char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
  return h;
}

static gslot *gaz_slot(const char *p, size_t n) {
  for (size_t i = fnv(p, n) & g_mask;; i = (i + 1) & g_mask)
    if (!g_tab[i].k || (g_tab[i].n == n && !memcmp(g_tab[i].k, p, n))) return &g_tab[i];
}

static void gaz_index(void) {
  size_t total = NSTOP, cap = 1024;
  for (int i = 0; i < G_N; i++) total += g_lists[i].n;
  while (cap < 2 * total) cap *= 2;
  g_tab = calloc(cap, sizeof *g_tab);
  if (!g_tab) abort();
  g_mask = cap - 1;
  for (int l = 0; l < G_N; l++)
    for (size_t i = 0; i < g_lists[l].n; i++) {
      const char *k = g_lists[l].sorted[i];
      gslot *sl = gaz_slot(k, strlen(k));
      sl->k = k;
      sl->n = strlen(k);
      sl->tags |= 1u << l;
    }
  for (size_t i = 0; i < NSTOP; i++) {
    gslot *sl = gaz_slot(stopwords[i], strlen(stopwords[i]));
    sl->k = stopwords[i];
    sl->n = strlen(stopwords[i]);
    sl->tags |= 1u << G_STOP;
  }
}

static unsigned gaz_tags(const char *t, size_t s, size_t e) {
  if (e <= s) return 0;
  return gaz_slot(t + s, e - s)->tags;
}

static bool gaz_has(int list, const char *t, size_t s, size_t e) { return gaz_tags(t, s, e) >> list & 1; }

/* ---- PERSON ---- */
static const char *const particles[] = {"van", "von", "de", "der", "den", "la", "le", "da", "di", "del", "du", "dos", "das", "bin", "ibn", NULL};

static bool is_particle(const char *t, size_t s, size_t e) {
  for (const char *const *p = particles; *p; p++)
    if (e > s && **p == t[s] && strlen(*p) == e - s && !memcmp(*p, t + s, e - s)) return true;  /* first bytes first */
  return false;
}

/* Extends a name from e over initials ("M.", "R"), particles ("van") and up to `max` more
 * capitalised words that are not stopwords; *words gets how many were taken. */
static size_t name_extend(const char *t, size_t len, size_t e, int max, int *words) {
  size_t best = e, j = e, n;
  *words = 0;
  if (j < len && t[j] == '-') {  /* "Jean-Pierre" */
    size_t we = ner_word_end(t, len, j + 1);
    if (ner_is_cap_word(t, len, j + 1, we)) best = j = we;
  }
  for (int k = 0; k < max + 2 && *words < max; k++) {
    if (j >= len || t[j] != ' ') break;
    size_t p = j + 1;
    uint32_t c = p < len ? guard_utf8_next(t, len, p, &n) : 0;
    /* an initial: one capital, an optional dot, then a space */
    if (ner_cp_upper(c)) {
      size_t q = p + n;
      if (q < len && t[q] == '.') q++;
      if (q < len && t[q] == ' ' && !(q > p + n && ner_cp_letter(guard_utf8_next(t, len, p + n, &n)))) {
        j = q;
        continue;
      }
    }
    size_t we = ner_word_end(t, len, p);
    if (we > p && is_particle(t, p, we) && we < len && t[we] == ' ') {
      size_t we2 = ner_word_end(t, len, we + 1);
      if (!ner_is_cap_word(t, len, we + 1, we2)) break;
      j = we;
      continue;
    }
    if (!ner_is_cap_word(t, len, p, we) || gaz_tags(t, p, we) & (1u << G_STOP | 1u << G_COUNTRY)) break;
    best = j = we;
    ++*words;
  }
  return best;
}

typedef struct { int list; } gaz_param;

static int first_name_kind_of(unsigned g) {
  if (g >> G_COMMON & 1) return G_COMMON;
  if (g >> G_FIRST & 1) return G_FIRST;
  if (g >> G_FIRST_AMB & 1) return G_FIRST_AMB;
  return -1;
}

/* Words after which capitalised words are an organisation or a place, not a person:
 * "Morgan Stanley", "Russell Investments", "Dora Creek". */
static bool org_follows(const char *t, size_t len, size_t e) {
  static const char *const w[] = {"Inc", "LLC", "Ltd", "Corp", "Co", "GmbH", "AG", "plc", "Group", "Bank", "Investments",
                                  "Consulting", "Capital", "Holdings", "Technologies", "Software", "Systems", "Solutions",
                                  "Services", "Insurance", "Media", "Labs", "Partners", "Associates", "Industries",
                                  "Enterprises", "Ventures", "Foundation", "Institute", "Global", "International",
                                  "University", "College", "Hospital", "Orchestra", "Street", "Road", "Avenue", NULL};
  if (e + 1 >= len || t[e] != ' ') return false;
  size_t we = ner_word_end(t, len, e + 1);
  for (const char *const *p = w; *p; p++)
    if (**p == t[e + 1] && strlen(*p) == we - e - 1 && !memcmp(*p, t + e + 1, we - e - 1)) return true;
  return false;
}

/* Whether the name t[s, e) has an initial between its words ("Faina D. Yefremova"). */
static bool has_initial(const char *t, size_t s, size_t e) {
  for (size_t i = s + 1; i + 2 < e; i++)
    if (t[i - 1] == ' ' && t[i] >= 'A' && t[i] <= 'Z' && (t[i + 1] == ' ' || (t[i + 1] == '.' && t[i + 2] == ' ')))
      return true;
  return false;
}

/* "First Last" where First is a known first name that Hyperscan does not look for alone (the
 * common ones have their own rule), Last a known surname, or an initial stands between. */
static bool v_pair(const char *t, size_t len, size_t s, size_t *e, double *score) {
  size_t we = ner_word_end(t, len, s);
  if (ner_word_before(t, s, "@._/\\-#")) return false;
  unsigned g = gaz_tags(t, s, we);  /* the first word: a stopword, a first name, a place */
  if (g >> G_STOP & 1) return false;
  int k = first_name_kind_of(g);
  if (k == G_COMMON) return false;
  if (k < 0) {  /* an unknown first word: only worth the walk before an initial or a surname */
    size_t p = we + 1, q = p < len ? ner_word_end(t, len, p) : p;
    bool init = q == p + 1 || (q == p && p < len && ner_cp_upper((unsigned char)t[p]));
    if (!init && !gaz_has(G_SURNAME, t, p, q)) return false;
  }
  int words;
  size_t end = name_extend(t, len, we, 2, &words);
  if (!words || org_follows(t, len, end)) return false;
  size_t ls = end;  /* the last word */
  while (ls > s && t[ls - 1] != ' ') ls--;
  bool surname = gaz_has(G_SURNAME, t, ls, end), initial = has_initial(t, s, end);
  if (k == G_FIRST) *score = 0.6;
  else if (k == G_FIRST_AMB) *score = ner_sentence_start(t, s) && !initial ? 0.25 : 0.45;
  else if (initial) *score = 0.5;
  else if (surname && !(g & (1u << G_COUNTRY | 1u << G_CITY))) *score = 0.4;
  else return false;
  if (k >= 0 && (surname || initial)) *score += 0.1;
  *e = end;
  return true;
}

static bool v_first_name(const guard_rule *r, const char *t, size_t len, size_t s, size_t *e, double *score) {
  const gaz_param *gp = r->data;
  bool amb = gp->list == G_FIRST_AMB;
  *e = ner_word_end(t, len, s);  /* PCRE2 took a capitalised word: is it one of the list's? */
  if (!gaz_has(gp->list, t, s, *e)) return false;
  if (ner_word_before(t, s, "@._/\\-#") || ner_word_after(t, len, *e, "@_/\\#")) return false;
  /* in a domain or a file name: "Janka.example" */
  if (*e + 1 < len && t[*e] == '.' && ner_cp_letter((unsigned char)t[*e + 1])) return false;
  int words;
  size_t end = name_extend(t, len, *e, 2, &words);
  if (org_follows(t, len, end)) return false;
  if (words) {
    *e = end;
    *score = !amb ? 0.6 : ner_sentence_start(t, s) ? 0.25 : 0.45;
  } else {
    *score = amb ? 0.1 : 0.35;
  }
  return true;
}

/* A name after a title or an introduction: the capitalised words PCRE2 took, trimmed at the
 * first stopword; a trailing initial is dropped. */
static bool v_ctx_name(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)score;
  size_t we = ner_word_end(t, len, s);
  /* after "Hi" or "Dear", a first name that is also a word is a name: "Hi Will," */
  if (!ner_is_cap_word(t, len, s, we)) return false;
  unsigned g = gaz_tags(t, s, we);
  if ((g >> G_STOP & 1) && first_name_kind_of(g) < 0) return false;
  if (we - s > 40) return false;
  if (g & (1u << G_COUNTRY | 1u << G_STATE)) return false;
  int words;
  *e = name_extend(t, len, we, 3, &words);
  return !ner_word_after(t, len, *e, "@");
}

/* ---- LOCATION ---- */
static bool v_place(const guard_rule *r, const char *t, size_t len, size_t s, size_t *e, double *score) {
  const gaz_param *gp = r->data;
  /* PCRE2 took up to four capitalised words: the longest run of them that is an entry */
  size_t ends[4], nw = 0, p = s;
  while (nw < 4) {
    size_t we = ner_word_end(t, len, p);
    if (we == p) break;
    ends[nw++] = we;
    if (we >= *e || we + 1 >= len || t[we] != ' ') break;
    p = we + 1;
  }
  while (nw && !gaz_has(gp->list, t, s, ends[nw - 1])) nw--;
  if (!nw) return false;
  *e = ends[nw - 1];
  if (ner_word_before(t, s, "@._/\\-#") || ner_word_after(t, len, *e, "@_/\\#-")) return false;
  if (*e + 1 < len && t[*e] == '.' && ner_cp_letter((unsigned char)t[*e + 1])) return false;
  static const double base[G_N] = {0, 0, 0, 0, 0.5, 0.5, 0.45, 0.15};
  *score = base[gp->list];
  /* the first word of a longer name ("Paris Hilton", "Washington Post", "Jordan Peterson") */
  if (*e + 1 < len && t[*e] == ' ') {
    size_t we = ner_word_end(t, len, *e + 1);
    if (ner_is_cap_word(t, len, *e + 1, we) &&
        !(gaz_tags(t, *e + 1, we) & (1u << G_STOP | 1u << G_COUNTRY | 1u << G_STATE)))
      *score = 0.15;
  }
  return true;
}

/* A place after "lives in", "born in", "moved to": capitalised or upper-case words. */
static bool v_ctx_place(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)score;
  size_t we = ner_word_end(t, len, s), n;
  if (!ner_is_cap_word(t, len, s, we)) return false;
  unsigned g = gaz_tags(t, s, we);
  if (g >> G_STOP & 1) return false;
  bool known = g & (1u << G_COUNTRY | 1u << G_STATE | 1u << G_CITY);
  if (!known && (g & (1u << G_FIRST | 1u << G_FIRST_AMB))) return false;
  size_t end = we;
  for (int k = 0; k < 2; k++) {
    if (end >= len || t[end] != ' ') break;
    size_t p = end + 1, q = ner_word_end(t, len, p);
    uint32_t c = p < len ? guard_utf8_next(t, len, p, &n) : 0;
    if (!ner_cp_upper(c) || q == p || ner_stopword(t, p, q)) break;
    end = q;
  }
  *e = end;
  return true;
}

/* ---- NRP ---- */
static bool v_nrp(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)score;
  if (ner_word_before(t, s, "@._/\\-#") || ner_word_after(t, len, *e, "@_/\\#-")) return false;
  /* a language, not a group: "in English", "speaks French" */
  size_t p = s;
  while (p > 0 && t[p - 1] == ' ') p--;
  size_t q = p;
  while (q > 0 && ner_cp_letter((unsigned char)t[q - 1])) q--;
  static const char *const lang[] = {"in", "speak", "speaks", "speaking", "spoke", "learn", "learning", "into", "from", "translate", "study", "studying", "studied", "teach", "teaches", NULL};
  for (const char *const *w = lang; *w; w++)
    if (strlen(*w) == p - q && !strncasecmp(*w, t + q, p - q)) return false;
  /* "studying English and French": a language word shortly before */
  char lw[40];
  size_t bs = s > 32 ? s - 32 : 0, n = 0;
  for (size_t i = bs; i < s; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
  lw[n] = 0;
  static const char *const near[] = {"speak", "study", "studi", "learn", "translat", "teach", "fluent", NULL};
  for (const char *const *w = near; *w; w++)
    if (strstr(lw, *w)) return false;
  if (*e + 1 < len && t[*e] == ' ') {
    size_t we = ner_word_end(t, len, *e + 1);
    static const char *const lw[] = {"language", "translation", "version", "text", "keyboard", "Union", "Commission",
                                     "Parliament", NULL};
    for (const char *const *w = lw; *w; w++)
      if (strlen(*w) == we - *e - 1 && !strncmp(*w, t + *e + 1, we - *e - 1)) return false;
  }
  return true;
}

/* ---- ORGANIZATION ---- */
static bool v_org(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t we = ner_word_end(t, len, s);
  if (ner_stopword(t, s, we)) return false;
  return *e > we;
}

/* Byte-mode classes over UTF-8 (no rule is compiled in UTF mode: Hyperscan's Unicode mode
 * makes large rule sets slow to compile).  Loose on purpose; the validators decode. */
#define UP "(?:[A-Z]|\\xC3[\\x80-\\x9E]|[\\xC4-\\xC7][\\x80-\\xBF]|\\xCE[\\x86-\\xAB]|\\xD0[\\x80-\\xAF])"
#define LT "(?:[A-Za-z'.&-]|[\\xC3-\\xC9][\\x80-\\xBF]|[\\xCE-\\xD3][\\x80-\\xBF]|\\xE1[\\xB8-\\xBB][\\x80-\\xBF])"
#define CAPW UP LT "*+"
#define WB "(?<![A-Za-z0-9_@.\\x80-\\xBF-])"  /* not inside a word, an address or a number */

/* A context rule's Hyperscan expression is the phrase; PCRE2 goes on to the capital after it
 * (post: \K then one capital) and the validator takes the whole name. */
static const guard_rule ctx_rules[] = {
  {.type = "PERSON", .name = "person_title", .re = "\\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madam|Mister|Rev)\\.?[ \\t]+",
   .post = "\\K" UP, .max_len = 100, .score = 0.85, .validate = v_ctx_name},
  {.type = "PERSON", .name = "person_intro", .re = "\\b(?:my name is|my name's|name is|names? ?:|full name ?:|named|signed"
   "|sincerely,?|regards,?|attn\\.? ?:?|attention ?:|contact person ?:|patient ?:|customer ?:|(?:last|first|maiden|family) name"
   "(?: is)?\\??:?|surname(?: is)?:?|(?:written|directed|performed|sung|produced|composed|painted|founded) by)\\s+",
   .post = "\\K(?-i)" UP, .flags = GUARD_RE_CASELESS, .max_len = 100, .score = 0.85, .validate = v_ctx_name},
  /* two capitalised words (the second may follow an initial): Hyperscan stops at the second
   * capital, the validator looks the first word up among all first names and takes the rest */
  {.type = "PERSON", .name = "person_pair", .pre = WB, .re = UP LT "++[ \\t]+(?:" UP "\\.?[ \\t]+)?" UP, .max_len = 48,
   .score = 0.6, .validate = v_pair},
  {.type = "PERSON", .name = "person_greeting", .re = "\\b(?:hi|hello|hey|dear|i'm|i am|says|said|told|asked|married|"
   "meet|met|thanks,?)[ \\t]+", .post = "\\K(?-i)" UP, .flags = GUARD_RE_CASELESS, .max_len = 100, .score = 0.45,
   .validate = v_ctx_name},
  {.type = "LOCATION", .name = "location_context",
   .re = "\\b(?:lives? in|living in|born in|moved to|moving to|based in|located in|grew up in|relocated to|originally from|"
   "travel(?:l?ing)? to|flew to|flying to|arrived in|resident of|native of|city of|town of|trip to|headquartered in|"
   "near|(?:moved|came|coming|relocated) (?:here )?from|(?:i'm|i am|we're|we are) in|visiting|visit to|returned to)[ \\t]+", .post = "\\K(?-i)" UP, .flags = GUARD_RE_CASELESS, .max_len = 100, .score = 0.6, .validate = v_ctx_place},
  {.type = "NRP", .name = "nrp", .pre = "(?<![A-Za-z])", .re = "(?:" NRP_WORDS ")", .post = "s?(?![A-Za-z0-9])",
   .max_len = 24, .score = 0.35, .validate = v_nrp},
  /* organisations: the suffix is what Hyperscan looks for; the capitalised words before it
   * are matched by PCRE2 only (a consuming `pre`: the window reaches max_len back) */
  {.type = "ORGANIZATION", .name = "org_legal", .pre = WB "(?:" CAPW "[ \\t]+(?:(?:&|and|of)[ \\t]+)?){0,3}" CAPW,
   .re = "[ \\t]+(?:Inc|LLC|L\\.L\\.C|Ltd|Corp|GmbH|AG|S\\.A|SE|plc|PLC|Limited|LLP|Co)\\b\\.?", .post = "(?![A-Za-z0-9])",
   .max_len = 120, .score = 0.6, .validate = v_org},
  {.type = "ORGANIZATION", .name = "org_suffix", .pre = WB "(?:" CAPW "[ \\t]+){0,2}" CAPW,
   .re = "[ \\t]+(?:Group|Holdings|Technologies|Software|Systems|Bank|Foundation|Institute|Partners|Associates|Capital|"
   "Consulting|Labs|Industries|Enterprises|Ventures)\\b", .max_len = 120, .score = 0.35, .validate = v_org},
};

/* person_pair's search form: the last byte of the first word (a letter of LT or a UTF-8
 * continuation byte), the blanks, the first byte or two of the next capital (UP); it ends inside
 * every match, at most max_len after its start.  The rule's own expression has a possessive run
 * that Hyperscan can only prefilter, as a large automaton awake at every capital. */
static const char pair_form[] = "[A-Za-z'.&\\x80-\\xBF-][ \\t]+" UP;

static bool pair_up_at(const char *t, size_t len, size_t i) {
  unsigned char c = (unsigned char)t[i], d = i + 1 < len ? (unsigned char)t[i + 1] : 0;
  return (c >= 'A' && c <= 'Z') || (c == 0xC3 && d >= 0x80 && d <= 0x9E) ||
         (c >= 0xC4 && c <= 0xC7 && d >= 0x80 && d <= 0xBF) || (c == 0xCE && d >= 0x86 && d <= 0xAB) ||
         (c == 0xD0 && d >= 0x80 && d <= 0xAF);
}

/* The walk's byte classes, one lookup per byte: LT; "no boundary after it" (WB's class,
 * [A-Za-z0-9_@.\x80-\xBF-]); a byte UP can start with (pair_up_at then decides). */
enum { PB_LT = 1, PB_NOWB = 2, PB_UP1 = 4 };
#define PB_ALPHA(c) ((unsigned)(((c) | 0x20) - 'a') < 26u)
#define PB_CLASS(c)                                                                                             \
  ((PB_ALPHA(c) || (c) == '\'' || (c) == '.' || (c) == '&' || (c) == '-' || (c) >= 0x80 ? PB_LT : 0) |           \
   (PB_ALPHA(c) || ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '@' || (c) == '.' || (c) == '-' ||           \
            ((c) >= 0x80 && (c) <= 0xBF)                                                                        \
        ? PB_NOWB                                                                                               \
        : 0) |                                                                                                  \
   (((c) >= 'A' && (c) <= 'Z') || ((c) >= 0xC3 && (c) <= 0xC7) || (c) == 0xCE || (c) == 0xD0 ? PB_UP1 : 0))
static const unsigned char pb_class[256] = GUARD_BYTE_TABLE(PB_CLASS);

/* pair_form's pre-check (guard_scanner_hs_check), which answers for findings: most pair_form
 * matches in prose follow a lowercase word ("to Rome") or a word v_pair refuses ("The", "In",
 * "Our"), so a window opens only where v_pair accepts a start.
 * A match whose first blank run is the one before the form's capital starts in the word before
 * that run (LT++ takes the whole word), at a capital after a word boundary (WB) with at least
 * one more byte of the word after it, within max_len of the end; a match whose first run is
 * another one, as "John" in "John F. Kennedy" for the end at "K", has its own window, the end
 * at "F".  v_pair reads nothing of the match but its start, so it is asked about each such
 * start, leftmost first, and the window starts at the first it accepts: PCRE2 then starts at the
 * word instead of searching up to 48 bytes for it (ab505ef: PCRE2 per 4 KiB check, MT-Bench's
 * questions 27k -> 22k instructions, the Presidio texts 157k -> 122k), and is not called at all
 * for a refused word, nor v_pair after it.  Findings are unchanged (test_guard_pii_prechecks
 * compares them with and without the check). */
static bool pair_may_match(const char *t, size_t len, size_t end, size_t *start) {
  size_t i = end - 1;  /* the capital the form ends with: one byte, or a lead and one more */
  if ((unsigned char)t[i] >= 0x80 && i > 0) i--;
  if (!i || (t[i - 1] != ' ' && t[i - 1] != '\t')) return true;  /* not the shape expected: look */
  while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t')) i--;
  size_t lo = end > 48 ? end - 48 : 0;  /* max_len: the window looks no further back */
  size_t starts[8], n = 0, first = SIZE_MAX;  /* the word's possible starts, rightmost first */
  for (size_t k = i; k-- > lo;) {
    unsigned cl = pb_class[(unsigned char)t[k]];
    if (!(cl & PB_LT)) break;
    if ((cl & PB_UP1) && k + 2 <= i && pair_up_at(t, len, k) && !(k && pb_class[(unsigned char)t[k - 1]] & PB_NOWB)) {
      if (n < sizeof starts / sizeof starts[0]) starts[n++] = k;
      first = k;
    }
  }
  if (first == SIZE_MAX) return false;
  if (first != starts[n - 1]) {  /* a word of more parts than kept: let PCRE2 look from the first */
    if (first > *start) *start = first;
    return true;
  }
  while (n--) {
    size_t e = end;
    double score = 0;
    if (!v_pair(t, len, starts[n], &e, &score)) continue;
    if (starts[n] > *start) *start = starts[n];
    return true;
  }
  return false;
}

/* The phrase rules' pre-check (person_title, person_intro, person_greeting, location_context):
 * their form is the phrase and one blank, and a match goes on with more blanks (\s or [ \t])
 * and then the capital (UP) its post asks for, so a window is needed only where one follows.
 * In chat text most phrases lead to a lowercase word ("Hi, I'm writing", "hello there"), and
 * PCRE2 was called for each to find that.  Pattern-exact: test_guard_pii_forms and
 * fuzz_guard_prechecks hold it. */
static bool ctx_cap_may_match(const char *t, size_t len, size_t end, size_t *start) {
  (void)start;
  size_t i = end;  /* person_intro's blanks are \s+, the others' [ \t]+ */
  while (i < len && (t[i] == ' ' || (t[i] >= '\t' && t[i] <= '\r'))) i++;
  return i < len && pair_up_at(t, len, i);
}

static const gaz_param gaz_params[G_N] = {{G_COMMON}, {G_FIRST}, {G_FIRST_AMB}, {G_SURNAME}, {G_COUNTRY}, {G_STATE}, {G_CITY},
                                          {G_CITY_AMB}};

/* person_first_name's pre-check, the validator's first test before PCRE2: the source reports
 * every end of a list entry, inside longer words too ("Christian" in "Christiansen", "Jens" in
 * "Jensen", "Ava" in "Avalara"), and v_first_name then refused the word PCRE2 took from its
 * capital, after two PCRE2 calls (the match, then a search for another start).  PCRE2's starts
 * in the window are its capitals at a word start (UP after WB); v_first_name accepts one only if
 * the whole word from there, as ner_word_end ends it, is in the list.  So the window opens at
 * the first such start whose word is, and for no other: the hits are the same
 * (test_guard_pii_prechecks). */
static bool first_may_match(const char *t, size_t len, size_t end, size_t *start) {
  for (size_t k = *start; k < end; k++) {
    if (!(pb_class[(unsigned char)t[k]] & PB_UP1) || !pair_up_at(t, len, k) ||
        (k && pb_class[(unsigned char)t[k - 1]] & PB_NOWB))
      continue;
    if (!gaz_has(G_COMMON, t, k, ner_word_end(t, len, k))) continue;
    if (k > *start) *start = k;
    return true;
  }
  return false;
}

static void add_gaz(guard_scanner *s, int list, const char *type, const char *name, kl_guard_type t, bool person) {
  const gaz_list *g = &g_lists[list];
  for (size_t i = 0; i < g->nchunks; i++) {
    guard_rule r = {.type = type, .name = name, .re = person ? CAPW : CAPW "(?:[ \\t]" CAPW "){0,3}", .pre = WB,
                    .max_len = 96, .score = 0.5, .validate_rule = person ? v_first_name : v_place,
                    .context = guard_context_words(t), .data = &gaz_params[list],
                    .find = person ? guard_find_capw : guard_find_capw_run};
    guard_rule *added = guard_scanner_add_rule(s, &r);
    /* the chunk is the rule's search form; the window source finds its ends (pii_ner_gaz.c) */
    guard_scanner_hs_hint(s, added, g->chunks[i], g->lead[i]);
    guard_scanner_hs_source(s, added, &ner_gaz_source, g_slot_base[list] + (unsigned)i);
    if (person && list == G_COMMON) guard_scanner_hs_check(s, added, first_may_match);
  }
}

void guard_pii_ner_add(guard_scanner *s, unsigned types) {
  pthread_once(&g_once, gaz_load);
  if (types & (1u << KL_GUARD_PERSON)) {
    add_gaz(s, G_COMMON, "PERSON", "person_first_name", KL_GUARD_PERSON, true);
  }
  if (types & (1u << KL_GUARD_LOCATION)) {
    add_gaz(s, G_COUNTRY, "LOCATION", "location_country", KL_GUARD_LOCATION, false);
    add_gaz(s, G_STATE, "LOCATION", "location_us_state", KL_GUARD_LOCATION, false);
    add_gaz(s, G_CITY, "LOCATION", "location_city", KL_GUARD_LOCATION, false);
    add_gaz(s, G_CITY_AMB, "LOCATION", "location_city_word", KL_GUARD_LOCATION, false);
  }
  static const kl_guard_type ctx_types[] = {KL_GUARD_PERSON, KL_GUARD_PERSON, KL_GUARD_PERSON, KL_GUARD_PERSON, KL_GUARD_LOCATION,
                                            KL_GUARD_NRP, KL_GUARD_ORGANIZATION, KL_GUARD_ORGANIZATION};
  for (size_t i = 0; i < sizeof ctx_rules / sizeof *ctx_rules; i++) {
    if (!(types & (1u << ctx_types[i]))) continue;
    guard_rule *r = guard_scanner_add_rule(s, &ctx_rules[i]);
    r->context = guard_context_words(ctx_types[i]);
    /* Hyperscan looks for the phrase without its \b and with one blank (guard_re_search_form);
     * person_pair for the blank between its two words (pair_form).  person_greeting: the phrase
     * and one blank ("married ", "thanks, ") end at most 8 bytes after the match starts */
    const char *form = !strcmp(r->name, "person_pair") ? pair_form : guard_re_search_form(s, r->re);
    /* the phrase rules start where their form starts: the lead is the longest phrase and its blank */
    unsigned lead = !strcmp(r->name, "person_greeting")            ? 8
                    : form && !r->pre && form != pair_form ? GUARD_LEAD_PREFIX
                                                           : 0;
    if (form || lead) guard_scanner_hs_hint(s, r, form, lead);
    if (!strcmp(r->name, "person_title") || !strcmp(r->name, "person_intro") || !strcmp(r->name, "person_greeting") ||
        !strcmp(r->name, "location_context"))
      guard_scanner_hs_check(s, r, ctx_cap_may_match);
    if (!strcmp(r->name, "nrp")) {
      guard_scanner_hs_hint(s, r, r->re, 0);  /* the alternation, found by the trie (add_nrp_words) */
      guard_scanner_hs_source(s, r, &ner_gaz_source, g_nrp_slot);
    }
    if (form == pair_form) {
      guard_scanner_hs_check(s, r, pair_may_match);
      guard_pii_shapes_take(s, r);  /* pair_form is found without Hyperscan */
    }
  }
  guard_pii_ner_add_addr(s, types);
}
