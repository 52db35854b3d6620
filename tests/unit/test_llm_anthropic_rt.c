/* test_llm_anthropic_rt.c: property tests of the Anthropic translators.
 *
 *  - round trips: random requests (seeded PRNG) within the expressible subset go
 *    OpenAI -> Anthropic -> OpenAI and Anthropic -> OpenAI -> Anthropic and must come back equal
 *    to the original after the normalisation documented in anthropic.h (implemented here
 *    independently, as norm_openai / norm_anth).  Streams: test_llm_anthropic_stream.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/anthropic.h"

static void assert_same(const cJSON *got, const cJSON *want, const char *what, unsigned seed) {
  if (cJSON_Compare(got, want, 1)) return;
  char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
  fprintf(stderr, "%s (seed %u)\ngot:  %s\nwant: %s\n", what, seed, g, w);
  free(g);
  free(w);
  fail();
}

/* ---------------- generators ---------------- */

static uint32_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return n ? rng_state % n : 0;
}

static const char *const words[] = {"alpha", "beta", "gamma", "delta", "ünïcode", "quote\"d", "new\nline", "", "x"};
static char *rtext(char *buf, size_t cap) {
  size_t n = 1 + rnd(4);
  buf[0] = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, "%s%s", i ? " " : "", words[rnd(9)]);
  }
  return buf;
}

static cJSON *rargs_obj(void) {
  cJSON *o = cJSON_CreateObject();
  char t[128];
  int n = (int)rnd(4);
  for (int i = 0; i < n; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    switch (rnd(4)) {
      case 0: cJSON_AddNumberToObject(o, k, (double)rnd(100000) - 500); break;
      case 1: cJSON_AddStringToObject(o, k, rtext(t, sizeof t)); break;
      case 2: cJSON_AddBoolToObject(o, k, rnd(2)); break;
      default: {
        cJSON *a = cJSON_AddArrayToObject(o, k);
        cJSON_AddItemToArray(a, cJSON_CreateNumber(rnd(10)));
        cJSON_AddItemToArray(a, cJSON_CreateString(rtext(t, sizeof t)));
      }
    }
  }
  return o;
}

static cJSON *text_item(const char *type, const char *s) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", type);
  cJSON_AddStringToObject(p, "text", s);
  return p;
}

static cJSON *oa_image_part(void) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "image_url");
  cJSON *iu = cJSON_AddObjectToObject(p, "image_url");
  cJSON_AddStringToObject(iu, "url", rnd(2) ? "data:image/png;base64,iVBORw0KGgo=" : "https://example.com/cat.jpg");
  return p;
}

static cJSON *msg(const char *role) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  return m;
}

static int call_seq;

