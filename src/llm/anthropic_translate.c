/* anthropic_translate.c: chat requests, OpenAI <-> Anthropic Messages.
 *
 * The mapping table is in anthropic.h; this file is its implementation.  Both directions work
 * on cJSON trees and build a fresh tree, so the input is never modified and a failure halfway
 * just deletes the partial output.  Top-level fields are classified against explicit lists
 * (mapped, identity-only, dropped on purpose); anything else is a 400, because a gateway that
 * silently drops a parameter changes the model's behaviour behind the client's back.
 *
 * Anthropic requires user/assistant alternation and has a single system prompt, OpenAI has
 * neither rule, so OpenAI -> Anthropic merges consecutive same-role messages into one turn
 * (tool results are user turns) and hoists system messages; the turn builder below keeps a
 * turn's content as a string only while it is exactly one string message, which is what makes
 * the round trip stable (see the normalisation in anthropic.h). */
#include "llm/anthropic_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static cJSON *bad(kl_err *err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kl_err_set(err, 400, "%s", msg);
  return NULL;
}

static bool in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

/* ====================== OpenAI -> Anthropic ====================== */

/* A turn under construction: role, blocks, and whether it is still exactly one string message. */
typedef struct turn {
  cJSON *msg;     /* {"role":..,"content":[..]} inside the output messages array */
  cJSON *blocks;  /* its content array */
  int nmsgs;
  const char *str;  /* the single string content, while nmsgs == 1 and it was a string */
} turn;

/* Replaces a finished turn's block array by its string when it was exactly one string message. */
static void finish_turn(turn *t) {
  if (t->msg && t->nmsgs == 1 && t->str)
    cJSON_ReplaceItemInObjectCaseSensitive(t->msg, "content", anth_nn(cJSON_CreateString(t->str)));
}

/* Continues the current turn when it has `role`, else finishes it and starts a new one. */
static void turn_for(turn *t, cJSON *out_msgs, const char *role) {
  if (t->msg && strcmp(anth_str(t->msg, "role"), role) == 0) {
    t->nmsgs++;
    t->str = NULL;
    return;
  }
  finish_turn(t);
  t->msg = anth_push(out_msgs, cJSON_CreateObject());
  anth_add_str(t->msg, "role", role);
  t->blocks = anth_add(t->msg, "content", cJSON_CreateArray());
  t->nmsgs = 1;
  t->str = NULL;
}

static cJSON *text_block(const char *s) {
  cJSON *b = anth_nn(cJSON_CreateObject());
  anth_add_str(b, "type", "text");
  anth_add_str(b, "text", s);
  return b;
}

/* image_url part -> image block, or NULL + err */
static cJSON *image_block(const cJSON *part, const char *at, kl_err *err) {
  const cJSON *iu = anth_get(part, "image_url");
  const char *url = anth_str(iu, "url");
  if (!url) return bad(err, "%s.image_url.url: required string", at);
  cJSON *b = anth_nn(cJSON_CreateObject());
  anth_add_str(b, "type", "image");
  cJSON *src = anth_add(b, "source", cJSON_CreateObject());
  if (strncmp(url, "data:", 5) == 0) {
    const char *semi = strstr(url, ";base64,");
    const char *comma = strchr(url, ',');
    if (!semi || comma < semi || semi == url + 5) {
      cJSON_Delete(b);
      return bad(err, "%s.image_url.url: only base64 data: URLs can be translated to Anthropic", at);
    }
    anth_add_str(src, "type", "base64");
    char *mt = strndup(url + 5, (size_t)(semi - (url + 5)));
    if (!mt) abort();
    anth_add_str(src, "media_type", mt);
    free(mt);
    anth_add_str(src, "data", semi + 8);
  } else if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) {
    anth_add_str(src, "type", "url");
    anth_add_str(src, "url", url);
  } else {
    cJSON_Delete(b);
    return bad(err, "%s.image_url.url: expected a data: or http(s) URL", at);
  }
  return b;
}

