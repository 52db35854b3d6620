/* test_guard_json.c: the JSON Schema validator (each keyword passing and failing, with the
 * error's keyword and instance path), schema compile errors, the strict syntax checker, fences,
 * UTF-8, nesting and work limits, and the json scanner end to end through a policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/json_schema.h"
#include "guard/kl_guard.h"

/* ---- the validator, table-driven: kw NULL = valid ---- */

typedef struct vcase {
  const char *schema, *instance, *kw, *path;
} vcase;

static const vcase cases[] = {
  /* type */
  {"{\"type\":\"string\"}", "\"a\"", NULL, NULL},
  {"{\"type\":\"string\"}", "1", "type", ""},
  {"{\"type\":\"integer\"}", "1", NULL, NULL},
  {"{\"type\":\"integer\"}", "1.0", NULL, NULL},  /* 1.0 is an integer */
  {"{\"type\":\"integer\"}", "1e2", NULL, NULL},
  {"{\"type\":\"integer\"}", "-0", NULL, NULL},
  {"{\"type\":\"integer\"}", "1.5", "type", ""},
  {"{\"type\":\"integer\"}", "\"1\"", "type", ""},
  {"{\"type\":\"number\"}", "1", NULL, NULL},
  {"{\"type\":\"number\"}", "1.5", NULL, NULL},
  {"{\"type\":\"number\"}", "\"1\"", "type", ""},
  {"{\"type\":\"boolean\"}", "false", NULL, NULL},
  {"{\"type\":\"boolean\"}", "0", "type", ""},
  {"{\"type\":\"null\"}", "null", NULL, NULL},
  {"{\"type\":\"null\"}", "false", "type", ""},
  {"{\"type\":\"object\"}", "{}", NULL, NULL},
  {"{\"type\":\"object\"}", "[]", "type", ""},
  {"{\"type\":\"array\"}", "[]", NULL, NULL},
  {"{\"type\":\"array\"}", "{}", "type", ""},
  {"{\"type\":[\"string\",\"null\"]}", "null", NULL, NULL},
  {"{\"type\":[\"string\",\"null\"]}", "\"x\"", NULL, NULL},
  {"{\"type\":[\"string\",\"null\"]}", "1", "type", ""},
  {"{\"type\":\"string\",\"nullable\":true}", "null", NULL, NULL},  /* OpenAPI 3.0 */
  /* properties, required, additionalProperties, patternProperties, propertyNames */
  {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":\"x\"}", NULL, NULL},
  {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}", "type", "/a"},
  {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"b\":1}", NULL, NULL},
  {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "5", NULL, NULL},  /* applies to objects only */
  {"{\"required\":[\"a\",\"b\"]}", "{\"a\":1,\"b\":null}", NULL, NULL},
  {"{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", "required", ""},
  {"{\"required\":[\"a\"]}", "[\"a\"]", NULL, NULL},
  {"{\"properties\":{\"a\":{\"items\":{\"properties\":{\"b~/c\":{\"type\":\"string\"}}}}}}",
   "{\"a\":[{\"b~/c\":\"x\"},{\"b~/c\":2}]}", "type", "/a/1/b~0~1c"},
  {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1}", NULL, NULL},
  {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1,\"b\":2}", "additionalProperties", ""},
  {"{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":1}", NULL, NULL},
  {"{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":\"s\"}", "type", "/x"},
  {"{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":false}", "{\"x-a\":\"s\"}", NULL, NULL},
  {"{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":false}", "{\"x-a\":1}", "type", "/x-a"},
  {"{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":false}", "{\"y\":1}",
   "additionalProperties", ""},
  {"{\"propertyNames\":{\"maxLength\":3}}", "{\"abc\":1}", NULL, NULL},
  {"{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}", "maxLength", "/abcd"},
  {"{\"minProperties\":1,\"maxProperties\":2}", "{\"a\":1}", NULL, NULL},
  {"{\"minProperties\":1,\"maxProperties\":2}", "{}", "minProperties", ""},
  {"{\"minProperties\":1,\"maxProperties\":2}", "{\"a\":1,\"b\":2,\"c\":3}", "maxProperties", ""},
  {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"a\":1}", "dependentRequired", ""},
  {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"b\":1}", NULL, NULL},
  {"{\"properties\":{\"a\":false}}", "{\"a\":1}", "false", "/a"},
  /* arrays */
  {"{\"items\":{\"type\":\"integer\"}}", "[1,2]", NULL, NULL},
  {"{\"items\":{\"type\":\"integer\"}}", "[1,\"x\"]", "type", "/1"},
  {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}", "[\"a\",1]", NULL, NULL},
  {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}", "[\"a\"]", NULL, NULL},
  {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}", "[\"a\",\"b\"]", "type", "/1"},
  {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}", "[\"a\",1,2]", "false", "/2"},
  {"{\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":\"integer\"}}", "[\"a\",1]", NULL, NULL},
  {"{\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":\"integer\"}}", "[\"a\",\"b\"]", "type", "/1"},
  {"{\"minItems\":1,\"maxItems\":2}", "[1]", NULL, NULL},
  {"{\"minItems\":1,\"maxItems\":2}", "[]", "minItems", ""},
  {"{\"minItems\":1,\"maxItems\":2}", "[1,2,3]", "maxItems", ""},
  {"{\"uniqueItems\":true}", "[1,2,\"1\",[1],{\"a\":1},{\"a\":2},0,false,null]", NULL, NULL},
  {"{\"uniqueItems\":true}", "[1,1]", "uniqueItems", ""},
  {"{\"uniqueItems\":true}", "[1,1.0]", "uniqueItems", ""},
  {"{\"uniqueItems\":true}", "[{\"a\":1},{\"a\":1}]", "uniqueItems", ""},
  {"{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", "uniqueItems", ""},
  {"{\"uniqueItems\":true}", "[[1,2],[1,2]]", "uniqueItems", ""},
  {"{\"uniqueItems\":true}", "[[1,2],[2,1]]", NULL, NULL},
  {"{\"uniqueItems\":false}", "[1,1]", NULL, NULL},
  {"{\"contains\":{\"type\":\"string\"}}", "[1,\"a\"]", NULL, NULL},
  {"{\"contains\":{\"type\":\"string\"}}", "[1,2]", "contains", ""},
  {"{\"contains\":{\"type\":\"string\"},\"minContains\":2}", "[\"a\",1]", "minContains", ""},
  {"{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]", "maxContains", ""},
  /* enum, const */
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "\"a\"", NULL, NULL},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "1.0", NULL, NULL},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "null", NULL, NULL},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "{\"x\":[1]}", NULL, NULL},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "\"b\"", "enum", ""},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "{\"x\":[2]}", "enum", ""},
  {"{\"enum\":[\"a\",1,null,{\"x\":[1]}]}", "true", "enum", ""},
  {"{\"const\":{\"a\":[1,2]}}", "{\"a\":[1,2]}", NULL, NULL},
  {"{\"const\":{\"a\":[1,2]}}", "{\"a\":[2,1]}", "const", ""},
  {"{\"const\":null}", "null", NULL, NULL},
  {"{\"const\":null}", "false", "const", ""},
  {"{\"properties\":{\"k\":{\"const\":\"v\"}}}", "{\"k\":\"w\"}", "const", "/k"},
  /* strings: length in code points, pattern (unanchored, ECMA-ish), format */
  {"{\"minLength\":2,\"maxLength\":3}", "\"ab\"", NULL, NULL},
  {"{\"minLength\":2,\"maxLength\":3}", "\"a\"", "minLength", ""},
  {"{\"minLength\":2,\"maxLength\":3}", "\"abcd\"", "maxLength", ""},
  {"{\"minLength\":2,\"maxLength\":3}", "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"", NULL, NULL},  /* 3 cp, 9 bytes */
  {"{\"minLength\":2,\"maxLength\":3}", "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", NULL, NULL},  /* 2 emoji */
  {"{\"minLength\":2,\"maxLength\":3}", "\"\xc3\xa9\"", "minLength", ""},
  {"{\"minLength\":2}", "\"\\u00e9\\u00e9\"", NULL, NULL},
  {"{\"maxLength\":1}", "\"\\ud83d\\ude00\"", NULL, NULL},  /* one surrogate pair = 1 code point */
  {"{\"minLength\":5}", "5", NULL, NULL},
  {"{\"pattern\":\"^[a-z]+$\"}", "\"abc\"", NULL, NULL},
  {"{\"pattern\":\"^[a-z]+$\"}", "\"aBc\"", "pattern", ""},
  {"{\"pattern\":\"b\"}", "\"abc\"", NULL, NULL},
  {"{\"pattern\":\"^\\\\u00e9$\"}", "\"\xc3\xa9\"", NULL, NULL},
  {"{\"pattern\":\"^.$\"}", "\"\xc3\xa9\"", NULL, NULL},
  {"{\"pattern\":\"^\\\\d+$\"}", "\"12\"", NULL, NULL},
  {"{\"pattern\":\"^\\\\d+$\"}", "\"\xd9\xa1\xd9\xa2\"", "pattern", ""},  /* \d is ASCII, as in ECMA */
  {"{\"pattern\":\"^(a+)+$\"}", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"", "pattern", ""},
  {"{\"format\":\"date-time\"}", "\"2024-02-29T12:00:00Z\"", NULL, NULL},
  {"{\"format\":\"date-time\"}", "\"2024-01-01t10:00:00.5+05:30\"", NULL, NULL},
  {"{\"format\":\"date-time\"}", "\"2023-02-29T12:00:00Z\"", "format", ""},
  {"{\"format\":\"date-time\"}", "\"2024-01-01T25:00:00Z\"", "format", ""},
  {"{\"format\":\"date-time\"}", "\"2024-01-01 10:00:00Z\"", "format", ""},
  {"{\"format\":\"date-time\"}", "\"2024-01-01T10:00:00\"", "format", ""},
  {"{\"format\":\"date\"}", "\"2000-02-29\"", NULL, NULL},
  {"{\"format\":\"date\"}", "\"1900-02-29\"", "format", ""},
  {"{\"format\":\"date\"}", "\"2024-13-01\"", "format", ""},
  {"{\"format\":\"time\"}", "\"23:59:60Z\"", NULL, NULL},
  {"{\"format\":\"time\"}", "\"23:59\"", "format", ""},
  {"{\"format\":\"email\"}", "\"john.doe+x@mail.example.com\"", NULL, NULL},
  {"{\"format\":\"email\"}", "\"no-at.example.com\"", "format", ""},
  {"{\"format\":\"email\"}", "\"a@@b.com\"", "format", ""},
  {"{\"format\":\"email\"}", "\"a b@c.com\"", "format", ""},
  {"{\"format\":\"email\"}", "\"a..b@c.com\"", "format", ""},
  {"{\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\"", NULL, NULL},
  {"{\"format\":\"uuid\"}", "\"123e4567e89b12d3a456426614174000\"", "format", ""},
  {"{\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-42661417400g\"", "format", ""},
  {"{\"format\":\"uri\"}", "\"https://example.com/a?b=1#c\"", NULL, NULL},
  {"{\"format\":\"uri\"}", "\"urn:isbn:0451450523\"", NULL, NULL},
  {"{\"format\":\"uri\"}", "\"/relative/path\"", "format", ""},
  {"{\"format\":\"uri\"}", "\"http://exa mple.com\"", "format", ""},
  {"{\"format\":\"ipv4\"}", "\"192.168.0.1\"", NULL, NULL},
  {"{\"format\":\"ipv4\"}", "\"192.168.0\"", "format", ""},
  {"{\"format\":\"ipv6\"}", "\"::1\"", NULL, NULL},
  {"{\"format\":\"ipv6\"}", "\"::g\"", "format", ""},
  {"{\"format\":\"hostname\"}", "\"api.example.com\"", NULL, NULL},
  {"{\"format\":\"hostname\"}", "\"-bad.example.com\"", "format", ""},
  {"{\"format\":\"no-such-format\"}", "\"anything\"", NULL, NULL},
  {"{\"format\":\"email\"}", "42", NULL, NULL},
  /* numbers */
  {"{\"minimum\":1,\"maximum\":3}", "1", NULL, NULL},
  {"{\"minimum\":1,\"maximum\":3}", "3", NULL, NULL},
  {"{\"minimum\":1,\"maximum\":3}", "0.5", "minimum", ""},
  {"{\"minimum\":1,\"maximum\":3}", "4", "maximum", ""},
  {"{\"minimum\":1}", "\"0\"", NULL, NULL},
  {"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":3}", "2", NULL, NULL},
  {"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":3}", "1", "exclusiveMinimum", ""},
  {"{\"exclusiveMinimum\":1,\"exclusiveMaximum\":3}", "3", "exclusiveMaximum", ""},
  {"{\"minimum\":1,\"exclusiveMinimum\":true}", "1", "exclusiveMinimum", ""},  /* draft-04 */
  {"{\"multipleOf\":0.1}", "0.3", NULL, NULL},
  {"{\"multipleOf\":0.1}", "0.35", "multipleOf", ""},
  {"{\"multipleOf\":3}", "9", NULL, NULL},
  {"{\"multipleOf\":3}", "10", "multipleOf", ""},
  {"{\"multipleOf\":0.01}", "19.99", NULL, NULL},
  /* applicators */
  {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1", NULL, NULL},
  {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1.5", "anyOf", ""},
  {"{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"required\":[\"x\"]}]}", "null", NULL, NULL},
  {"{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"required\":[\"x\"]}]}", "{}", "required", ""},
  {"{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}]}",
   "{\"a\":\"s\"}", "type", "/a"},
  {"{\"anyOf\":[{\"const\":\"a\"},{\"const\":\"b\"}]}", "\"c\"", "anyOf", ""},
  {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", NULL, NULL},
  {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "2.5", NULL, NULL},
  {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3", "oneOf", ""},
  {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1.5", "minimum", ""},  /* the branch that got furthest */
  {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3", NULL, NULL},
  {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", "minimum", ""},
  {"{\"not\":{\"type\":\"string\"}}", "1", NULL, NULL},
  {"{\"not\":{\"type\":\"string\"}}", "\"s\"", "not", ""},
  {"{\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},\"else\":{\"required\":[\"b\"]}}",
   "{\"k\":\"a\",\"a\":1}", NULL, NULL},
  {"{\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},\"else\":{\"required\":[\"b\"]}}",
   "{\"k\":\"a\"}", "required", ""},
  {"{\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},\"else\":{\"required\":[\"b\"]}}",
   "{\"k\":\"z\",\"b\":1}", NULL, NULL},
  {"{\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"a\"]},\"else\":{\"required\":[\"b\"]}}",
   "{\"k\":\"z\"}", "required", ""},
  /* $ref, $defs, definitions, recursion */
  {"{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"}}}",
   "{\"n\":1}", NULL, NULL},
  {"{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"}}}",
   "{\"n\":0}", "minimum", "/n"},
  {"{\"definitions\":{\"s\":{\"type\":\"string\"}},\"items\":{\"$ref\":\"#/definitions/s\"}}", "[\"a\"]", NULL, NULL},
  {"{\"definitions\":{\"s\":{\"type\":\"string\"}},\"items\":{\"$ref\":\"#/definitions/s\"}}", "[1]", "type", "/0"},
  {"{\"$defs\":{\"a/b\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/a~1b\"}", "1", "type", ""},
  {"{\"$defs\":{\"a b\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/a%20b\"}", "1", "type", ""},
  {"{\"$defs\":{\"s\":{\"maxLength\":1}},\"$ref\":\"#/$defs/s\",\"type\":\"string\"}", "\"ab\"", "maxLength", ""},
  {"{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}",
   "{\"name\":\"r\",\"children\":[{\"name\":\"a\",\"children\":[{\"name\":\"b\"}]}]}", NULL, NULL},
  {"{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}",
   "{\"name\":\"r\",\"children\":[{\"name\":\"a\",\"children\":[{}]}]}", "required", "/children/0/children/0"},
  {"{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"$ref\":\"#/properties/a\"}}}", "{\"b\":\"x\"}", "type", "/b"},
  /* boolean schemas, unknown keywords */
  {"true", "{\"anything\":[1]}", NULL, NULL},
  {"false", "1", "false", ""},
  {"{}", "null", NULL, NULL},
  {"{\"foo\":123,\"x-bar\":{\"type\":7},\"title\":\"t\",\"description\":\"d\",\"$schema\":\"x\"}", "1", NULL, NULL},
  /* an OpenAI structured-outputs style schema */
  {"{\"type\":\"object\",\"properties\":{\"steps\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
   "{\"explanation\":{\"type\":\"string\"},\"output\":{\"type\":\"string\"}},\"required\":[\"explanation\",\"output\"],"
   "\"additionalProperties\":false}},\"final_answer\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"steps\","
   "\"final_answer\"],\"additionalProperties\":false}",
   "{\"steps\":[{\"explanation\":\"e\",\"output\":\"o\"}],\"final_answer\":null}", NULL, NULL},
  {"{\"type\":\"object\",\"properties\":{\"steps\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
   "{\"explanation\":{\"type\":\"string\"},\"output\":{\"type\":\"string\"}},\"required\":[\"explanation\",\"output\"],"
   "\"additionalProperties\":false}},\"final_answer\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"steps\","
   "\"final_answer\"],\"additionalProperties\":false}",
   "{\"steps\":[{\"explanation\":\"e\",\"output\":\"o\"},{\"explanation\":\"e\"}],\"final_answer\":null}", "required",
   "/steps/1"},
};

static size_t run_case(const vcase *c, guard_schema_error *e) {
  kl_err err = {0};
  guard_schema *s = guard_schema_parse(c->schema, strlen(c->schema), &err);
  if (!s) fail_msg("schema %s: %s", c->schema, err.msg);
  cJSON *j = kl_json_parse(c->instance, strlen(c->instance), &err);
  if (!j) fail_msg("instance %s: %s", c->instance, err.msg);
  bool ok = guard_schema_validate(s, j, e);
  cJSON_Delete(j);
  guard_schema_free(s);
  return ok;
}

static void test_keywords(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const vcase *c = &cases[i];
    guard_schema_error e;
    bool ok = run_case(c, &e);
    if (!c->kw && !ok) fail_msg("#%zu %s / %s: unexpected %s at '%s': %s", i, c->schema, c->instance, e.keyword, e.path, e.message);
    if (c->kw && ok) fail_msg("#%zu %s / %s: passed, want %s", i, c->schema, c->instance, c->kw);
    if (c->kw && (strcmp(e.keyword, c->kw) != 0 || strcmp(e.path, c->path) != 0))
      fail_msg("#%zu %s / %s: got %s at '%s' (%s), want %s at '%s'", i, c->schema, c->instance, e.keyword, e.path,
               e.message, c->kw, c->path);
    if (c->kw) assert_true(e.message[0] != 0);
  }
}