static cJSON *gen_openai(void) {
  char t[128];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "model", rnd(2) ? "claude-sonnet-4-5" : "claude-haiku-4-5");
  cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
  int nsys = (int)rnd(3);
  for (int i = 0; i < nsys; i++) {
    cJSON *mm = msg(rnd(3) ? "system" : "developer");
    cJSON_AddItemToArray(msgs, mm);
    if (rnd(3)) {
      cJSON_AddStringToObject(mm, "content", rtext(t, sizeof t));
    } else {
      cJSON *parts = cJSON_AddArrayToObject(mm, "content");
      for (int k = 0, n = 1 + (int)rnd(2); k < n; k++) cJSON_AddItemToArray(parts, text_item("text", rtext(t, sizeof t)));
    }
  }
  int turns = 1 + (int)rnd(5);
  for (int i = 0; i < turns; i++) {
    /* user turn(s) */
    for (int u = 0, nu = rnd(4) ? 1 : 2; u < nu; u++) {
      cJSON *m = msg("user");
      cJSON_AddItemToArray(msgs, m);
      if (rnd(2)) {
        cJSON_AddStringToObject(m, "content", rtext(t, sizeof t));
      } else {
        cJSON *parts = cJSON_AddArrayToObject(m, "content");
        for (int k = 0, n = 1 + (int)rnd(3); k < n; k++)
          cJSON_AddItemToArray(parts, rnd(3) ? text_item("text", rtext(t, sizeof t)) : oa_image_part());
      }
    }
    if (rnd(8) == 0) {  /* a system message mid-conversation: hoisted */
      cJSON *m = msg("system");
      cJSON_AddStringToObject(m, "content", rtext(t, sizeof t));
      cJSON_AddItemToArray(msgs, m);
    }
    if (i == turns - 1 && rnd(2)) break;
    /* assistant turn, maybe with tool calls and their results */
    int na = rnd(5) ? 1 : 2;
    for (int a = 0; a < na; a++) {
      cJSON *m = msg("assistant");
      cJSON_AddItemToArray(msgs, m);
      int ncalls = rnd(2) ? 0 : 1 + (int)rnd(3);
      switch (rnd(4)) {
        case 0: if (ncalls) { cJSON_AddNullToObject(m, "content"); break; } /* fallthrough */
        case 1: case 2: cJSON_AddStringToObject(m, "content", rtext(t, sizeof t)); break;
        default: {
          cJSON *parts = cJSON_AddArrayToObject(m, "content");
          for (int k = 0, n = 1 + (int)rnd(2); k < n; k++) cJSON_AddItemToArray(parts, text_item("text", rtext(t, sizeof t)));
        }
      }
      if (!ncalls) continue;
      cJSON *tcs = cJSON_AddArrayToObject(m, "tool_calls");
      char ids[3][32];
      for (int k = 0; k < ncalls; k++) {
        snprintf(ids[k], sizeof ids[k], "call_%d", ++call_seq);
        cJSON *tc = cJSON_CreateObject();
        cJSON_AddStringToObject(tc, "id", ids[k]);
        cJSON_AddStringToObject(tc, "type", "function");
        cJSON *fn = cJSON_AddObjectToObject(tc, "function");
        cJSON_AddStringToObject(fn, "name", rnd(2) ? "get_weather" : "search");
        cJSON *args = rargs_obj();
        char *s = cJSON_PrintUnformatted(args);
        cJSON_AddStringToObject(fn, "arguments", rnd(10) == 0 && !args->child ? "" : s);
        free(s);
        cJSON_Delete(args);
        cJSON_AddItemToArray(tcs, tc);
      }
      for (int k = 0; k < ncalls; k++) {
        cJSON *tm = msg("tool");
        cJSON_AddStringToObject(tm, "tool_call_id", ids[k]);
        if (rnd(3)) {
          cJSON_AddStringToObject(tm, "content", rtext(t, sizeof t));
        } else {
          cJSON *parts = cJSON_AddArrayToObject(tm, "content");
          for (int q = 0, n = 1 + (int)rnd(2); q < n; q++) cJSON_AddItemToArray(parts, text_item("text", rtext(t, sizeof t)));
        }
        cJSON_AddItemToArray(msgs, tm);
      }
    }
  }
  int ntools = (int)rnd(3);
  if (ntools) {
    cJSON *tools = cJSON_AddArrayToObject(o, "tools");
    for (int i = 0; i < ntools; i++) {
      cJSON *tl = cJSON_CreateObject();
      cJSON_AddStringToObject(tl, "type", "function");
      cJSON *fn = cJSON_AddObjectToObject(tl, "function");
      cJSON_AddStringToObject(fn, "name", i ? "search" : "get_weather");
      if (rnd(2)) cJSON_AddStringToObject(fn, "description", rtext(t, sizeof t));
      if (rnd(4)) {
        cJSON *p = cJSON_AddObjectToObject(fn, "parameters");
        cJSON_AddStringToObject(p, "type", "object");
        cJSON_AddItemToObject(p, "properties", rargs_obj());
      }
      if (rnd(4) == 0) cJSON_AddFalseToObject(fn, "strict");
      cJSON_AddItemToArray(tools, tl);
    }
  }
  switch (rnd(6)) {
    case 0: cJSON_AddStringToObject(o, "tool_choice", "auto"); break;
    case 1: cJSON_AddStringToObject(o, "tool_choice", "none"); break;
    case 2: cJSON_AddStringToObject(o, "tool_choice", "required"); break;
    case 3: {
      cJSON *tc = cJSON_AddObjectToObject(o, "tool_choice");
      cJSON_AddStringToObject(tc, "type", "function");
      cJSON_AddStringToObject(cJSON_AddObjectToObject(tc, "function"), "name", "get_weather");
      break;
    }
    default: break;
  }
  if (rnd(4) == 0) cJSON_AddBoolToObject(o, "parallel_tool_calls", rnd(2));
  if (rnd(2)) cJSON_AddNumberToObject(o, "temperature", rnd(101) / 100.0);
  if (rnd(3) == 0) cJSON_AddNumberToObject(o, "top_p", rnd(101) / 100.0);
  switch (rnd(3)) {
    case 0: cJSON_AddStringToObject(o, "stop", "END"); break;
    case 1: {
      cJSON *s = cJSON_AddArrayToObject(o, "stop");
      for (int k = 0, n = 1 + (int)rnd(3); k < n; k++) cJSON_AddItemToArray(s, cJSON_CreateString(rtext(t, sizeof t)));
      break;
    }
    default: break;
  }
  if (rnd(2)) cJSON_AddStringToObject(o, "user", "user-42");
  switch (rnd(3)) {
    case 0: cJSON_AddNumberToObject(o, "max_tokens", 1 + rnd(8192)); break;
    case 1: cJSON_AddNumberToObject(o, "max_completion_tokens", 1 + rnd(8192)); break;
    default: break;
  }
  if (rnd(2)) cJSON_AddBoolToObject(o, "stream", rnd(2));
  if (rnd(4) == 0) cJSON_AddNullToObject(o, "seed");
  if (rnd(4) == 0) cJSON_AddNumberToObject(o, "n", 1);
  return o;
}