/* Appends the blocks of one OpenAI content (string or parts) to `blocks`.  allow_images: user
 * messages only.  Returns the string when the content was a plain string. */
static int content_blocks(const cJSON *c, cJSON *blocks, bool allow_images, const char *at, kl_err *err) {
  if (cJSON_IsString(c)) {
    anth_push(blocks, text_block(c->valuestring));
    return 0;
  }
  if (!cJSON_IsArray(c)) {
    bad(err, "%s.content: expected a string or an array of content parts", at);
    return -1;
  }
  int k = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, c) {
    char pat[128];
    snprintf(pat, sizeof pat, "%s.content[%d]", at, k++);
    const char *type = anth_str(p, "type");
    if (!type) {
      bad(err, "%s.type: required string", pat);
      return -1;
    }
    if (strcmp(type, "text") == 0) {
      const char *s = anth_str(p, "text");
      if (!s) {
        bad(err, "%s.text: required string", pat);
        return -1;
      }
      anth_push(blocks, text_block(s));
    } else if (strcmp(type, "image_url") == 0 && allow_images) {
      cJSON *b = image_block(p, pat, err);
      if (!b) return -1;
      anth_push(blocks, b);
    } else {
      bad(err, "%s.type: '%.40s' parts cannot be translated to Anthropic here", pat, type);
      return -1;
    }
  }
  return 0;
}

static int tool_calls_to_blocks(const cJSON *tcs, cJSON *blocks, const char *at, kl_err *err) {
  if (!cJSON_IsArray(tcs)) {
    bad(err, "%s.tool_calls: expected an array", at);
    return -1;
  }
  int k = 0;
  const cJSON *tc;
  cJSON_ArrayForEach(tc, tcs) {
    const char *type = anth_str(tc, "type");
    const cJSON *fn = anth_get(tc, "function");
    const char *id = anth_str(tc, "id"), *name = anth_str(fn, "name"), *args = anth_str(fn, "arguments");
    if (type && strcmp(type, "function") != 0) {
      bad(err, "%s.tool_calls[%d].type: only function tool calls can be translated to Anthropic", at, k);
      return -1;
    }
    if (!id || !name || !args) {
      bad(err, "%s.tool_calls[%d]: id, function.name and function.arguments must be strings", at, k);
      return -1;
    }
    cJSON *input;
    if (!*args) {
      input = anth_nn(cJSON_CreateObject()); /* some models send "" for a call without arguments */
    } else {
      input = kl_json_parse(args, strlen(args), NULL);
      if (!cJSON_IsObject(input)) {
        cJSON_Delete(input);
        bad(err, "%s.tool_calls[%d].function.arguments: must be a JSON object", at, k);
        return -1;
      }
    }
    cJSON *b = anth_push(blocks, cJSON_CreateObject());
    anth_add_str(b, "type", "tool_use");
    anth_add_str(b, "id", id);
    anth_add_str(b, "name", name);
    anth_add(b, "input", input);
    k++;
  }
  return 0;
}

