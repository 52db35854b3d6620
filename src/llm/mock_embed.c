/* mock_embed.c: the mock LLM's embeddings endpoint (POST /v1/embeddings, OpenAI's shape).
 *
 * Evaluations (answer relevancy, semantic similarity) compute cosine similarities on
 * embeddings, so the mock's vectors must mean something, deterministically and without a
 * model: a bag of words with feature hashing.  The text is lower-cased (ASCII) and split into
 * words (runs of ASCII letters and digits, and of non-ASCII bytes, so UTF-8 words stay whole);
 * a small stop-word list is dropped (unless nothing else is left).  Each word adds a
 * pseudo-random direction derived from its hash: FEATURES signed unit entries at hashed
 * positions (signed feature hashing), scaled so the word's vector has norm 1; each bigram of
 * consecutive content words adds its own direction with weight BIGRAM_W.  The sum is
 * L2-normalised.  Consequences (tested): identical texts have cosine 1; texts sharing most
 * content words are close (random directions are nearly orthogonal in high dimension, so the
 * cosine is about the fraction of shared word weight); unrelated texts are near 0; word order
 * only moves the small bigram part.  Token-array inputs treat each token id as a word.  An
 * empty text gets the direction of a reserved word (a fixed unit vector).
 *
 * Request: input string | [string] | [int] | [[int]] (at most MAX_INPUTS, each non-empty when an
 * array), model, dimensions (1..3072, default 256), encoding_format float | base64 (the
 * little-endian float32 bytes, base64-encoded, as OpenAI sends them).  Usage: prompt_tokens =
 * sum of ceil(bytes / 4) per text (like the chat mock) or the number of token ids.
 * Faults as for chat: status, 429, hang, reset (before answering), malformed and truncate
 * (half a body); there is no stream. */
#include "llm/mock_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DIMS 256
#define MAX_DIMS 3072
#define MAX_INPUTS 2048
#define FEATURES 8       /* hashed positions per word */
#define BIGRAM_W 0.4     /* a bigram's weight relative to a word's */
#define MAX_WORD 64      /* longer words are hashed on their first MAX_WORD bytes */

static const char *const stop_words[] = {
    "a",    "an",   "and",  "are",  "as",   "at",   "be",   "but",  "by",    "do",   "does", "for",
    "from", "has",  "have", "he",   "her",  "his",  "how",  "i",    "if",    "in",   "into", "is",
    "it",   "its",  "me",   "my",   "no",   "not",  "of",   "on",   "or",    "our",  "she",  "so",
    "that", "the",  "their", "them", "then", "there", "these", "they", "this", "to",  "was",  "we",
    "were", "what", "when", "where", "which", "who", "why",  "will", "with",  "would", "you", "your"};

static bool is_stop(const char *w, size_t n) {
  for (size_t i = 0; i < sizeof stop_words / sizeof stop_words[0]; i++)
    if (strlen(stop_words[i]) == n && memcmp(stop_words[i], w, n) == 0) return true;
  return false;
}

/* Adds weight * the unit direction of the feature with hash h. */
static void add_feature(double *v, int dims, uint64_t h, double weight) {
  uint64_t st = h;
  double w = weight / sqrt((double)FEATURES);
  for (int k = 0; k < FEATURES; k++) {
    uint64_t r = mock_mix(&st);
    v[r % (uint64_t)dims] += (r >> 63) ? -w : w;
  }
}

typedef struct word { char s[MAX_WORD]; size_t n; bool stop; } word;

static bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Words of a text, lower-cased; heap array, *n set. */
static word *split_words(const char *s, size_t len, size_t *n) {
  size_t cap = 0, k = 0;
  word *ws = NULL;
  for (size_t i = 0; i < len;) {
    if (!is_word_byte((unsigned char)s[i])) { i++; continue; }
    if (k == cap) {
      cap = cap ? cap * 2 : 16;
      ws = realloc(ws, cap * sizeof *ws);
      if (!ws) abort();
    }
    word *w = &ws[k++];
    w->n = 0;
    for (; i < len && is_word_byte((unsigned char)s[i]); i++) {
      unsigned char c = (unsigned char)s[i];
      if (w->n < MAX_WORD) w->s[w->n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    w->stop = is_stop(w->s, w->n);
  }
  *n = k;
  return ws;
}

static uint64_t word_hash(const word *w) { return mock_fnv1a(w->s, w->n); }

static void normalise(double *v, int dims, uint64_t fallback) {
  double norm = 0;
  for (int i = 0; i < dims; i++) norm += v[i] * v[i];
  if (norm < 1e-12) { /* everything cancelled (tiny dims): a fixed direction */
    memset(v, 0, (size_t)dims * sizeof *v);
    v[fallback % (uint64_t)dims] = 1;
    return;
  }
  norm = sqrt(norm);
  for (int i = 0; i < dims; i++) v[i] /= norm;
}

/* The vector of a list of words (stop words skipped unless all are). */
static void embed_words(const word *ws, size_t n, int dims, double *v) {
  memset(v, 0, (size_t)dims * sizeof *v);
  bool any_content = false;
  for (size_t i = 0; i < n; i++) any_content |= !ws[i].stop;
  uint64_t prev = 0;
  bool have_prev = false, any = false;
  for (size_t i = 0; i < n; i++) {
    if (any_content && ws[i].stop) continue;
    uint64_t h = word_hash(&ws[i]);
    add_feature(v, dims, h, 1.0);
    if (have_prev) add_feature(v, dims, (prev * 0x100000001B3ull) ^ (h + 0x9E3779B97F4A7C15ull), BIGRAM_W);
    prev = h;
    have_prev = any = true;
  }
  if (!any) add_feature(v, dims, mock_fnv1a("\x01keel-mock-empty", 16), 1.0);
  normalise(v, dims, 7);
}

static void embed_text(const char *s, size_t len, int dims, double *v) {
  size_t n;
  word *ws = split_words(s, len, &n);
  embed_words(ws, n, dims, v);
  free(ws);
}

static void embed_tokens(const cJSON *arr, int dims, double *v) {
  size_t n = (size_t)cJSON_GetArraySize(arr), k = 0;
  word *ws = calloc(n ? n : 1, sizeof *ws);
  if (!ws) abort();
  const cJSON *t;
  cJSON_ArrayForEach(t, arr) {
    ws[k].n = (size_t)snprintf(ws[k].s, sizeof ws[k].s, "#%.0f", t->valuedouble);
    k++;
  }
  embed_words(ws, k, dims, v);
  free(ws);
}

static bool is_token(const cJSON *t) {
  return cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble <= 4294967295.0 &&
         t->valuedouble == floor(t->valuedouble);
}

/* Checks a token array: non-empty, every element a non-negative integer. */
static bool token_array(const cJSON *a) {
  if (!cJSON_IsArray(a) || !a->child) return false;
  const cJSON *t;
  cJSON_ArrayForEach(t, a) if (!is_token(t)) return false;
  return true;
}

/* Validates input; returns the number of inputs and sets *kind: 's' one string, 'S' strings,
 * 't' one token array, 'T' token arrays; 0 with msg on error. */
static size_t check_input(const cJSON *in, char *kind, const char **msg) {
  if (cJSON_IsString(in)) return *kind = 's', 1;
  if (!cJSON_IsArray(in)) return *msg = "input: must be a string, an array of strings, or token arrays", 0;
  size_t n = (size_t)cJSON_GetArraySize(in);
  if (n == 0) return *msg = "input: must not be an empty array", 0;
  if (n > MAX_INPUTS) return *msg = "input: at most 2048 inputs per request", 0;
  const cJSON *e = in->child;
  if (cJSON_IsString(e)) {
    cJSON_ArrayForEach(e, in) if (!cJSON_IsString(e)) return *msg = "input: every element must be a string", 0;
    return *kind = 'S', n;
  }
  if (cJSON_IsNumber(e)) return token_array(in) ? (*kind = 't', 1) : (*msg = "input: token ids must be non-negative integers", 0);
  cJSON_ArrayForEach(e, in) if (!token_array(e)) return *msg = "input: every token array must be a non-empty array of non-negative integers", 0;
  return *kind = 'T', n;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(kl_buf *b, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
    kl_buf_append(b, q, 4);
  }
}

static void vector_json(kl_buf *b, const double *v, int dims, bool b64enc) {
  if (!b64enc) {
    kl_buf_putc(b, '[');
    for (int i = 0; i < dims; i++) kl_buf_printf(b, "%s%.9g", i ? "," : "", (double)(float)v[i]);
    kl_buf_putc(b, ']');
    return;
  }
  unsigned char *raw = malloc((size_t)dims * 4);
  if (!raw) abort();
  for (int i = 0; i < dims; i++) {
    float f = (float)v[i];
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int k = 0; k < 4; k++) raw[i * 4 + k] = (unsigned char)(u >> (8 * k));
  }
  kl_buf_putc(b, '"');
  base64(b, raw, (size_t)dims * 4);
  kl_buf_putc(b, '"');
  free(raw);
}

static void error_plan(kl_arena *a, kl_header_fn hdr, void *ud, kl_mock_plan *out, int status, const char *msg,
                       const char *param, const char *code) {
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, status, NULL, msg, param, code);
  mock_error_plan(a, hdr, ud, out, status, b.data, b.len);
  kl_buf_free(&b);
}