/* ---------------- the documented normalisation of an OpenAI request ---------------- */

static void join_text(kl_buf *b, const cJSON *c, const char *sep) {
  if (cJSON_IsString(c)) {
    kl_buf_puts(b, c->valuestring);
    return;
  }
  int k = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, c) {
    if (k++ && sep) kl_buf_puts(b, sep);
    kl_buf_puts(b, cJSON_GetObjectItem(p, "text")->valuestring);
  }
}

static cJSON *norm_openai(const cJSON *orig) {
  cJSON *o = cJSON_Duplicate(orig, 1);
  cJSON *msgs = cJSON_DetachItemFromObject(o, "messages");
  cJSON *out = cJSON_AddArrayToObject(o, "messages");
  cJSON *rest = cJSON_CreateArray();
  cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetObjectItem(m, "role")->valuestring;
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
      cJSON *c = cJSON_GetObjectItem(m, "content");
      if (cJSON_IsString(c)) {
        cJSON *s = msg("system");
        cJSON_AddStringToObject(s, "content", c->valuestring);
        cJSON_AddItemToArray(out, s);
      }
      cJSON *p;
      if (cJSON_IsArray(c)) cJSON_ArrayForEach(p, c) {
        cJSON *s = msg("system");
        cJSON_AddStringToObject(s, "content", cJSON_GetObjectItem(p, "text")->valuestring);
        cJSON_AddItemToArray(out, s);
      }
    } else {
      cJSON_AddItemToArray(rest, cJSON_Duplicate(m, 1));
    }
  }
  int n = cJSON_GetArraySize(rest);
  for (int i = 0; i < n;) {
    cJSON *first = cJSON_GetArrayItem(rest, i);
    const char *role = cJSON_GetObjectItem(first, "role")->valuestring;
    bool is_user = strcmp(role, "assistant") != 0;
    int j = i;
    while (j < n && (strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(rest, j), "role")->valuestring, "assistant") != 0) == is_user) j++;
    if (is_user) {
      cJSON *parts = cJSON_CreateArray();
      int nusers = 0;
      const cJSON *single = NULL;
      for (int k = i; k < j; k++) {
        cJSON *x = cJSON_GetArrayItem(rest, k);
        cJSON *c = cJSON_GetObjectItem(x, "content");
        if (strcmp(cJSON_GetObjectItem(x, "role")->valuestring, "tool") == 0) {
          kl_buf b = KL_BUF_INIT;
          join_text(&b, c, "\n");
          cJSON *tm = msg("tool");
          cJSON_AddStringToObject(tm, "tool_call_id", cJSON_GetObjectItem(x, "tool_call_id")->valuestring);
          cJSON_AddStringToObject(tm, "content", b.data ? b.data : "");
          kl_buf_free(&b);
          cJSON_AddItemToArray(out, tm);
          continue;
        }
        nusers++;
        single = c;
        if (cJSON_IsString(c)) cJSON_AddItemToArray(parts, text_item("text", c->valuestring));
        cJSON *p;
        if (cJSON_IsArray(c)) cJSON_ArrayForEach(p, c) cJSON_AddItemToArray(parts, cJSON_Duplicate(p, 1));
      }
      if (nusers) {
        cJSON *um = msg("user");
        if (j - i == 1 && cJSON_IsString(single)) cJSON_AddStringToObject(um, "content", single->valuestring);
        else cJSON_AddItemToObject(um, "content", cJSON_Duplicate(parts, 1));
        cJSON_AddItemToArray(out, um);
      }
      cJSON_Delete(parts);
    } else {
      kl_buf b = KL_BUF_INIT;
      cJSON *tcs = cJSON_CreateArray();
      for (int k = i; k < j; k++) {
        cJSON *x = cJSON_GetArrayItem(rest, k);
        cJSON *c = cJSON_GetObjectItem(x, "content");
        if (c && !cJSON_IsNull(c)) join_text(&b, c, NULL);
        cJSON *tc;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItem(x, "tool_calls")) {
          cJSON *d = cJSON_Duplicate(tc, 1);
          cJSON *fn = cJSON_GetObjectItem(d, "function");
          const char *args = cJSON_GetObjectItem(fn, "arguments")->valuestring;
          cJSON *pa = cJSON_Parse(*args ? args : "{}");
          char *s = cJSON_PrintUnformatted(pa);
          cJSON_ReplaceItemInObject(fn, "arguments", cJSON_CreateString(s));
          free(s);
          cJSON_Delete(pa);
          cJSON_AddItemToArray(tcs, d);
        }
      }
      cJSON *am = msg("assistant");
      bool has = cJSON_GetArraySize(tcs) > 0;
      if (b.len || !has) cJSON_AddStringToObject(am, "content", b.data ? b.data : "");
      else cJSON_AddNullToObject(am, "content");
      if (has) cJSON_AddItemToObject(am, "tool_calls", tcs);
      else cJSON_Delete(tcs);
      kl_buf_free(&b);
      cJSON_AddItemToArray(out, am);
    }
    i = j;
  }
  cJSON_Delete(rest);
  cJSON_Delete(msgs);

  cJSON *mct = cJSON_DetachItemFromObject(o, "max_completion_tokens");
  cJSON *mt = cJSON_DetachItemFromObject(o, "max_tokens");
  cJSON_AddNumberToObject(o, "max_completion_tokens", mct ? mct->valuedouble : mt ? mt->valuedouble : KL_ANTH_DEFAULT_MAX_TOKENS);
  cJSON_Delete(mct);
  cJSON_Delete(mt);
  cJSON *stop = cJSON_GetObjectItem(o, "stop");
  if (cJSON_IsString(stop)) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(stop->valuestring));
    cJSON_ReplaceItemInObject(o, "stop", a);
  }
  cJSON *tl;
  cJSON_ArrayForEach(tl, cJSON_GetObjectItem(o, "tools")) {
    cJSON *fn = cJSON_GetObjectItem(tl, "function");
    cJSON_DeleteItemFromObject(fn, "strict");
    if (!cJSON_GetObjectItem(fn, "parameters")) {
      cJSON *p = cJSON_AddObjectToObject(fn, "parameters");
      cJSON_AddStringToObject(p, "type", "object");
      cJSON_AddObjectToObject(p, "properties");
    }
  }
  cJSON *ptc = cJSON_GetObjectItem(o, "parallel_tool_calls");
  cJSON *tc = cJSON_GetObjectItem(o, "tool_choice");
  if (cJSON_IsTrue(ptc)) cJSON_DeleteItemFromObject(o, "parallel_tool_calls");
  else if (cJSON_IsFalse(ptc) && !tc) cJSON_AddStringToObject(o, "tool_choice", "auto");
  else if (cJSON_IsFalse(ptc) && cJSON_IsString(tc) && strcmp(tc->valuestring, "none") == 0)
    cJSON_DeleteItemFromObject(o, "parallel_tool_calls");
  cJSON_DeleteItemFromObject(o, "seed");
  cJSON_DeleteItemFromObject(o, "n");
  return o;
}