/* One OpenAI message into the turn list / system blocks. */
static int convert_msg(const cJSON *m, int i, turn *t, cJSON *out_msgs, cJSON *system, int *sys_strings,
                       kl_err *err) {
  char at[48];
  snprintf(at, sizeof at, "messages[%d]", i);
  const char *role = anth_str(m, "role");
  if (!role) return bad(err, "%s.role: required string", at), -1;
  if (anth_get(m, "name")) return bad(err, "%s.name: not supported by Anthropic", at), -1;
  const cJSON *c = anth_get(m, "content");
  if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
    if (cJSON_IsString(c)) (*sys_strings)++;
    else *sys_strings = 1000; /* a parts array: the system prompt must stay an array */
    return content_blocks(c, system, false, at, err);
  }
  if (strcmp(role, "user") == 0) {
    turn_for(t, out_msgs, "user");
    if (content_blocks(c, t->blocks, true, at, err)) return -1;
    if (t->nmsgs == 1 && cJSON_IsString(c)) t->str = c->valuestring;
    return 0;
  }
  if (strcmp(role, "assistant") == 0) {
    static const char *const unsupported[] = {"refusal", "audio", "function_call"};
    for (size_t k = 0; k < 3; k++)
      if (anth_get(m, unsupported[k])) return bad(err, "%s.%s: cannot be translated to Anthropic", at, unsupported[k]), -1;
    turn_for(t, out_msgs, "assistant");
    const cJSON *tcs = anth_get(m, "tool_calls");
    if (cJSON_IsString(c) && *c->valuestring) {
      anth_push(t->blocks, text_block(c->valuestring));
    } else if (cJSON_IsArray(c)) {
      /* text parts are one text in OpenAI's model: join them into one block */
      cJSON *tmp = anth_nn(cJSON_CreateArray());
      if (content_blocks(c, tmp, false, at, err)) return cJSON_Delete(tmp), -1;
      kl_buf s = KL_BUF_INIT;
      const cJSON *b;
      cJSON_ArrayForEach(b, tmp) kl_buf_puts(&s, anth_str(b, "text"));
      cJSON_Delete(tmp);
      if (s.len) anth_push(t->blocks, text_block(s.data));
      kl_buf_free(&s);
    } else if (c && !cJSON_IsString(c)) {
      return bad(err, "%s.content: expected a string or an array of content parts", at), -1;
    }
    if (tcs && tool_calls_to_blocks(tcs, t->blocks, at, err)) return -1;
    if (t->nmsgs == 1 && !tcs && (!c || cJSON_IsString(c))) t->str = c ? c->valuestring : "";
    return 0;
  }
  if (strcmp(role, "tool") == 0) {
    const char *id = anth_str(m, "tool_call_id");
    if (!id) return bad(err, "%s.tool_call_id: required string", at), -1;
    turn_for(t, out_msgs, "user");
    cJSON *b = anth_push(t->blocks, cJSON_CreateObject());
    anth_add_str(b, "type", "tool_result");
    anth_add_str(b, "tool_use_id", id);
    if (cJSON_IsString(c) || !c) {
      anth_add_str(b, "content", c ? c->valuestring : "");
    } else {
      cJSON *blocks = anth_add(b, "content", cJSON_CreateArray());
      if (content_blocks(c, blocks, false, at, err)) return -1;
    }
    return 0;
  }
  return bad(err, "%s.role: '%.20s' messages cannot be translated to Anthropic", at, role), -1;
}

static int convert_messages(const cJSON *msgs, cJSON *out, kl_err *err) {
  if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
    return bad(err, "messages: required non-empty array of message objects"), -1;
  cJSON *system = anth_nn(cJSON_CreateArray());
  cJSON *out_msgs = anth_nn(cJSON_CreateArray());
  int sys_strings = 0, i = 0;
  turn t = {0};
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    if (!cJSON_IsObject(m)) {
      bad(err, "messages[%d]: expected an object", i);
      goto fail;
    }
    if (convert_msg(m, i++, &t, out_msgs, system, &sys_strings, err)) goto fail;
  }
  finish_turn(&t);
  if (cJSON_GetArraySize(out_msgs) == 0) {
    bad(err, "messages: no user or assistant messages");
    goto fail;
  }
  int nsys = cJSON_GetArraySize(system);
  if (nsys == 1 && sys_strings == 1) {
    anth_add_str(out, "system", anth_str(system->child, "text"));
    cJSON_Delete(system);
  } else if (nsys > 0) {
    cJSON_AddItemToObject(out, "system", system);
  } else {
    cJSON_Delete(system);
  }
  cJSON_AddItemToObject(out, "messages", out_msgs);
  return 0;
fail:
  cJSON_Delete(system);
  cJSON_Delete(out_msgs);
  return -1;
}