void kl_mock_embeddings(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                        const kl_mock_opts *opts, kl_mock_plan *out) {
  mock_fault_err fe;
  kl_mock_fault fault = mock_ctl_begin(hdr, hdr_ud, opts, out, &fe);
  if (fault == KL_MOCK_HANG) return;
  if (fault == KL_MOCK_STATUS) {
    error_plan(a, hdr, hdr_ud, out, fe.status, fe.msg, NULL, fe.code);
    return;
  }
  kl_err err;
  kl_err_clear(&err);
  cJSON *root = kl_json_parse(body, len, &err);
  const char *msg = NULL, *param = NULL;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
  const cJSON *dj = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
  const cJSON *ef = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
  const char *model = kl_json_str(root, "model");
  char kind = 0;
  size_t n = 0;
  if (!root) msg = err.msg[0] ? err.msg : "body: not valid JSON";
  else if (!cJSON_IsObject(root)) msg = "body: must be a JSON object";
  else if (!model || !*model) msg = "model: required (a non-empty string)", param = "model";
  else if (!in || cJSON_IsNull(in)) msg = "input: required", param = "input";
  else if (!(n = check_input(in, &kind, &msg))) param = "input";
  else if (dj && !cJSON_IsNull(dj) &&
           !(cJSON_IsNumber(dj) && dj->valuedouble >= 1 && dj->valuedouble <= MAX_DIMS &&
             dj->valuedouble == floor(dj->valuedouble)))
    msg = "dimensions: must be an integer from 1 to 3072", param = "dimensions";
  else if (ef && !cJSON_IsNull(ef) &&
           !(cJSON_IsString(ef) && (!strcmp(ef->valuestring, "float") || !strcmp(ef->valuestring, "base64"))))
    msg = "encoding_format: must be \"float\" or \"base64\"", param = "encoding_format";
  if (msg) {
    error_plan(a, hdr, hdr_ud, out, 400, msg, param, NULL);
    cJSON_Delete(root);
    return;
  }
  int dims = cJSON_IsNumber(dj) ? (int)dj->valuedouble : DEFAULT_DIMS;
  bool b64enc = cJSON_IsString(ef) && !strcmp(ef->valuestring, "base64");

  kl_buf b = KL_BUF_INIT;
  double *v = malloc((size_t)dims * sizeof *v);
  if (!v) abort();
  int64_t tokens = 0;
  kl_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
  const cJSON *item = kind == 's' || kind == 't' ? in : in->child;
  for (size_t i = 0; i < n; i++, item = item->next) {
    if (kind == 's' || kind == 'S') {
      size_t tl = strlen(item->valuestring);
      embed_text(item->valuestring, tl, dims, v);
      tokens += mock_tokens(tl);
    } else {
      embed_tokens(item, dims, v);
      tokens += cJSON_GetArraySize(item);
    }
    kl_buf_printf(&b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
    vector_json(&b, v, dims, b64enc);
    kl_buf_putc(&b, '}');
  }
  kl_buf_puts(&b, "],\"model\":");
  kl_buf_json_str(&b, model, strlen(model));
  kl_buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}", (long long)tokens,
                (long long)tokens);
  free(v);
  mock_body_plan(a, out, fault, b.data, b.len);
  kl_buf_free(&b);
  cJSON_Delete(root);
}