static void test_roundtrip_openai(void **st) {
  (void)st;
  for (unsigned seed = 1; seed <= 2000; seed++) {
    rng_state = seed * 2654435761u;
    cJSON *o = gen_openai();
    kl_err err;
    kl_err_clear(&err);
    cJSON *a = kl_anth_req_from_openai(o, &err);
    if (!a) fail_msg("seed %u: O->A: %s", seed, err.msg);
    /* the translation is a valid Anthropic request */
    if (kl_anth_req_validate(a, &err)) fail_msg("seed %u: invalid Anthropic request: %s", seed, err.msg);
    cJSON *back = kl_anth_req_to_openai(a, &err);
    if (!back) fail_msg("seed %u: A->O: %s", seed, err.msg);
    cJSON *want = norm_openai(o);
    assert_same(back, want, "OpenAI -> Anthropic -> OpenAI", seed);
    cJSON_Delete(o);
    cJSON_Delete(a);
    cJSON_Delete(back);
    cJSON_Delete(want);
  }
}

/* ---------------- Anthropic requests ---------------- */

static cJSON *anth_image(void) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "type", "image");
  cJSON *s = cJSON_AddObjectToObject(b, "source");
  if (rnd(2)) {
    cJSON_AddStringToObject(s, "type", "base64");
    cJSON_AddStringToObject(s, "media_type", rnd(2) ? "image/jpeg" : "image/webp");
    cJSON_AddStringToObject(s, "data", "/9j/4AAQSkZJRg==");
  } else {
    cJSON_AddStringToObject(s, "type", "url");
    cJSON_AddStringToObject(s, "url", "https://example.com/dog.png");
  }
  return b;
}