static int convert_tools(const cJSON *tools, cJSON *out, kl_err *err) {
  if (!cJSON_IsArray(tools)) return bad(err, "tools: expected an array"), -1;
  cJSON *arr = anth_add(out, "tools", cJSON_CreateArray());
  int i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, tools) {
    const char *type = anth_str(t, "type");
    const cJSON *fn = anth_get(t, "function");
    if (!type || strcmp(type, "function") != 0)
      return bad(err, "tools[%d].type: only function tools can be translated to Anthropic", i), -1;
    const char *name = anth_str(fn, "name");
    if (!name || !*name) return bad(err, "tools[%d].function.name: required non-empty string", i), -1;
    if (cJSON_IsTrue(anth_get(fn, "strict")))
      return bad(err, "tools[%d].function.strict: strict schemas cannot be translated to Anthropic", i), -1;
    const cJSON *desc = anth_get(fn, "description"), *params = anth_get(fn, "parameters");
    if (desc && !cJSON_IsString(desc)) return bad(err, "tools[%d].function.description: expected a string", i), -1;
    if (params && !cJSON_IsObject(params)) return bad(err, "tools[%d].function.parameters: expected an object", i), -1;
    cJSON *o = anth_push(arr, cJSON_CreateObject());
    anth_add_str(o, "name", name);
    if (desc) anth_add_str(o, "description", desc->valuestring);
    if (params) {
      anth_add(o, "input_schema", cJSON_Duplicate(params, 1));
    } else {
      cJSON *s = anth_add(o, "input_schema", cJSON_CreateObject());
      anth_add_str(s, "type", "object");
      anth_add(s, "properties", cJSON_CreateObject());
    }
    i++;
  }
  return 0;
}

static int convert_tool_choice(const cJSON *tc, const cJSON *parallel, cJSON *out, kl_err *err) {
  if (parallel && !cJSON_IsBool(parallel)) return bad(err, "parallel_tool_calls: expected a boolean"), -1;
  bool no_parallel = cJSON_IsFalse(parallel);
  if (!tc && !no_parallel) return 0;
  cJSON *o = anth_add(out, "tool_choice", cJSON_CreateObject());
  if (!tc) {
    anth_add_str(o, "type", "auto");
  } else if (cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    if (strcmp(s, "auto") == 0) anth_add_str(o, "type", "auto");
    else if (strcmp(s, "none") == 0) anth_add_str(o, "type", "none");
    else if (strcmp(s, "required") == 0) anth_add_str(o, "type", "any");
    else return bad(err, "tool_choice: expected auto, none, required or a function"), -1;
  } else {
    const char *type = anth_str(tc, "type");
    const char *name = anth_str(anth_get(tc, "function"), "name");
    if (!type || strcmp(type, "function") != 0 || !name)
      return bad(err, "tool_choice: expected auto, none, required or {\"type\":\"function\",\"function\":{\"name\"}}"), -1;
    anth_add_str(o, "type", "tool");
    anth_add_str(o, "name", name);
  }
  if (no_parallel && strcmp(anth_str(o, "type"), "none") != 0) anth_add(o, "disable_parallel_tool_use", cJSON_CreateTrue());
  return 0;
}

static bool is_pos_int(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 9007199254740992.0 &&
         floor(v->valuedouble) == v->valuedouble;
}

/* Fields accepted only at their identity value: true when v is that value. */
static bool identity_value(const char *k, const cJSON *v) {
  if (strcmp(k, "n") == 0) return cJSON_IsNumber(v) && v->valuedouble == 1;
  if (strcmp(k, "logprobs") == 0) return cJSON_IsFalse(v);
  if (strcmp(k, "top_logprobs") == 0 || strcmp(k, "presence_penalty") == 0 || strcmp(k, "frequency_penalty") == 0)
    return cJSON_IsNumber(v) && v->valuedouble == 0;
  if (strcmp(k, "logit_bias") == 0) return cJSON_IsObject(v) && !v->child;
  if (strcmp(k, "modalities") == 0)
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 && cJSON_IsString(v->child) &&
           strcmp(v->child->valuestring, "text") == 0;
  if (strcmp(k, "response_format") == 0) {
    const char *t = anth_str(v, "type");
    return t && strcmp(t, "text") == 0;
  }
  return false;
}

