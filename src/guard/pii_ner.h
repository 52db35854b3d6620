/* pii_ner.h: the pii scanner's named-entity rules (PERSON, LOCATION, STREET_ADDRESS, DATE_TIME,
 * NRP, ORGANIZATION), shared by pii_ner.c (names, places, groups, organisations) and
 * pii_ner_addr.c (street addresses, dates and times).  Internal to the guard pillar. */
#ifndef KL_GUARD_PII_NER_H
#define KL_GUARD_PII_NER_H

#include "guard/guard_int.h"

/* Adds the rules of the named-entity types in `types` (bits of kl_guard_type) to the pii
 * scanner s; called by pii_init. */
void guard_pii_ner_add(guard_scanner *s, unsigned types);

/* pii_ner_addr.c */
void guard_pii_ner_add_addr(guard_scanner *s, unsigned types);

/* pii_ner_gaz.c: the gazetteer chunk rules' window source (guard_window_source): reports, for
 * slot k, every end of an occurrence of an entry added with slot k.  The trie is built once,
 * before any scan: entries with ner_gaz_trie_add, then ner_gaz_trie_done. */
void ner_gaz_trie_add(const char *entry, unsigned slot);
void ner_gaz_trie_done(void);
extern const guard_window_source ner_gaz_source;

/* pii_shapes.c: the window source of person_pair's and btc_base58's search forms (shapes of
 * character classes that Hyperscan runs badly).  guard_pii_shapes_take gives rule r to it when
 * r is one of them (after its hint is set), and does nothing otherwise. */
extern const guard_window_source guard_pii_shapes_source;
void guard_pii_shapes_take(guard_scanner *s, const guard_rule *r);

/* pii_digits.c: the window source of the eleven digit rules' search forms (phones, card,
 * IBAN, SSN, IPv4, MAC, house number, dates, time).  guard_pii_digits_take sets rule r's hint
 * (form and lead) and gives it to the source when r is one of them, and returns whether it
 * was; it does nothing otherwise. */
extern const guard_window_source guard_pii_digits_source;
bool guard_pii_digits_take(guard_scanner *s, const guard_rule *r);
/* pii_find.c: the ipv4, time, date_iso, email, phone_intl, us_ssn, credit_card and
 * street_generic rules' patterns matched by hand (guard_find_fn), and the gazetteer rules'
 * (pii_ner.c): one capitalised word, or up to four. */
bool guard_find_ipv4(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_time(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_date_iso(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_email(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_phone_intl(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_us_ssn(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_credit_card(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_capw(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_capw_run(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
bool guard_find_street_generic(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);

/* Letters and case over UTF-8 (Latin, Greek, Cyrillic have case; other scripts' letters count
 * as letters with neither case). */
bool ner_cp_upper(uint32_t c);
bool ner_cp_lower(uint32_t c);
bool ner_cp_letter(uint32_t c);
/* End of the word (letters, inner ' - ’) starting at i; i when there is none. */
size_t ner_word_end(const char *t, size_t len, size_t i);
/* Whether t[s, e) is a capitalised word: an upper-case letter, then letters. */
bool ner_is_cap_word(const char *t, size_t len, size_t s, size_t e);
/* Whether the word t[s, e) is a capitalised function word, street word, month, ... that never
 * belongs to a name ("The", "Street", "Monday"). */
bool ner_stopword(const char *t, size_t s, size_t e);
/* Whether the code point before byte s / at byte e is a letter, digit or one of `also`. */
bool ner_word_before(const char *t, size_t s, const char *also);
bool ner_word_after(const char *t, size_t len, size_t e, const char *also);
/* Whether s starts a sentence: nothing but spaces and quotes since the text's start or a . ! ? or newline. */
bool ner_sentence_start(const char *t, size_t s);

#endif
