/* pii.c: the `pii` scanner kind: one table of rules (Presidio's entity names) and their validators.
 *
 * Expressions are deliberately loose and ASCII-only; precision comes from the validators
 * (checksums, digit counts, invalidation rules), which are cheap because they only ever see
 * candidates.  Scores follow Presidio's spirit: checksum-validated types score high, shapes
 * that plain numbers can take (phones, bare SSNs) score low and rely on context words. */
#include "guard/guard_int.h"
#include "guard/pii_ner.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/sha.h>
#include <string.h>

static size_t count_digits(const char *s, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; i++) d += guard_is_digit((unsigned char)s[i]) != 0;
  return d;
}

/* ---- email ---- */
static bool v_email(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  const char *at = memchr(t + s, '@', *e - s);
  if (!at || at == t + s || at[-1] == '.' || t[s] == '.') return false;
  for (const char *p = t + s; p + 1 < t + *e; p++)
    if (p[0] == '.' && p[1] == '.') return false;
  return true;
}

/* ---- phone numbers ---- */
/* A phone has 7..15 digits (E.164), not counting an extension. */
static size_t phone_digits(const char *t, size_t s, size_t e) {
  size_t d = 0;
  for (size_t i = s; i < e; i++) {
    if (t[i] == 'x' || t[i] == 'X' || t[i] == 'e') break;
    d += guard_is_digit((unsigned char)t[i]) != 0;
  }
  return d;
}

static bool v_phone_intl(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t d = phone_digits(t, s, *e);
  return d >= 8 && d <= 16;
}

static bool v_phone_us(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t d = phone_digits(t, s, *e);
  return d >= 10 && d <= 12;
}

static bool is_year(unsigned v) { return v >= 1900 && v <= 2099; }

/* Generic national groups (UK, DE, FR, IN, ...): 7..13 digits, not a date, an IPv4 or a
 * run of years; a single kind of separator. */
static bool v_phone_groups(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  unsigned g[8], ng = 0, glen[8];
  char sep = 0;
  bool mixed = false, paren = false;
  for (size_t i = s; i < *e && ng < 8;) {
    if (t[i] == '(' || t[i] == ')') {
      paren = true;
      if (t[i++] == ')' && i < *e && !guard_is_digit((unsigned char)t[i])) i++;  /* "(37) 788-063" */
      continue;
    }
    if (guard_is_digit((unsigned char)t[i])) {
      unsigned v = 0, l = 0;
      while (i < *e && guard_is_digit((unsigned char)t[i])) { v = v * 10 + (unsigned)(t[i] - '0'); l++; i++; }
      g[ng] = v; glen[ng++] = l;
      continue;
    }
    if (sep && t[i] != sep && !(paren && t[i] == ' ')) mixed = true;
    if (!sep) sep = t[i];
    i++;
  }
  size_t d = count_digits(t + s, *e - s);
  if (d < 7 || d > 13 || ng < 2) return false;
  if (mixed && !paren) return false;
  if (ng == 3 && glen[2] == 4 && is_year(g[2]) && g[0] <= 31 && g[1] <= 31) return false;
  if (ng == 3 && glen[0] == 4 && is_year(g[0]) && g[1] <= 31 && g[2] <= 31) return false;
  if (ng == 4 && sep == '.' && glen[0] <= 3 && glen[1] <= 3 && glen[2] <= 3 && glen[3] <= 3) return false;
  bool years = true;
  for (unsigned i = 0; i < ng; i++) years = years && glen[i] == 4 && is_year(g[i]);
  if (years) return false;
  if (ng == 3 && glen[0] == 3 && glen[1] == 2 && glen[2] == 4 && sep == '-') return false;  /* SSN shape */
  /* two bare groups without a trunk 0 ("3536 1659") are as often house numbers: weak alone */
  if (ng == 2 && !paren && t[s] != '0') *score = 0.2;
  return true;
}