static cJSON *gen_anth(void) {
  char t[128];
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "model", "gpt-4o");
  cJSON_AddNumberToObject(a, "max_tokens", 1 + rnd(8192));
  switch (rnd(3)) {
    case 0: cJSON_AddStringToObject(a, "system", rtext(t, sizeof t)); break;
    case 1: {
      cJSON *s = cJSON_AddArrayToObject(a, "system");
      for (int k = 0, n = 1 + (int)rnd(3); k < n; k++) cJSON_AddItemToArray(s, text_item("text", rtext(t, sizeof t)));
      break;
    }
    default: break;
  }
  cJSON *msgs = cJSON_AddArrayToObject(a, "messages");
  char ids[3][32];
  int pending = 0;
  int turns = 1 + (int)rnd(6);
  for (int i = 0; i < turns; i++) {
    cJSON *u = msg("user");
    cJSON_AddItemToArray(msgs, u);
    if (!pending && rnd(2)) {
      cJSON_AddStringToObject(u, "content", rtext(t, sizeof t));
    } else {
      cJSON *c = cJSON_AddArrayToObject(u, "content");
      for (int k = 0; k < pending; k++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "type", "tool_result");
        cJSON_AddStringToObject(r, "tool_use_id", ids[k]);
        switch (rnd(3)) {
          case 0: cJSON_AddStringToObject(r, "content", rtext(t, sizeof t)); break;
          case 1: {
            cJSON *rc = cJSON_AddArrayToObject(r, "content");
            for (int q = 0, n = 1 + (int)rnd(2); q < n; q++) cJSON_AddItemToArray(rc, text_item("text", rtext(t, sizeof t)));
            break;
          }
          default: break;
        }
        cJSON_AddItemToArray(c, r);
      }
      for (int k = 0, n = pending ? (int)rnd(2) : 1 + (int)rnd(3); k < n; k++)
        cJSON_AddItemToArray(c, rnd(3) ? text_item("text", rtext(t, sizeof t)) : anth_image());
    }
    pending = 0;
    if (i == turns - 1 && rnd(2)) break;
    cJSON *as = msg("assistant");
    cJSON_AddItemToArray(msgs, as);
    if (rnd(3) == 0) {
      cJSON_AddStringToObject(as, "content", rtext(t, sizeof t));
      continue;
    }
    cJSON *c = cJSON_AddArrayToObject(as, "content");
    for (int k = 0, n = (int)rnd(3); k < n; k++) cJSON_AddItemToArray(c, text_item("text", rtext(t, sizeof t)));
    pending = cJSON_GetArraySize(c) == 0 ? 1 + (int)rnd(3) : (int)rnd(4);
    for (int k = 0; k < pending; k++) {
      snprintf(ids[k], sizeof ids[k], "toolu_%d", ++call_seq);
      cJSON *b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "type", "tool_use");
      cJSON_AddStringToObject(b, "id", ids[k]);
      cJSON_AddStringToObject(b, "name", rnd(2) ? "get_weather" : "search");
      cJSON_AddItemToObject(b, "input", rargs_obj());
      cJSON_AddItemToArray(c, b);
    }
  }
  if (rnd(2)) {
    cJSON *tools = cJSON_AddArrayToObject(a, "tools");
    for (int i = 0, n = 1 + (int)rnd(2); i < n; i++) {
      cJSON *tl = cJSON_CreateObject();
      cJSON_AddStringToObject(tl, "name", i ? "search" : "get_weather");
      if (rnd(2)) cJSON_AddStringToObject(tl, "description", rtext(t, sizeof t));
      cJSON *s = cJSON_AddObjectToObject(tl, "input_schema");
      cJSON_AddStringToObject(s, "type", "object");
      cJSON_AddItemToObject(s, "properties", rargs_obj());
      cJSON_AddItemToArray(tools, tl);
    }
  }
  if (rnd(2)) {
    static const char *const types[] = {"auto", "any", "tool", "none"};
    const char *ty = types[rnd(4)];
    cJSON *tc = cJSON_AddObjectToObject(a, "tool_choice");
    cJSON_AddStringToObject(tc, "type", ty);
    if (strcmp(ty, "tool") == 0) cJSON_AddStringToObject(tc, "name", "search");
    if (strcmp(ty, "none") != 0 && rnd(2)) cJSON_AddBoolToObject(tc, "disable_parallel_tool_use", rnd(2));
  }
  if (rnd(2)) cJSON_AddNumberToObject(a, "temperature", rnd(101) / 100.0);
  if (rnd(3) == 0) cJSON_AddNumberToObject(a, "top_p", rnd(101) / 100.0);
  if (rnd(2)) {
    cJSON *s = cJSON_AddArrayToObject(a, "stop_sequences");
    for (int k = 0, n = 1 + (int)rnd(3); k < n; k++) cJSON_AddItemToArray(s, cJSON_CreateString(rtext(t, sizeof t)));
  }
  if (rnd(2)) cJSON_AddStringToObject(cJSON_AddObjectToObject(a, "metadata"), "user_id", "user-7");
  if (rnd(2)) cJSON_AddBoolToObject(a, "stream", rnd(2));
  return a;
}