cJSON *kl_anth_req_from_openai(const cJSON *o, kl_err *err) {
  static const char *const mapped[] = {"model", "messages", "tools", "tool_choice", "parallel_tool_calls",
                                       "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
                                       "user", "stream", "service_tier", NULL};
  static const char *const identity[] = {"n", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty",
                                         "logit_bias", "modalities", "response_format", NULL};
  static const char *const dropped[] = {"stream_options", "metadata", "store", NULL};
  if (!cJSON_IsObject(o)) return bad(err, "request body must be a JSON object");
  const cJSON *f;
  cJSON_ArrayForEach(f, o) {
    if (cJSON_IsNull(f) || !f->string || in_list(f->string, mapped) || in_list(f->string, dropped)) continue;
    if (in_list(f->string, identity)) {
      if (!identity_value(f->string, f)) return bad(err, "%s: this value cannot be translated to Anthropic", f->string);
      continue;
    }
    return bad(err, "%.60s: not supported when translating to the Anthropic Messages API", f->string);
  }
  const char *model = anth_str(o, "model");
  if (!model) return bad(err, "model: required string");
  if (!*model) return bad(err, "model: must not be empty");

  cJSON *out = anth_nn(cJSON_CreateObject());
  anth_add_str(out, "model", model);
  const cJSON *mt = anth_get(o, "max_completion_tokens");
  const char *mt_name = "max_completion_tokens";
  if (!mt) mt = anth_get(o, "max_tokens"), mt_name = "max_tokens";
  if (mt && !is_pos_int(mt)) {
    bad(err, "%s: must be a positive integer", mt_name);
    goto fail;
  }
  anth_add_num(out, "max_tokens", mt ? mt->valuedouble : KL_ANTH_DEFAULT_MAX_TOKENS);
  if (convert_messages(anth_get(o, "messages"), out, err)) goto fail;
  const cJSON *tools = anth_get(o, "tools");
  if (tools && convert_tools(tools, out, err)) goto fail;
  if (convert_tool_choice(anth_get(o, "tool_choice"), anth_get(o, "parallel_tool_calls"), out, err)) goto fail;

  const cJSON *temp = anth_get(o, "temperature"), *top_p = anth_get(o, "top_p");
  if (temp && (!cJSON_IsNumber(temp) || temp->valuedouble < 0 || temp->valuedouble > 1)) {
    bad(err, "temperature: must be a number between 0 and 1 for Anthropic");
    goto fail;
  }
  if (temp) anth_add_num(out, "temperature", temp->valuedouble);
  if (top_p && !cJSON_IsNumber(top_p)) {
    bad(err, "top_p: must be a number");
    goto fail;
  }
  if (top_p) anth_add_num(out, "top_p", top_p->valuedouble);

  const cJSON *stop = anth_get(o, "stop");
  if (cJSON_IsString(stop)) {
    anth_push(anth_add(out, "stop_sequences", cJSON_CreateArray()), cJSON_CreateString(stop->valuestring));
  } else if (stop) {
    const cJSON *s;
    bool ok = cJSON_IsArray(stop);
    cJSON_ArrayForEach(s, anth_arr(stop)) ok &= cJSON_IsString(s);
    if (!ok) {
      bad(err, "stop: expected a string or an array of strings");
      goto fail;
    }
    anth_add(out, "stop_sequences", cJSON_Duplicate(stop, 1));
  }
  const cJSON *user = anth_get(o, "user");
  if (user && !cJSON_IsString(user)) {
    bad(err, "user: expected a string");
    goto fail;
  }
  if (user) anth_add_str(anth_add(out, "metadata", cJSON_CreateObject()), "user_id", user->valuestring);
  const cJSON *stream = anth_get(o, "stream");
  if (stream && !cJSON_IsBool(stream)) {
    bad(err, "stream: expected a boolean");
    goto fail;
  }
  if (stream) anth_add(out, "stream", cJSON_CreateBool(cJSON_IsTrue(stream)));
  const char *tier = anth_str(o, "service_tier");
  if (anth_get(o, "service_tier")) {
    if (tier && strcmp(tier, "auto") == 0) anth_add_str(out, "service_tier", "auto");
    else if (tier && strcmp(tier, "default") == 0) anth_add_str(out, "service_tier", "standard_only");
    else {
      bad(err, "service_tier: only auto and default can be translated to Anthropic");
      goto fail;
    }
  }
  return out;
fail:
  cJSON_Delete(out);
  return NULL;
}

