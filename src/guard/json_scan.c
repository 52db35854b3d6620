/* json_scan.c: the `json` output scanner: the answer to a request that asked for JSON
 * (response_format json_object / json_schema) must be valid JSON, and match the schema if any.
 *
 * A whole-text scanner: no rules, all the work is in finish.  Validity is checked by a strict
 * RFC 8259 syntax checker of our own rather than by cJSON alone, because cJSON is lenient
 * (leading zeros, "1.", raw control characters in strings, any byte <= 0x20 as whitespace)
 * and a client's JSON parser may not be; ours is iterative (no recursion, so a 10,000-deep
 * array costs nothing but an error) and reports the exact offset of the first error.  Depth is
 * capped at cJSON's own nesting limit, so whatever passes also parses for the schema check.
 * UTF-8 is checked with kl_utf8_valid first.
 *
 * Fences: models often wrap JSON in a Markdown ```json ... ``` block even when told not to.
 * We accept a fence that wraps the WHOLE output (whitespace around it allowed, info string
 * empty or "json") and validate what is inside; prose around a fence, or an unclosed fence,
 * is not JSON.  Re-asking over a fence alone would cost a round trip for an answer every JSON
 * consumer we know of strips; the gateway passes the text through unchanged.
 *
 * Findings: JSON_INVALID (rule "utf8", "syntax" or "depth"; span from the error to the end) or
 * JSON_SCHEMA (rule = the failing schema keyword; the whole text), score 1, default action
 * reask.  The finding struct has no room for a message, so the gateway gets the text it sends
 * back to the model from guard_json_reask_message (which re-runs the check: failures only). */
#include "guard/guard_int.h"
#include "guard/json_schema.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- strict syntax ---- */

static size_t ws(const char *t, size_t n, size_t i) {
  while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) i++;
  return i;
}