static cJSON *norm_anth(const cJSON *orig) {
  cJSON *a = cJSON_Duplicate(orig, 1);
  cJSON *sys = cJSON_GetObjectItem(a, "system");
  if (cJSON_IsArray(sys) && cJSON_GetArraySize(sys) == 1)
    cJSON_ReplaceItemInObject(a, "system", cJSON_CreateString(cJSON_GetObjectItem(sys->child, "text")->valuestring));
  cJSON *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(a, "messages")) {
    cJSON *c = cJSON_GetObjectItem(m, "content");
    if (!cJSON_IsArray(c)) continue;
    bool user = strcmp(cJSON_GetObjectItem(m, "role")->valuestring, "user") == 0;
    cJSON *nc = cJSON_CreateArray();
    kl_buf text = KL_BUF_INIT;
    cJSON *b;
    if (user) { /* tool_result first, content joined into a string */
      cJSON_ArrayForEach(b, c) {
        if (strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "tool_result") != 0) continue;
        cJSON *d = cJSON_Duplicate(b, 1);
        kl_buf s = KL_BUF_INIT;
        cJSON *rc = cJSON_GetObjectItem(d, "content");
        if (rc) join_text(&s, rc, "\n");
        cJSON_DeleteItemFromObject(d, "content");
        cJSON_AddStringToObject(d, "content", s.data ? s.data : "");
        kl_buf_free(&s);
        cJSON_AddItemToArray(nc, d);
      }
      cJSON_ArrayForEach(b, c)
        if (strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "tool_result") != 0) cJSON_AddItemToArray(nc, cJSON_Duplicate(b, 1));
      cJSON_ReplaceItemInObject(m, "content", nc);
    } else {
      int ntools = 0;
      cJSON_ArrayForEach(b, c) {
        if (strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "text") == 0) kl_buf_puts(&text, cJSON_GetObjectItem(b, "text")->valuestring);
      }
      if (text.len) cJSON_AddItemToArray(nc, text_item("text", text.data));
      cJSON_ArrayForEach(b, c) {
        if (strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "tool_use") == 0) {
          cJSON_AddItemToArray(nc, cJSON_Duplicate(b, 1));
          ntools++;
        }
      }
      if (ntools) {
        cJSON_ReplaceItemInObject(m, "content", nc);
      } else {
        cJSON_Delete(nc);
        cJSON_ReplaceItemInObject(m, "content", cJSON_CreateString(text.data ? text.data : ""));
      }
    }
    kl_buf_free(&text);
  }
  cJSON *tc = cJSON_GetObjectItem(a, "tool_choice");
  if (cJSON_IsFalse(cJSON_GetObjectItem(tc, "disable_parallel_tool_use"))) cJSON_DeleteItemFromObject(tc, "disable_parallel_tool_use");
  return a;
}