/* ====================== Anthropic -> OpenAI ====================== */

static cJSON *image_part(const cJSON *b) {
  const cJSON *src = anth_get(b, "source");
  const char *st = anth_str(src, "type");
  cJSON *p = anth_nn(cJSON_CreateObject());
  anth_add_str(p, "type", "image_url");
  cJSON *iu = anth_add(p, "image_url", cJSON_CreateObject());
  if (strcmp(st, "base64") == 0) {
    kl_buf u = KL_BUF_INIT;
    kl_buf_printf(&u, "data:%s;base64,%s", anth_str(src, "media_type"), anth_str(src, "data"));
    anth_add_str(iu, "url", u.data);
    kl_buf_free(&u);
  } else {
    anth_add_str(iu, "url", anth_str(src, "url"));
  }
  return p;
}

static bool image_is_file(const cJSON *b) { return strcmp(anth_str(anth_get(b, "source"), "type"), "file") == 0; }

static cJSON *text_part(const char *s) {
  cJSON *p = anth_nn(cJSON_CreateObject());
  anth_add_str(p, "type", "text");
  anth_add_str(p, "text", s);
  return p;
}

static cJSON *tool_message(const cJSON *b, const char *at, kl_err *err) {
  const cJSON *c = anth_get(b, "content");
  kl_buf s = KL_BUF_INIT;
  if (cJSON_IsTrue(anth_get(b, "is_error"))) kl_buf_puts(&s, KL_ANTH_TOOL_ERROR_PREFIX);
  if (cJSON_IsString(c)) kl_buf_puts(&s, c->valuestring);
  int k = 0;
  const cJSON *sub;
  cJSON_ArrayForEach(sub, anth_arr(c)) {
    const char *t = anth_str(sub, "type");
    if (strcmp(t, "text") != 0) {
      kl_buf_free(&s);
      return bad(err, "%s.content[%d].type: '%.40s' blocks in tool results cannot be translated to OpenAI", at, k, t);
    }
    if (k++) kl_buf_putc(&s, '\n');
    kl_buf_puts(&s, anth_str(sub, "text"));
  }
  cJSON *m = anth_nn(cJSON_CreateObject());
  anth_add_str(m, "role", "tool");
  anth_add_str(m, "tool_call_id", anth_str(b, "tool_use_id"));
  anth_add_str(m, "content", s.data ? s.data : "");
  kl_buf_free(&s);
  return m;
}