static const char *first_error(const char *schema, const char *instance, guard_schema_error *e) {
  vcase c = {schema, instance, "x", ""};
  assert_false(run_case(&c, e));
  return e->message;
}

static void test_messages(void **state) {
  (void)state;
  guard_schema_error e;
  assert_non_null(strstr(first_error("{\"required\":[\"name\"]}", "{}", &e), "\"name\""));
  assert_non_null(strstr(first_error("{\"type\":\"integer\"}", "\"x\"", &e), "expected integer, got string"));
  assert_non_null(strstr(first_error("{\"type\":[\"string\",\"null\"]}", "1", &e), "null or string"));
  assert_non_null(strstr(first_error("{\"enum\":[\"red\",\"green\"]}", "\"blue\"", &e), "[\"red\",\"green\"]"));
  assert_non_null(strstr(first_error("{\"additionalProperties\":false}", "{\"extra\":1}", &e), "\"extra\""));
  assert_non_null(strstr(first_error("{\"maximum\":10}", "11", &e), "<= 10"));
  /* no branch stands out: each is listed */
  const char *m = first_error("{\"anyOf\":[{\"const\":\"a\"},{\"const\":\"b\"}]}", "\"c\"", &e);
  assert_non_null(strstr(m, "(1) value must be \"a\""));
  assert_non_null(strstr(m, "(2) value must be \"b\""));
  /* long paths stay bounded */
  char schema[64], inst[700];
  snprintf(schema, sizeof schema, "{\"items\":{\"$ref\":\"#\"},\"type\":\"array\"}");
  size_t n = 0;
  for (int i = 0; i < 300; i++) inst[n++] = '[';
  inst[n++] = '1';
  for (int i = 0; i < 300; i++) inst[n++] = ']';
  inst[n] = 0;
  first_error(schema, inst, &e);
  assert_string_equal(e.keyword, "type");
  assert_true(strlen(e.path) < sizeof e.path);
  assert_memory_equal(e.path, "/...", 4);
}