/* ---- credit cards ---- */
static bool luhn(const char *digits, size_t n) {
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned v = (unsigned)(digits[n - 1 - i] - '0');
    if (i & 1) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
  }
  return sum % 10 == 0;
}

/* Issuer prefix and length must agree (an 18-digit number starting 37 is no Amex card): the
 * networks' published ranges.  The lengths the first six digits allow, bit n for n digits. */
#define CARD_LEN(a, b) ((((1u << ((b) + 1)) - 1) >> (a)) << (a)) /* bits a..b */
static unsigned card_lengths(const char *d) {
  int p2 = (d[0] - '0') * 10 + (d[1] - '0');
  int p3 = p2 * 10 + (d[2] - '0');
  int p4 = p3 * 10 + (d[3] - '0');
  int p6 = p4 * 100 + (d[4] - '0') * 10 + (d[5] - '0');
  if (d[0] == '4') return 1u << 13 | 1u << 16 | 1u << 19;                                 /* Visa */
  if (p2 == 34 || p2 == 37) return 1u << 15;                                              /* Amex */
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return 1u << 16;             /* Mastercard */
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
    return CARD_LEN(16, 19);                                                              /* Discover */
  /* JCB's assigned range is 3528-3589; the rest of 35 is unassigned but issued by generators
   * and test suites (Presidio's synthetic set), and Luhn still has to hold */
  if (p2 == 35) return CARD_LEN(16, 19);                                                  /* JCB */
  if (p4 == 2131 || p4 == 1800) return 1u << 15;                                          /* old JCB */
  if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305)) return CARD_LEN(14, 19); /* Diners */
  if (p2 == 62) return CARD_LEN(16, 19);                                                  /* UnionPay */
  if (p2 == 50 || (p2 >= 56 && p2 <= 69) || p4 == 604) return CARD_LEN(12, 19);          /* Maestro (incl. 0604) */
  return 0;
}

static bool card_iin(const char *d, size_t n) { return n >= 12 && n <= 19 && card_lengths(d) >> n & 1; }

static bool v_card(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  char d[24];
  size_t n = 0;
  char sep = 0;
  for (size_t i = s; i < *e; i++) {
    if (guard_is_digit((unsigned char)t[i])) { if (n == sizeof d) return false; d[n++] = t[i]; continue; }
    if (sep && t[i] != sep) return false;
    sep = t[i];
  }
  return n >= 12 && n <= 19 && card_iin(d, n) && luhn(d, n);
}