static int user_turn(const cJSON *c, int i, cJSON *out, kl_err *err) {
  if (cJSON_IsString(c)) {
    cJSON *m = anth_push(out, cJSON_CreateObject());
    anth_add_str(m, "role", "user");
    anth_add_str(m, "content", c->valuestring);
    return 0;
  }
  cJSON *parts = anth_nn(cJSON_CreateArray());
  int k = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, c) {
    char at[80];
    snprintf(at, sizeof at, "messages[%d].content[%d]", i, k++);
    const char *t = anth_str(b, "type");
    if (strcmp(t, "text") == 0) {
      anth_push(parts, text_part(anth_str(b, "text")));
    } else if (strcmp(t, "image") == 0 && !image_is_file(b)) {
      anth_push(parts, image_part(b));
    } else if (strcmp(t, "tool_result") == 0) {
      cJSON *m = tool_message(b, at, err);
      if (!m) return cJSON_Delete(parts), -1;
      anth_push(out, m);
    } else {
      cJSON_Delete(parts);
      return bad(err, "%s.type: '%.40s' blocks cannot be translated to OpenAI", at, t), -1;
    }
  }
  if (cJSON_GetArraySize(parts) > 0) {
    cJSON *m = anth_push(out, cJSON_CreateObject());
    anth_add_str(m, "role", "user");
    anth_add(m, "content", parts);
  } else {
    cJSON_Delete(parts);
  }
  return 0;
}

static int assistant_turn(const cJSON *c, int i, cJSON *out, kl_err *err) {
  cJSON *m = anth_push(out, cJSON_CreateObject());
  anth_add_str(m, "role", "assistant");
  if (cJSON_IsString(c)) {
    anth_add_str(m, "content", c->valuestring);
    return 0;
  }
  kl_buf text = KL_BUF_INIT;
  cJSON *tcs = anth_nn(cJSON_CreateArray());
  int k = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, c) {
    const char *t = anth_str(b, "type");
    if (strcmp(t, "text") == 0) {
      kl_buf_puts(&text, anth_str(b, "text"));
    } else if (strcmp(t, "tool_use") == 0) {
      cJSON *tc = anth_push(tcs, cJSON_CreateObject());
      anth_add_str(tc, "id", anth_str(b, "id"));
      anth_add_str(tc, "type", "function");
      cJSON *fn = anth_add(tc, "function", cJSON_CreateObject());
      anth_add_str(fn, "name", anth_str(b, "name"));
      char *args = anth_print(anth_get(b, "input"));
      anth_add_str(fn, "arguments", args);
      cJSON_free(args);
    } else {
      kl_buf_free(&text);
      cJSON_Delete(tcs);
      return bad(err, "messages[%d].content[%d].type: '%.40s' blocks cannot be translated to OpenAI", i, k, t), -1;
    }
    k++;
  }
  bool has_tools = cJSON_GetArraySize(tcs) > 0;
  if (text.len || !has_tools) anth_add_str(m, "content", text.data ? text.data : "");
  else anth_add(m, "content", cJSON_CreateNull());
  if (has_tools) cJSON_AddItemToObject(m, "tool_calls", tcs);
  else cJSON_Delete(tcs);
  kl_buf_free(&text);
  return 0;
}