/* ---- schema compile errors ---- */

static void test_compile_errors(void **state) {
  (void)state;
  static const struct { const char *schema, *want; } bad[] = {
    {"{\"type\":\"strin\"}", "#/type: unknown type"},
    {"{\"type\":[]}", "#/type"},
    {"{\"type\":5}", "#/type"},
    {"{\"minLength\":-1}", "#/minLength: must be a non-negative integer"},
    {"{\"minLength\":\"2\"}", "#/minLength"},
    {"{\"maxItems\":1.5}", "#/maxItems"},
    {"{\"required\":\"a\"}", "#/required"},
    {"{\"required\":[1]}", "#/required"},
    {"{\"properties\":[]}", "#/properties"},
    {"{\"properties\":{\"a/b\":{\"type\":1}}}", "#/properties/a~1b/type"},
    {"{\"properties\":{\"a\":5}}", "#/properties/a: a schema must be an object or a boolean"},
    {"{\"pattern\":\"(\"}", "#/pattern: unsupported or invalid regular expression"},
    {"{\"pattern\":5}", "#/pattern"},
    {"{\"patternProperties\":{\"[\":{}}}", "#/patternProperties/[: unsupported or invalid regular expression"},
    {"{\"$ref\":\"#/$defs/missing\"}", "#/$ref: cannot resolve"},
    {"{\"$ref\":\"other.json#/x\"}", "only local references"},
    {"{\"$ref\":\"#anchor\"}", "#/$ref: cannot resolve"},
    {"{\"$ref\":\"#\"}", "cycle"},
    {"{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}", "cycle"},
    {"{\"$defs\":{\"unused\":{\"type\":\"nope\"}}}", "#/$defs/unused/type"},
    {"{\"definitions\":{\"u\":{\"minimum\":\"1\"}}}", "#/definitions/u/minimum"},
    {"{\"anyOf\":[]}", "#/anyOf: must be a non-empty array"},
    {"{\"allOf\":{}}", "#/allOf"},
    {"{\"oneOf\":[{},3]}", "#/oneOf/1"},
    {"{\"not\":[]}", "#/not"},
    {"{\"multipleOf\":0}", "#/multipleOf: must be greater than 0"},
    {"{\"enum\":3}", "#/enum"},
    {"{\"items\":5}", "#/items"},
    {"{\"uniqueItems\":\"yes\"}", "#/uniqueItems"},
    {"{\"format\":3}", "#/format"},
    {"{\"dependentRequired\":{\"a\":\"b\"}}", "#/dependentRequired"},
    {"5", "a schema must be an object or a boolean"},
    {"[{}]", "a schema must be an object or a boolean"},
    {"{\"type\":", "invalid JSON schema: malformed JSON"},
    {"", "invalid JSON schema"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kl_err err = {0};
    guard_schema *s = guard_schema_parse(bad[i].schema, strlen(bad[i].schema), &err);
    if (s) fail_msg("%s: compiled, want error '%s'", bad[i].schema, bad[i].want);
    assert_int_equal(err.code, 400);
    if (!strstr(err.msg, bad[i].want)) fail_msg("%s: error '%s', want '%s'", bad[i].schema, err.msg, bad[i].want);
  }
  /* legitimate recursion compiles */
  const char *ok[] = {
    "{\"$ref\":\"#/$defs/n\",\"$defs\":{\"n\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}}}",
    "{\"properties\":{\"next\":{\"$ref\":\"#\"}}}",
    "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"type\":\"string\"}},\"anyOf\":[{\"$ref\":\"#/$defs/a\"},{\"$ref\":\"#/$defs/a\"}]}",
    "{\"pattern\":\"^\\\\u{1F600}$\"}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    kl_err err = {0};
    guard_schema *s = guard_schema_parse(ok[i], strlen(ok[i]), &err);
    if (!s) fail_msg("%s: %s", ok[i], err.msg);
    guard_schema_free(s);
  }
  /* guard_schema_compile deep-copies: the cJSON may be freed right after */
  cJSON *j = cJSON_Parse("{\"enum\":[\"x\"]}");
  kl_err err = {0};
  guard_schema *s = guard_schema_compile(j, &err);
  cJSON_Delete(j);
  assert_non_null(s);
  cJSON *x = cJSON_CreateString("x");
  assert_true(guard_schema_validate(s, x, NULL));
  cJSON_Delete(x);
  guard_schema_free(s);
}

/* ---- limits: deep instances, exponential branching, big uniqueItems ---- */

static char *nested(size_t depth, const char *core) {
  size_t cl = strlen(core);
  char *t = malloc(2 * depth + cl + 1);
  memset(t, '[', depth);
  memcpy(t + depth, core, cl);
  memset(t + depth + cl, ']', depth);
  t[2 * depth + cl] = 0;
  return t;
}

static void test_limits(void **state) {
  (void)state;
  /* 10,000 deep: a syntax verdict, no recursion */
  char *t = nested(10000, "1");
  bool deep = false;
  assert_int_equal(guard_json_syntax(t, strlen(t), &deep), GUARD_JSON_MAX_DEPTH);
  assert_true(deep);
  guard_json_verdict v;
  assert_false(guard_json_check(t, strlen(t), "{}", 2, &v));
  assert_string_equal(v.type, "JSON_INVALID");
  assert_string_equal(v.rule, "depth");
  free(t);
  /* exactly at the limit: valid, and a recursive schema validates all of it */
  const char *rec = "{\"type\":\"array\",\"items\":{\"anyOf\":[{\"$ref\":\"#\"},{\"type\":\"integer\"}]}}";
  t = nested(GUARD_JSON_MAX_DEPTH, "1");
  assert_true(guard_json_check(t, strlen(t), rec, strlen(rec), &v));
  free(t);
  t = nested(GUARD_JSON_MAX_DEPTH, "\"s\"");
  assert_false(guard_json_check(t, strlen(t), rec, strlen(rec), &v));
  assert_string_equal(v.type, "JSON_SCHEMA");
  free(t);
  t = nested(GUARD_JSON_MAX_DEPTH + 1, "1");
  assert_false(guard_json_check(t, strlen(t), NULL, 0, &v));
  assert_string_equal(v.rule, "depth");
  free(t);
  /* exponential anyOf backtracking hits the work limit instead of running for ever */
  const char *expo = "{\"$defs\":{\"n\":{\"anyOf\":[{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}},"
                     "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}},{\"type\":\"integer\",\"maximum\":0}]}},"
                     "\"$ref\":\"#/$defs/n\"}";
  t = nested(60, "1");
  int64_t t0 = kl_mono_ns();
  assert_false(guard_json_check(t, strlen(t), expo, strlen(expo), &v));
  assert_string_equal(v.rule, "limit");
  assert_true(kl_mono_ns() - t0 < 20 * 1000000000ll);
  free(t);
  /* uniqueItems over 20,000 items is n log n, not n^2 */
  kl_buf b = KL_BUF_INIT;
  kl_buf_putc(&b, '[');
  for (int i = 0; i < 20000; i++) kl_buf_printf(&b, "%s{\"id\":%d}", i ? "," : "", i);
  kl_buf_putc(&b, ']');
  const char *uniq = "{\"uniqueItems\":true}";
  assert_true(guard_json_check(b.data, b.len, uniq, strlen(uniq), &v));
  b.len--;
  kl_buf_puts(&b, ",{\"id\":123}]");
  assert_false(guard_json_check(b.data, b.len, uniq, strlen(uniq), &v));
  assert_string_equal(v.rule, "uniqueItems");
  assert_non_null(strstr(v.err.message, "items 123 and 20000"));
  kl_buf_free(&b);
}

/* ---- syntax, UTF-8, fences ---- */

static void test_syntax(void **state) {
  (void)state;
  static const char *const good[] = {
    "{}", "[]", "0", "-0", "1.5e-3", "1E+2", "\"\"", "true", "false", "null", " \t\r\n{\"a\" : [1, {\"b\":null}]}\n ",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\xe6\x97\xa5\"", "[[[[]]]]", "{\"a\":{\"b\":{}}}",
  };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    if (guard_json_syntax(good[i], strlen(good[i]), NULL) != (size_t)-1) fail_msg("'%s' rejected", good[i]);
  static const struct { const char *text; size_t off; } bad[] = {
    {"", 0}, {"   ", 3}, {"{\"a\":1,}", 7}, {"{\"a\":01}", 6}, {"[1.]", 3}, {"[.5]", 1}, {"[1e]", 3}, {"[-]", 2},
    {"[+1]", 1}, {"\"\x01\"", 1}, {"[1] x", 4}, {"tru", 3}, {"nul", 3}, {"{\"a\" 1}", 5}, {"{'a':1}", 1},
    {"NaN", 0}, {"[Infinity]", 1}, {"\"\\ud800\"", 7}, {"\"\\udc00\"", 2}, {"\"\\x\"", 2}, {"\"\\u12\"", 2},
    {"{\"a\":1", 6}, {"[1,]", 3}, {"[1 2]", 3}, {"{,}", 1}, {"{\"a\":1}}", 7}, {"\"abc", 4}, {"[1]\x0b", 3},
    {"{\"a\"}", 4}, {"[\"a\\", 4}, {"{1:2}", 1}, {"01", 1}, {"// c\n{}", 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t off = guard_json_syntax(bad[i].text, strlen(bad[i].text), NULL);
    if (off != bad[i].off) fail_msg("'%s': error at %zu, want %zu", bad[i].text, off, bad[i].off);
  }
}

static void expect(const char *text, const char *schema, const char *type, const char *rule, size_t start) {
  guard_json_verdict v;
  bool ok = guard_json_check(text, strlen(text), schema, schema ? strlen(schema) : 0, &v);
  if (!type) {
    if (!ok) fail_msg("'%s': %s/%s: %s", text, v.type, v.rule, v.err.message);
    return;
  }
  if (ok) fail_msg("'%s': passed, want %s/%s", text, type, rule);
  if (strcmp(v.type, type) || strcmp(v.rule, rule) || v.start != start || v.end != strlen(text))
    fail_msg("'%s': %s/%s [%zu,%zu), want %s/%s [%zu,%zu)", text, v.type, v.rule, v.start, v.end, type, rule, start,
             strlen(text));
  assert_true(v.err.message[0] != 0);
}

static void test_check(void **state) {
  (void)state;
  expect("{\"a\":1}", NULL, NULL, NULL, 0);
  expect("", NULL, "JSON_INVALID", "syntax", 0);
  expect("{\"a\":1,}", NULL, "JSON_INVALID", "syntax", 7);
  expect("tru", NULL, "JSON_INVALID", "syntax", 2);  /* at the end: the last character */
  expect("[\"\xc3\xa9\" x]", NULL, "JSON_INVALID", "syntax", 6);
  expect("[1] \xc3\xa9", NULL, "JSON_INVALID", "syntax", 4);
  expect("Sure! {\"a\":1}", NULL, "JSON_INVALID", "syntax", 0);
  /* invalid UTF-8 */
  expect("\"\xff\"", NULL, "JSON_INVALID", "utf8", 0);
  expect("\"\xc0\xaf\"", NULL, "JSON_INVALID", "utf8", 0);
  expect("\"\xed\xa0\x80\"", NULL, "JSON_INVALID", "utf8", 0);  /* an encoded surrogate */
  expect("{\"a\":\"\xe6\x97\"}", NULL, "JSON_INVALID", "utf8", 0);
  /* fences around the whole output are tolerated */
  expect("```json\n{\"a\":1}\n```", NULL, NULL, NULL, 0);
  expect("\n```JSON \r\n[1]\r\n```\n", NULL, NULL, NULL, 0);
  expect("```\n{}\n```", NULL, NULL, NULL, 0);
  expect("```json\n{\"a\":1}```", NULL, NULL, NULL, 0);
  expect("```json\n{\"a\":}\n```", NULL, "JSON_INVALID", "syntax", 13);
  expect("```json\n\n```", NULL, "JSON_INVALID", "syntax", 9);
  expect("Here:\n```json\n{}\n```", NULL, "JSON_INVALID", "syntax", 0);
  expect("```python\n{}\n```", NULL, "JSON_INVALID", "syntax", 0);
  expect("```json\n{\"a\":1}", NULL, "JSON_INVALID", "syntax", 0);
  expect("```json\n{}\n```\nmore", NULL, "JSON_INVALID", "syntax", 0);
  size_t s, e;
  assert_true(guard_json_unfence("```json\n{}\n```", 14, &s, &e));
  assert_int_equal(s, 8);
  assert_int_equal(e, 11);
  assert_false(guard_json_unfence("{}", 2, &s, &e));
  assert_false(guard_json_unfence("``````", 6, &s, &e));
  /* schemas */
  const char *sch = "{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\"}},\"required\":[\"age\"]}";
  expect("{\"age\":3}", sch, NULL, NULL, 0);
  expect("```json\n{\"age\":3}\n```", sch, NULL, NULL, 0);
  expect("{\"age\":\"3\"}", sch, "JSON_SCHEMA", "type", 0);
  expect("{}", sch, "JSON_SCHEMA", "required", 0);
  expect("{\"age\":", sch, "JSON_INVALID", "syntax", 6);
  expect("{\"age\":3}", "{\"type\":\"nope\"}", NULL, NULL, 0);  /* a bad schema is ignored here */
  kl_arena *a = kl_arena_new(1024);
  assert_null(guard_json_reask_message("{\"age\":3}", 9, sch, strlen(sch), a));
  const char *m = guard_json_reask_message("{\"age\":\"x\"}", 11, sch, strlen(sch), a);
  assert_non_null(m);
  assert_string_equal(m, "the output does not match the JSON schema: at /age: expected integer, got string");
  m = guard_json_reask_message("{}", 2, sch, strlen(sch), a);
  assert_string_equal(m, "the output does not match the JSON schema: missing required property \"age\"");
  m = guard_json_reask_message("{\"age\":3,}", 10, NULL, 0, a);
  assert_string_equal(m, "the output is not valid JSON: unexpected '}' at byte 9");
  m = guard_json_reask_message("{\"age\":3", 8, NULL, 0, a);
  assert_string_equal(m, "the output is not valid JSON: it ends too early");
  kl_arena_free(a);
}

/* ---- the scanner through a policy ---- */

static void test_scanner(void **state) {
  (void)state;
  kl_guard_scanner_cfg sc = {.kind = "json", .stage = KL_GUARD_OUTPUT};
  kl_guard_policy_cfg pc = {.name = "j", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) fail_msg("build: %s", err.msg);
  assert_true(kl_guard_policy_has_stage(p, KL_GUARD_OUTPUT));
  kl_arena *a = kl_arena_new(4096);
  const char *sch = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"],"
                    "\"additionalProperties\":false}";
  struct { const char *text, *schema, *type, *rule; } runs[] = {
    {"{\"n\":1}", sch, NULL, NULL},
    {"```json\n{\"n\":1}\n```", sch, NULL, NULL},
    {"{\"n\":1}", NULL, NULL, NULL},
    {"not json", NULL, "JSON_INVALID", "syntax"},
    {"{\"n\":1,\"m\":2}", sch, "JSON_SCHEMA", "additionalProperties"},
    {"{\"n\":1.5}", sch, "JSON_SCHEMA", "type"},
    {"[1,2", sch, "JSON_INVALID", "syntax"},
    {"\"\xff\"", NULL, "JSON_INVALID", "utf8"},
    {"", NULL, "JSON_INVALID", "syntax"},
  };
  /* an answer to a request that did not ask for JSON is not judged, nor is a stream window */
  kl_guard_text plain = {.text = "not json", .len = 8, .stage = KL_GUARD_OUTPUT};
  kl_guard_result pr;
  assert_int_equal(kl_guard_check(p, &plain, a, &pr, &err), 0);
  assert_int_equal(pr.n, 0);
  kl_guard_text window = {.text = "{\"n\":", .len = 5, .stage = KL_GUARD_OUTPUT, .expect_json = true, .partial = true};
  assert_int_equal(kl_guard_check(p, &window, a, &pr, &err), 0);
  assert_int_equal(pr.n, 0);
  for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
    kl_guard_text in = {.text = runs[i].text, .len = strlen(runs[i].text), .stage = KL_GUARD_OUTPUT,
                        .json_schema = runs[i].schema, .json_schema_len = runs[i].schema ? strlen(runs[i].schema) : 0,
                        .expect_json = true};
    kl_guard_result r;
    if (kl_guard_check(p, &in, a, &r, &err) != 0) fail_msg("check: %s", err.msg);
    if (!runs[i].type) {
      if (r.n) fail_msg("'%s': unexpected %s/%s", runs[i].text, r.findings[0].type, r.findings[0].rule);
      assert_int_equal(r.action, KL_GUARD_ALLOW);
      continue;
    }
    if (r.n != 1) fail_msg("'%s': %zu findings, want 1", runs[i].text, r.n);
    assert_string_equal(r.findings[0].type, runs[i].type);
    assert_string_equal(r.findings[0].rule, runs[i].rule);
    assert_string_equal(r.findings[0].scanner, "json");
    assert_int_equal(r.findings[0].action, KL_GUARD_REASK);
    assert_int_equal(r.action, KL_GUARD_REASK);
    assert_true(r.findings[0].end <= in.len && r.findings[0].score == 1.0);
    assert_ptr_equal(r.blocker, &r.findings[0]);
  }
  /* an input-stage check runs no json scanner */
  kl_guard_text in = {.text = "nope", .len = 4, .stage = KL_GUARD_INPUT};
  kl_guard_result r;
  assert_int_equal(kl_guard_check(p, &in, a, &r, &err), 0);
  assert_int_equal(r.n, 0);
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keywords), cmocka_unit_test(test_messages), cmocka_unit_test(test_compile_errors),
    cmocka_unit_test(test_limits),   cmocka_unit_test(test_syntax),   cmocka_unit_test(test_check),
    cmocka_unit_test(test_scanner),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