static int hex4(const char *t, size_t n, size_t i) {
  if (i + 4 > n) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; k++) {
    char c = t[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* t[i] == '"'.  Returns the index after the closing quote; *bad = true with the index of the error. */
static size_t string(const char *t, size_t n, size_t i, bool *bad) {
  for (i++; i < n; i++) {
    while (i + 8 <= n) { /* 8 plain bytes at a time: no '"', '\\' or control character */
      uint64_t w, q = 0x2222222222222222ull, b = 0x5c5c5c5c5c5c5c5cull, lo = 0x0101010101010101ull;
      memcpy(&w, t + i, 8);
      uint64_t hit = ((w ^ q) - lo) | ((w ^ b) - lo) | (w - 0x2020202020202020ull);
      if (hit & ~w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = (unsigned char)t[i];
    if (c == '"') return i + 1;
    if (c < 0x20) break;
    if (c != '\\') continue;
    if (++i >= n) break;
    if (t[i] != 'u') {
      if (!strchr("\"\\/bfnrt", t[i]) || !t[i]) break;
      continue;
    }
    int u = hex4(t, n, i + 1);
    if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) break;  /* lone low surrogate */
    i += 4;
    if (u >= 0xD800 && u <= 0xDBFF) { /* must be followed by a low surrogate */
      int lo = i + 2 < n && t[i + 1] == '\\' && t[i + 2] == 'u' ? hex4(t, n, i + 3) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF) {
        i++;
        break;
      }
      i += 6;
    }
  }
  *bad = true;
  return i < n ? i : n;
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t number(const char *t, size_t n, size_t i, bool *bad) {
  if (t[i] == '-') i++;
  if (i < n && t[i] == '0') i++;
  else if (i < n && digit(t[i])) while (i < n && digit(t[i])) i++;
  else return *bad = true, i;
  if (i < n && t[i] == '.') {
    if (++i >= n || !digit(t[i])) return *bad = true, i;
    while (i < n && digit(t[i])) i++;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    if (++i < n && (t[i] == '+' || t[i] == '-')) i++;
    if (i >= n || !digit(t[i])) return *bad = true, i;
    while (i < n && digit(t[i])) i++;
  }
  return i;
}

size_t guard_json_syntax(const char *t, size_t n, bool *depth_err) {
  unsigned char in_obj[GUARD_JSON_MAX_DEPTH];  /* the container stack: 1 object, 0 array */
  size_t depth = 0, i = ws(t, n, 0);
  bool bad = false, want_key = false;
  if (depth_err) *depth_err = false;
  for (;;) {
    /* a value (or, after '{' or ',' in an object, a key and ':' first) */
    if (want_key) {
      if (i >= n || t[i] != '"') return i;
      i = string(t, n, i, &bad);
      if (bad) return i;
      i = ws(t, n, i);
      if (i >= n || t[i] != ':') return i;
      i = ws(t, n, i + 1);
      want_key = false;
    }
    if (i >= n) return i;
    char c = t[i];
    if (c == '{' || c == '[') {
      if (depth == GUARD_JSON_MAX_DEPTH) {
        if (depth_err) *depth_err = true;
        return i;
      }
      in_obj[depth++] = c == '{';
      i = ws(t, n, i + 1);
      if (i < n && t[i] == (c == '{' ? '}' : ']')) {
        depth--;
        i++;
      } else {
        want_key = c == '{';
        continue;
      }
    } else if (c == '"') {
      i = string(t, n, i, &bad);
    } else if (c == '-' || digit(c)) {
      i = number(t, n, i, &bad);
    } else {
      const char *lit = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
      size_t k = 0;
      while (lit && lit[k] && i + k < n && t[i + k] == lit[k]) k++;
      if (!lit || lit[k]) return i + k;
      i += k;
    }
    if (bad) return i;
    /* after a value: close containers, then a ',' or the end */
    for (;;) {
      i = ws(t, n, i);
      if (depth == 0) return i == n ? (size_t)-1 : i;
      if (i >= n) return i;
      if (t[i] == ',') {
        want_key = in_obj[depth - 1];
        i = ws(t, n, i + 1);
        break;
      }
      if (t[i] != (in_obj[depth - 1] ? '}' : ']')) return i;
      depth--;
      i++;
    }
  }
}

/* ---- fences ---- */

bool guard_json_unfence(const char *t, size_t n, size_t *start, size_t *end) {
  size_t i = ws(t, n, 0), e = n;
  if (n - i < 6 || memcmp(t + i, "```", 3) != 0) return false;
  size_t info = i + 3, eol = info;
  while (eol < n && t[eol] != '\n') eol++;
  size_t a = info, b = eol;
  while (a < b && (t[a] == ' ' || t[a] == '\t')) a++;
  while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t' || t[b - 1] == '\r')) b--;
  if (b != a && !(b - a == 4 && strncasecmp(t + a, "json", 4) == 0)) return false;
  while (e > eol && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\n' || t[e - 1] == '\r')) e--;
  if (eol >= n || e < eol + 4 || memcmp(t + e - 3, "```", 3) != 0) return false;
  *start = eol + 1;
  *end = e - 3;
  return true;
}

/* ---- the check ---- */

static bool invalid(guard_json_verdict *v, const char *text, size_t len, const char *rule, size_t off,
                    const char *fmt, const char *what) {
  if (off >= len) off = len ? len - 1 : 0;
  while (off > 0 && ((unsigned char)text[off] & 0xC0) == 0x80) off--;  /* a code point start */
  v->ok = false;
  v->type = "JSON_INVALID";
  v->rule = rule;
  v->start = off;
  v->end = len;
  v->err.keyword = rule;
  snprintf(v->err.message, sizeof v->err.message, fmt, what);
  return false;
}

bool guard_json_check(const char *text, size_t len, const char *schema, size_t schema_len, guard_json_verdict *v) {
  memset(v, 0, sizeof *v);
  v->ok = true;
  if (!kl_utf8_valid(text, len))
    return invalid(v, text, len, "utf8", 0, "the output is not valid UTF-8%s", "");
  size_t s = 0, e = len;
  guard_json_unfence(text, len, &s, &e);
  bool deep;
  size_t off = guard_json_syntax(text + s, e - s, &deep);
  if (off != (size_t)-1) {
    char what[64];
    if (deep) snprintf(what, sizeof what, "nested deeper than %d levels", GUARD_JSON_MAX_DEPTH);
    else if (off >= e - s) snprintf(what, sizeof what, "%s", e == s ? "the output is empty" : "it ends too early");
    else if ((unsigned char)text[s + off] >= 0x20 && (unsigned char)text[s + off] < 0x7f)
      snprintf(what, sizeof what, "unexpected '%c' at byte %zu", text[s + off], s + off);
    else snprintf(what, sizeof what, "unexpected byte 0x%02x at byte %zu", (unsigned char)text[s + off], s + off);
    return invalid(v, text, len, deep ? "depth" : "syntax", s + off, "the output is not valid JSON: %s", what);
  }
  if (!schema) return true;
  kl_err err = {0};
  guard_schema *gs = guard_schema_parse(schema, schema_len, &err);
  if (!gs) { /* the gateway answers 400 to such requests before they get here */
    kl_warn("guard json: schema ignored: %s", err.msg);
    return true;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(text + s, e - s, &end, 0);
  if (!j) { /* what our checker accepts but cJSON does not; not expected */
    guard_schema_free(gs);
    return invalid(v, text, len, "syntax", end ? (size_t)(end - text) : s, "the output is not valid JSON%s", "");
  }
  if (!guard_schema_validate(gs, j, &v->err)) {
    v->ok = false;
    v->type = "JSON_SCHEMA";
    v->rule = v->err.keyword;
    v->start = 0;
    v->end = len;
  }
  cJSON_Delete(j);
  guard_schema_free(gs);
  return v->ok;
}

const char *guard_json_reask_message(const char *text, size_t len, const char *schema, size_t schema_len,
                                     kl_arena *a) {
  guard_json_verdict v;
  if (guard_json_check(text, len, schema, schema_len, &v)) return NULL;
  if (strcmp(v.type, "JSON_INVALID") == 0) return kl_arena_strdup(a, v.err.message);
  return kl_arena_sprintf(a, "the output does not match the JSON schema: %s%s%s%s", v.err.path[0] ? "at " : "",
                          v.err.path, v.err.path[0] ? ": " : "", v.err.message);
}

/* ---- the scanner ---- */

static bool json_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)s; (void)cfg; (void)err;
  return true;  /* no rules: the schema comes with each request */
}

static void json_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                        kl_arena *a, guard_out *out) {
  (void)hits; (void)nhits; (void)a;
  /* only answers to requests that asked for JSON are judged (kl_guard_text.expect_json) */
  if (!in->expect_json && !in->json_schema) return;
  guard_json_verdict v;
  if (!guard_json_check(in->text ? in->text : "", in->text ? in->len : 0, in->json_schema, in->json_schema_len, &v))
    guard_out_push(out, s, v.type, v.rule, v.start, v.end, 1.0);
}

const guard_kind guard_kind_json = {
  .kind = "json",
  .stages = 1u << KL_GUARD_OUTPUT,
  .whole_text = true,
  .action = KL_GUARD_REASK,
  .threshold = 0.5,
  .init = json_init,
  .finish = json_finish,
  .free = NULL,
};

/* ---- the public face (kl_guard.h) ---- */

int kl_guard_schema_check(const char *schema, size_t len, kl_err *err) {
  guard_schema *s = guard_schema_parse(schema, len, err);
  if (!s) return -1;
  guard_schema_free(s);
  return 0;
}

const char *kl_guard_json_problem(const char *text, size_t len, const char *schema, size_t schema_len, kl_arena *a) {
  return guard_json_reask_message(text, len, schema, schema_len, a);
}