/* ---- IBAN ---- */
static const struct { char cc[3]; unsigned char len; } iban_len[] = {
  {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
  {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
  {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
  {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
  {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
  {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24},
  {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
  {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31},
  {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
  {"VA", 22}, {"VG", 24}, {"XK", 20},
};

/* Takes exactly the country's length of characters (spaces between groups allowed), so a
 * word after the code is never swallowed, then checks mod-97 == 1. */
static bool v_iban(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)score;
  char cc[3] = {(char)toupper((unsigned char)t[s]), (char)toupper((unsigned char)t[s + 1]), 0};
  unsigned want = 0;
  for (size_t i = 0; i < sizeof iban_len / sizeof iban_len[0]; i++)
    if (!memcmp(iban_len[i].cc, cc, 2)) want = iban_len[i].len;
  if (!want) return false;
  char c[40];
  unsigned n = 0;
  size_t i = s;
  while (i < len && n < want) {
    if (guard_is_alnum((unsigned char)t[i])) c[n++] = (char)toupper((unsigned char)t[i]);
    else if (t[i] != ' ' || n < 4) return false;
    i++;
  }
  if (n != want || (i < len && guard_is_alnum((unsigned char)t[i]))) return false;
  unsigned rem = 0;
  for (unsigned k = 0; k < n; k++) {
    char ch = c[(k + 4) % n];
    if (guard_is_digit((unsigned char)ch)) rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
    else rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
  }
  if (rem != 1) return false;
  *e = i;
  return true;
}

/* ---- US SSN (Presidio's invalidation rules) ---- */
static bool v_ssn(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len;
  char d[9], seps[2] = {0, 0};
  size_t n = 0, ns = 0;
  for (size_t i = s; i < *e; i++) {
    if (guard_is_digit((unsigned char)t[i])) { if (n == 9) return false; d[n++] = t[i]; }
    else if (ns < 2) seps[ns++] = t[i];
    else return false;
  }
  if (n != 9 || (ns == 1) || (ns == 2 && seps[0] != seps[1])) return false;
  bool same = true;
  for (int i = 1; i < 9; i++) same = same && d[i] == d[0];
  if (same) return false;
  if (!memcmp(d, "000", 3) || !memcmp(d, "666", 3) || d[0] == '9') return false;
  if (!memcmp(d + 3, "00", 2) || !memcmp(d + 5, "0000", 4)) return false;
  if (ns == 0) *score = 0.25;  /* any 9-digit number: needs context */
  return true;
}

/* ---- IP and MAC addresses ---- */
static bool v_inet(int af, const char *t, size_t s, size_t e) {
  char buf[64];
  unsigned char out[16];
  if (e - s >= sizeof buf) return false;
  memcpy(buf, t + s, e - s);
  buf[e - s] = 0;
  return inet_pton(af, buf, out) == 1;
}
static bool v_ipv4(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  return v_inet(AF_INET, t, s, *e);
}
static bool v_ipv6(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  return v_inet(AF_INET6, t, s, *e);
}

static bool v_mac(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len;
  char sep = 0;
  bool alpha = false;
  for (size_t i = s; i < *e; i++) {
    if (isxdigit((unsigned char)t[i])) { alpha = alpha || isalpha((unsigned char)t[i]); continue; }
    if (sep && t[i] != sep) return false;
    sep = t[i];
  }
  if (!alpha) *score = 0.4;
  return true;
}

/* ---- crypto wallets ---- */
static bool v_base58check(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  static const char alpha[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  unsigned char b[25] = {0};
  for (size_t i = s; i < *e; i++) {
    const char *p = strchr(alpha, t[i]);
    if (!p || !t[i]) return false;
    unsigned carry = (unsigned)(p - alpha);
    for (int k = 24; k >= 0; k--) {
      carry += 58u * b[k];
      b[k] = (unsigned char)carry;
      carry >>= 8;
    }
    if (carry) return false;
  }
  if (b[0] != 0x00 && b[0] != 0x05) return false;
  unsigned char h1[32], h2[32];
  SHA256(b, 21, h1);
  SHA256(h1, 32, h2);
  return !memcmp(h2, b + 21, 4);
}

static uint32_t bech32_polymod(const unsigned char *v, size_t n) {
  static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (size_t i = 0; i < n; i++) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v[i];
    for (int k = 0; k < 5; k++)
      if ((top >> k) & 1) chk ^= gen[k];
  }
  return chk;
}

static bool v_bech32(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  static const char cs[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  unsigned char v[100];
  size_t n = *e - s;
  if (n < 14 || n > 90) return false;
  bool lower = false, upper = false;
  v[0] = 3; v[1] = 3; v[2] = 0; v[3] = 2; v[4] = 3;  /* hrp "bc" expanded */
  size_t k = 5;
  for (size_t i = s + 3; i < *e; i++) {
    char c = t[i];
    lower = lower || (c >= 'a' && c <= 'z');
    upper = upper || (c >= 'A' && c <= 'Z');
    const char *p = strchr(cs, tolower((unsigned char)c));
    if (!p || !c) return false;
    v[k++] = (unsigned char)(p - cs);
  }
  if (lower && upper) return false;
  uint32_t pm = bech32_polymod(v, k);
  return pm == 1 || pm == 0x2bc830a3;  /* bech32 (v0) or bech32m (v1+) */
}

/* ---- the table ---- */
#define EXT "(?:\\s?(?:x|ext\\.?)\\s?\\d{1,5})?"
const guard_pii_rule guard_pii_rules[] = {
  {KL_GUARD_EMAIL_ADDRESS, {"EMAIL_ADDRESS", "email", "[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\\.){1,8}[A-Za-z]{2,24}",
   "(?<![A-Za-z0-9._%+-])", "(?![A-Za-z0-9-]|\\.[A-Za-z0-9])", 0, 640, 1.0, v_email, NULL, NULL, NULL,
   guard_find_email}},
  {KL_GUARD_PHONE_NUMBER, {"PHONE_NUMBER", "phone_intl", "\\+[1-9]\\d{0,2}(?:[ .-]?\\(0?\\d{1,4}\\))?(?:[ .-]?\\d{1,5}){1,6}" EXT,
   "(?<![\\w+])", "(?![\\w-]|[.]\\d)", 0, 80, 0.7, v_phone_intl, NULL, NULL, NULL, guard_find_phone_intl}},
  {KL_GUARD_PHONE_NUMBER, {"PHONE_NUMBER", "phone_us", "(?:(?:\\+?1|001)[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}" EXT,
   "(?<![\\w.+-])", "(?![\\w]|-\\d|[.]\\d)", 0, 60, 0.6, v_phone_us, NULL, NULL, NULL, NULL}},
  {KL_GUARD_PHONE_NUMBER, {"PHONE_NUMBER", "phone_national", "\\(?\\d{2,5}\\)?(?:[ .-]\\d{2,8}){1,5}",
   "(?<![\\w.,+/:-])(?<!\\d[ .-])", "(?![\\w/:]|-\\d|[.,]\\d)", 0, 60, 0.4, v_phone_groups, NULL, NULL, NULL, NULL}},
  {KL_GUARD_CREDIT_CARD, {"CREDIT_CARD", "credit_card", "\\d(?:[ -]?\\d){11,18}", "(?<![\\w.-])", "(?![\\w-]|\\.\\d)", 0, 40, 1.0, v_card, NULL, NULL, NULL,
   guard_find_credit_card}},
  {KL_GUARD_IBAN_CODE, {"IBAN_CODE", "iban", "[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{1,4}){3,8}", "(?<![A-Za-z0-9])", "", GUARD_RE_CASELESS, 48, 1.0, v_iban, NULL, NULL, NULL, NULL}},
  {KL_GUARD_US_SSN, {"US_SSN", "us_ssn", "\\d{3}([- .]?)\\d{2}[- .]?\\d{4}", "(?<![\\w.+-])", "(?![\\w-]|[.]\\d)", 0, 12, 0.5, v_ssn, NULL, NULL, NULL,
   guard_find_us_ssn}},
  {KL_GUARD_IP_ADDRESS, {"IP_ADDRESS", "ipv4", "(?:\\d{1,3}\\.){3}\\d{1,3}", "(?<![\\w.])", "(?![\\w]|\\.\\d)", 0, 16, 0.6, v_ipv4, NULL, NULL, NULL,
                          guard_find_ipv4}},
  {KL_GUARD_IP_ADDRESS, {"IP_ADDRESS", "ipv6", "(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}", "(?<![\\w:])", "(?![\\w:])", 0, 40, 0.6, v_ipv6, NULL, NULL, NULL, NULL}},
  {KL_GUARD_MAC_ADDRESS, {"MAC_ADDRESS", "mac",
   "[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}", "(?<![\\w:.-])",
   "(?![\\w:-]|\\.\\w)", 0, 17, 0.7, v_mac, NULL, NULL, NULL, NULL}},
  {KL_GUARD_CRYPTO, {"CRYPTO", "btc_base58", "[13][1-9A-HJ-NP-Za-km-z]{25,34}", "(?<![A-Za-z0-9])", "(?![A-Za-z0-9])", 0, 35, 1.0, v_base58check, NULL, NULL, NULL, NULL}},
  {KL_GUARD_CRYPTO, {"CRYPTO", "btc_bech32", "bc1[ac-hj-np-z02-9]{11,87}", "(?<![A-Za-z0-9])", "(?![A-Za-z0-9])", GUARD_RE_CASELESS, 90, 1.0, v_bech32, NULL, NULL, NULL, NULL}},
  {KL_GUARD_CRYPTO, {"CRYPTO", "eth", "0x[0-9a-fA-F]{40}", "(?<![A-Za-z0-9])", "(?![A-Za-z0-9])", 0, 42, 0.6, NULL, NULL, NULL, NULL, NULL}},
};
const size_t guard_pii_nrules = sizeof guard_pii_rules / sizeof guard_pii_rules[0];

static const char *const type_names[KL_GUARD_NTYPES] = {
  "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "MAC_ADDRESS", "CRYPTO",
  "PERSON", "LOCATION", "STREET_ADDRESS", "DATE_TIME", "NRP", "ORGANIZATION",
};

const char *kl_guard_type_name(kl_guard_type t) { return (unsigned)t < KL_GUARD_NTYPES ? type_names[t] : "UNKNOWN"; }

const char *const *guard_context_words(kl_guard_type t) {
  static const char *const w[KL_GUARD_NTYPES][10] = {
    [KL_GUARD_EMAIL_ADDRESS] = {"email", "e-mail", "mail", "contact", NULL},
    [KL_GUARD_PHONE_NUMBER] = {"phone", "tel", "cell", "mobile", "call", "fax", "number", NULL},
    [KL_GUARD_CREDIT_CARD] = {"card", "credit", "debit", "visa", "mastercard", "amex", "payment", NULL},
    [KL_GUARD_IBAN_CODE] = {"iban", "bank", "account", "transfer", NULL},
    [KL_GUARD_US_SSN] = {"ssn", "social security", "social", NULL},
    [KL_GUARD_IP_ADDRESS] = {"ip", "address", "server", "host", NULL},
    [KL_GUARD_MAC_ADDRESS] = {"mac", "hardware", "ethernet", "device", NULL},
    [KL_GUARD_CRYPTO] = {"wallet", "bitcoin", "btc", "eth", "crypto", "address", NULL},
    [KL_GUARD_PERSON] = {"name", "mr", "mrs", "ms", "dr", "dear", "hi", "hello", "signed", NULL},
    [KL_GUARD_LOCATION] = {"lives", "live", "living", "born", "city", "from", "moved", "located", "based", NULL},
    [KL_GUARD_STREET_ADDRESS] = {"address", "street", "lives", "live", "ship", "deliver", "mail", "located", NULL},
    [KL_GUARD_DATE_TIME] = {"date", "born", "birthday", "dob", "appointment", "meeting", "scheduled", "time", "when"},
    [KL_GUARD_NRP] = {"nationality", "citizen", "religion", "ethnicity", "heritage", "descent", NULL},
    [KL_GUARD_ORGANIZATION] = {"company", "employer", "works", "work", "organisation", "organization", NULL},
  };
  return w[t];
}

/* ---- speed hints (guard_scanner_hs_hint) ----
 * Hyperscan runs these instead of the rules' expressions: each is a short piece every match of
 * its rule contains, so the windows PCRE2 confirms shrink to `lead` bytes and the Hyperscan
 * pass gets cheaper.  A leading (?:^|[^...]) consumes the character the rule's lookbehind
 * forbids: the automaton then only wakes at token starts instead of at every letter.  Each
 * lead is the longest distance from a match's start to the end of the piece inside it. */
static const struct { const char *rule, *re; unsigned lead; } pii_hints[] = {
  /* the last local-part byte, '@', the first domain byte: the local part is <= 64 bytes */
  {"email", "[A-Za-z0-9._%+-]@[A-Za-z0-9-]", 66},
  /* '+', the country code's first digit, then a digit, '(' or a separator */
  {"phone_intl", "\\+[1-9][ .(\\d-]", 3},
  /* two colons of the first groups, at most 4 hex digits apart */
  {"ipv6", ":[0-9A-Fa-f]{0,4}:", 10},
  /* an address at a token start, and just enough of what follows */
  {"btc_base58", "(?:^|[^A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25}", 26},
  /* the digit rules (phone_us, phone_national, credit_card, iban, us_ssn, ipv4, mac) take
   * their forms and leads from pii_digits.c, whose pass finds them instead of Hyperscan */
};

/* email's pre-check (guard_scanner_hs_check): the form ends one byte after the '@', and a match
 * of the rule starts exactly where the run of local-part bytes before that '@' starts (the
 * lookbehind forbids a start after a local-part byte), so the window shrinks from 66 starts to
 * that one, and a run longer than 64 bytes holds no match at all. */
static bool is_local(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26 || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '%' ||
         c == '+' || c == '-';
}

static bool email_may_match(const char *t, size_t len, size_t end, size_t *start) {
  (void)len;
  size_t at = end - 2, k = at;
  while (k > 0 && is_local((unsigned char)t[k - 1]) && at - k <= 64) k--;
  if (at - k > 64 || k == at) return false;
  if (k > *start) *start = k;
  return true;
}

/* ipv6's pre-check: a window whose every candidate v_ipv6 rejects yields no finding, and
 * skipping it changes nothing else (a rejected candidate only moves the scan one byte on), so
 * the check may answer for valid addresses rather than matches.  A match holding the form
 * ending at `end` starts at most 10 bytes before it, is at most 40 long and consists of hex
 * digits and colons (no dotted IPv4 tail: the expression has no '.'), and inet_pton accepts
 * such a text only with a "::" or with 8 groups (7 colons).  So when the run of hex digits and
 * colons around the form holds neither within that reach, no window is opened ("12:30:45"). */
static bool is_hex_colon(unsigned char c) {
  return (c >= '0' && c <= '9') || (unsigned char)((c | 0x20) - 'a') < 6 || c == ':';
}

static bool ipv6_may_match(const char *t, size_t len, size_t end, size_t *start) {
  size_t lo = end > 10 ? end - 10 : 0, hi = end + 40 < len ? end + 40 : len, i = end - 1, colons = 0;
  while (i > lo && is_hex_colon((unsigned char)t[i - 1])) i--;
  for (; i < hi && is_hex_colon((unsigned char)t[i]); i++) {
    if (t[i] != ':') continue;
    if (++colons >= 7 || (i + 1 < hi && t[i + 1] == ':')) return true;
  }
  (void)start;
  return false;
}

/* credit_card's pre-check (guard_scanner_hs_check), the validator's test moved before PCRE2:
 * a window opens only if one of its possible starts (a digit not after [\w.-], the rule's
 * lookbehind) begins 12 to 19 digits, single ' ' or '-' between them as the rule allows, whose
 * issuer prefix fits that length and whose Luhn sum holds (v_card asks that and more of the
 * one match PCRE2 takes there, which is one of these prefixes).  Phone numbers and order
 * numbers of 12+ digits were two PCRE2 calls a number, ~1k instructions each: on the rails
 * bench's 4 KiB prompt, 36 calls and 35k of its 114k in PCRE2.  Findings are unchanged
 * (test_guard_pii_prechecks compares them with and without the pre-check). */

static bool card_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  /* Every match holds the form's ends of its own run of digits (single ' ' or '-' between
   * them), so only starts on the run that ends at `end` need a look: back to the window's
   * start, then forwards, up to 19 digits from each start */
  size_t a = end - 1;
  while (a >= *start + 1 && guard_is_digit(u[a - 1])) a--;
  while (a >= *start + 2 && (u[a - 1] == ' ' || u[a - 1] == '-') && guard_is_digit(u[a - 2])) {
    a -= 2;
    while (a >= *start + 1 && guard_is_digit(u[a - 1])) a--;
  }
  char d[64];
  size_t pos[64], n = 0;  /* the run's digits from a on, and where each is */
  for (size_t i = a; n < sizeof d;) {
    pos[n] = i;
    d[n++] = (char)u[i];
    if (i + 1 < len && guard_is_digit(u[i + 1])) i++;
    else if (i + 2 < len && (u[i + 1] == ' ' || u[i + 1] == '-') && guard_is_digit(u[i + 2])) i += 2;
    else break;
  }
  for (size_t k = 0; k + 12 <= n && pos[k] < end; k++) {
    size_t p = pos[k];
    if (p > 0) {  /* the rule's lookbehind: not after [\w.-] */
      unsigned char c = u[p - 1];
      if (guard_is_alnum(c) || c == '_' || c == '.' || c == '-') continue;
    }
    size_t m = n - k < 19 ? n - k : 19;
    /* the lengths this prefix's issuer allows, up to the digits there are */
    for (unsigned l = card_lengths(d + k) & ((2u << m) - 1); l; l &= l - 1)
      if (luhn(d + k, (size_t)__builtin_ctz(l))) return true;
  }
  return false;
}

/* phone_national's pre-check, the validator moved before PCRE2 as for credit_card: a window
 * opens only if a start it is reported for begins a candidate v_phone_groups accepts.  On
 * digit-dense text most windows hold a date, a version, an IPv4 or a short reference
 * ("2024-03-18", "10.20.30.40", "1183-22"), each two PCRE2 calls (the match, then a search that
 * finds no other start) and a validator call; bench_guard's sample made 49 of them per 4 KiB,
 * all rejected.
 *
 * Which starts: the form "\(?\d{2,5}\)?[ .-]\d{2}" ends two digits after the separator that
 * follows the first group, so a match starting at s holds exactly one reported end that its own
 * first group leads to; a window is needed only for the starts whose end this is (every other
 * start has its own end).  Those are the run of digits before `end`'s separator (and ')'), or
 * the '(' before it.  A start must be a whole run (the lookbehind refuses one after a digit) of
 * 2 to 5 digits, not after [\w.,+/:-] nor after a digit and one of [ .-].
 *
 * Which candidates: every later group is a whole run of digits too (a group cut short leaves a
 * digit next, which the lookahead refuses; a run longer than 8 ends the chain), ')' after the
 * first group is taken when it is there, and the match ends after group k (1 to 5 after the
 * first) where the lookahead allows.  PCRE2 takes the last of these ends; the check asks the
 * validator about every one with 7 to 13 digits (its own first test), so it can only keep more
 * windows than needed, never fewer.  Findings are unchanged (test_guard_pii_prechecks compares
 * them with and without it). */
static bool nat_no_start_after(const unsigned char *u, size_t s) {  /* the rule's lookbehinds */
  if (!s) return false;
  unsigned char c = u[s - 1];
  if (guard_is_alnum(c) || c == '_' || c == '.' || c == ',' || c == '+' || c == '/' || c == ':' || c == '-') return true;
  return s >= 2 && (c == ' ' || c == '.' || c == '-') && guard_is_digit(u[s - 2]);
}

static bool nat_end_ok(const unsigned char *u, size_t len, size_t e) {  /* the rule's lookahead */
  if (e >= len) return true;
  unsigned char c = u[e];
  if (guard_is_alnum(c) || c == '_' || c == '/' || c == ':') return false;
  return !((c == '-' || c == '.' || c == ',') && e + 1 < len && guard_is_digit(u[e + 1]));
}

/* A candidate from s (the first group is [a, q)) that the validator accepts. */
static bool nat_from(const char *t, size_t len, size_t s, size_t a, size_t q) {
  const unsigned char *u = (const unsigned char *)t;
  size_t digits = q - a, i = q < len && u[q] == ')' ? q + 1 : q;
  for (int k = 0; k < 5 && i + 2 < len && (u[i] == ' ' || u[i] == '.' || u[i] == '-'); k++) {
    size_t run = ++i;
    while (i < len && guard_is_digit(u[i])) i++;
    if (i - run < 2 || i - run > 8) break;
    digits += i - run;
    size_t e = i;
    double score = 0.4;
    if (digits >= 7 && digits <= 13 && nat_end_ok(u, len, e) && v_phone_groups(t, len, s, &e, &score)) return true;
  }
  return false;
}

static bool nat_may_match(const char *t, size_t len, size_t end, size_t *start) {
  const unsigned char *u = (const unsigned char *)t;
  if (end < 5) return true;  /* not the shape expected: look */
  size_t q = end - 3;        /* the separator */
  if (u[q - 1] == ')') q--;
  size_t a = q;
  while (a > 0 && guard_is_digit(u[a - 1])) a--;
  if (q - a < 2 || q - a > 5) return false;
  /* "(12) 3456 7890": a start at '(' and one at the digits after it; either may be the one */
  if (a > 0 && u[a - 1] == '(' && !nat_no_start_after(u, a - 1) && nat_from(t, len, a - 1, a, q)) {
    if (a - 1 > *start) *start = a - 1;
    return true;
  }
  if (nat_no_start_after(u, a) || !nat_from(t, len, a, a, q)) return false;
  if (a > *start) *start = a;
  return true;
}

static void pii_hint(guard_scanner *s, const guard_rule *r) {
  for (size_t i = 0; i < sizeof pii_hints / sizeof pii_hints[0]; i++)
    if (!strcmp(pii_hints[i].rule, r->name)) guard_scanner_hs_hint(s, r, pii_hints[i].re, pii_hints[i].lead);
  if (!strcmp(r->name, "email")) guard_scanner_hs_check(s, r, email_may_match);
  if (!strcmp(r->name, "ipv6")) guard_scanner_hs_check(s, r, ipv6_may_match);
  guard_pii_shapes_take(s, r);  /* btc_base58: its form is found without Hyperscan */
  guard_pii_digits_take(s, r);  /* the digit rules: likewise */
  if (!strcmp(r->name, "credit_card")) guard_scanner_hs_check(s, r, card_may_match);
  if (!strcmp(r->name, "phone_national")) guard_scanner_hs_check(s, r, nat_may_match);
}

/* ---- the scanner kind ---- */
static bool pii_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  unsigned types = cfg->types ? cfg->types : KL_GUARD_ALL_PII;
  if (types & ~KL_GUARD_ALL_PII) {
    kl_err_set(err, 400, "unknown PII type bits 0x%x", types & ~KL_GUARD_ALL_PII);
    return false;
  }
  for (size_t i = 0; i < guard_pii_nrules; i++) {
    if (!(types & (1u << guard_pii_rules[i].type))) continue;
    guard_rule *r = guard_scanner_add_rule(s, &guard_pii_rules[i].rule);
    r->context = guard_context_words(guard_pii_rules[i].type);
    pii_hint(s, r);
  }
  guard_pii_ner_add(s, types);
  return true;
}

/* Offered for the output stage too: a model repeating PII it was given, or making some up. */
const guard_kind guard_kind_pii = {
  .kind = "pii",
  .stages = 1u << KL_GUARD_INPUT | 1u << KL_GUARD_DURING | 1u << KL_GUARD_OUTPUT,
  .action = KL_GUARD_REDACT,
  .threshold = KL_GUARD_DEFAULT_MIN_SCORE,
  .rewrites = true,
  .init = pii_init,
};