static void test_roundtrip_anthropic(void **st) {
  (void)st;
  for (unsigned seed = 1; seed <= 2000; seed++) {
    rng_state = seed * 40503u + 7u;
    cJSON *a = gen_anth();
    kl_err err;
    kl_err_clear(&err);
    if (kl_anth_req_validate(a, &err)) fail_msg("seed %u: generator made an invalid request: %s", seed, err.msg);
    cJSON *o = kl_anth_req_to_openai(a, &err);
    if (!o) fail_msg("seed %u: A->O: %s", seed, err.msg);
    /* the translation is a valid OpenAI request */
    char *s = cJSON_PrintUnformatted(o);
    kl_chat_req r;
    if (kl_chat_req_parse(NULL, s, strlen(s), &r, &err)) fail_msg("seed %u: invalid OpenAI request: %s", seed, err.msg);
    cJSON_Delete(r.root);
    free(s);
    cJSON *back = kl_anth_req_from_openai(o, &err);
    if (!back) fail_msg("seed %u: O->A: %s", seed, err.msg);
    cJSON *want = norm_anth(a);
    assert_same(back, want, "Anthropic -> OpenAI -> Anthropic", seed);
    cJSON_Delete(a);
    cJSON_Delete(o);
    cJSON_Delete(back);
    cJSON_Delete(want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_openai),
      cmocka_unit_test(test_roundtrip_anthropic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