cJSON *kl_anth_req_to_openai(const cJSON *a, kl_err *err) {
  static const char *const mapped[] = {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stream",
                                       "temperature", "top_p", "stop_sequences", "metadata", "service_tier",
                                       "thinking", "top_k", NULL};
  if (kl_anth_req_validate(a, err)) return NULL;
  if (anth_get(a, "top_k")) return bad(err, "top_k: no OpenAI equivalent");
  const cJSON *f;
  cJSON_ArrayForEach(f, a) {
    if (cJSON_IsNull(f) || !f->string || in_list(f->string, mapped)) continue;
    return bad(err, "%.60s: not supported when translating to the OpenAI chat API", f->string);
  }
  const cJSON *md = anth_get(a, "metadata");
  cJSON_ArrayForEach(f, md) {
    if (!cJSON_IsNull(f) && strcmp(f->string, "user_id") != 0)
      return bad(err, "metadata.%.60s: cannot be translated to OpenAI", f->string);
  }
  const char *think = anth_str(anth_get(a, "thinking"), "type");
  if (think && strcmp(think, "disabled") != 0) return bad(err, "thinking: extended thinking cannot be translated to OpenAI");
  const char *tier = anth_str(a, "service_tier");
  if (anth_get(a, "service_tier") && (!tier || (strcmp(tier, "auto") && strcmp(tier, "standard_only"))))
    return bad(err, "service_tier: only auto and standard_only can be translated to OpenAI");

  cJSON *out = anth_nn(cJSON_CreateObject());
  anth_add_str(out, "model", anth_str(a, "model"));
  cJSON *msgs = anth_add(out, "messages", cJSON_CreateArray());
  const cJSON *sys = anth_get(a, "system");
  if (cJSON_IsString(sys)) {
    cJSON *m = anth_push(msgs, cJSON_CreateObject());
    anth_add_str(m, "role", "system");
    anth_add_str(m, "content", sys->valuestring);
  }
  const cJSON *b;
  cJSON_ArrayForEach(b, anth_arr(sys)) {
    cJSON *m = anth_push(msgs, cJSON_CreateObject());
    anth_add_str(m, "role", "system");
    anth_add_str(m, "content", anth_str(b, "text"));
  }
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, anth_get(a, "messages")) {
    const cJSON *c = anth_get(m, "content");
    int rc = strcmp(anth_str(m, "role"), "user") == 0 ? user_turn(c, i, msgs, err) : assistant_turn(c, i, msgs, err);
    if (rc) goto fail;
    i++;
  }
  anth_add_num(out, "max_completion_tokens", anth_get(a, "max_tokens")->valuedouble);

  const cJSON *tools = anth_get(a, "tools");
  if (tools) {
    cJSON *arr = anth_add(out, "tools", cJSON_CreateArray());
    i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
      const char *type = anth_str(t, "type");
      if (type && strcmp(type, "custom") != 0) {
        bad(err, "tools[%d].type: server tool '%.40s' cannot be translated to OpenAI", i, type);
        goto fail;
      }
      cJSON *o = anth_push(arr, cJSON_CreateObject());
      anth_add_str(o, "type", "function");
      cJSON *fn = anth_add(o, "function", cJSON_CreateObject());
      anth_add_str(fn, "name", anth_str(t, "name"));
      const char *desc = anth_str(t, "description");
      if (desc) anth_add_str(fn, "description", desc);
      anth_add(fn, "parameters", cJSON_Duplicate(anth_get(t, "input_schema"), 1));
      i++;
    }
  }
  const cJSON *tc = anth_get(a, "tool_choice");
  if (tc) {
    const char *t = anth_str(tc, "type");
    if (strcmp(t, "auto") == 0) anth_add_str(out, "tool_choice", "auto");
    else if (strcmp(t, "none") == 0) anth_add_str(out, "tool_choice", "none");
    else if (strcmp(t, "any") == 0) anth_add_str(out, "tool_choice", "required");
    else {
      cJSON *o = anth_add(out, "tool_choice", cJSON_CreateObject());
      anth_add_str(o, "type", "function");
      anth_add_str(anth_add(o, "function", cJSON_CreateObject()), "name", anth_str(tc, "name"));
    }
    if (cJSON_IsTrue(anth_get(tc, "disable_parallel_tool_use"))) anth_add(out, "parallel_tool_calls", cJSON_CreateFalse());
  }
  static const char *const same[] = {"temperature", "top_p", "stream"};
  for (size_t k = 0; k < 3; k++) {
    const cJSON *v = anth_get(a, same[k]);
    if (v) anth_add(out, same[k], cJSON_Duplicate(v, 1));
  }
  const cJSON *ss = anth_get(a, "stop_sequences");
  if (ss) anth_add(out, "stop", cJSON_Duplicate(ss, 1));
  const char *uid = anth_str(md, "user_id");
  if (uid) anth_add_str(out, "user", uid);
  if (tier) anth_add_str(out, "service_tier", strcmp(tier, "auto") == 0 ? "auto" : "default");
  return out;
fail:
  cJSON_Delete(out);
  return NULL;
}
