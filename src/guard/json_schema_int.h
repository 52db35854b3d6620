/* json_schema_int.h: the compiled form of a JSON Schema, shared by the compiler
 * (json_schema.c) and the validator (json_validate.c) only. */
#ifndef GUARD_JSON_SCHEMA_INT_H
#define GUARD_JSON_SCHEMA_INT_H

#include "guard/json_schema.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Instance types, as bits (index = position in the type names table). */
enum { GS_NULL = 1, GS_BOOL = 2, GS_OBJ = 4, GS_ARR = 8, GS_NUM = 16, GS_INT = 32, GS_STR = 64 };
enum { GS_OBJECT = 0, GS_TRUE, GS_FALSE };  /* gs_node.boolean */
enum { GS_MIN = 1, GS_MAX = 2, GS_XMIN = 4, GS_XMAX = 8, GS_MULT = 16 };  /* gs_node.num */
enum { GS_F_NONE = 0, GS_F_DATETIME, GS_F_DATE, GS_F_TIME, GS_F_EMAIL, GS_F_UUID, GS_F_URI, GS_F_IPV4, GS_F_IPV6,
       GS_F_HOSTNAME };

typedef struct gs_node gs_node;

typedef struct gs_prop {
  const char *name;  /* property name, or the pattern of patternProperties */
  pcre2_code *re;    /* patternProperties only */
  gs_node *s;
} gs_prop;

/* One (sub)schema.  Counts are -1 when absent; cJSON pointers point into guard_schema.doc. */
struct gs_node {
  size_t idx;
  int boolean;              /* GS_OBJECT, or a boolean schema */
  unsigned types;           /* GS_* bits; 0 = any */
  const cJSON *enm, *cnst;  /* enum (array), const (any value) */
  /* strings */
  long min_len, max_len;
  pcre2_code *pattern;
  const char *pattern_src;
  int format;
  const char *format_name;
  /* numbers */
  unsigned num;  /* GS_MIN... */
  double min, max, xmin, xmax, mult;
  /* objects */
  gs_prop *props, *pprops;
  size_t nprops, npprops;
  gs_node *addl, *names;
  const cJSON *required;      /* first name of the array */
  const cJSON *dep_required;  /* first member of the object */
  long min_props, max_props;
  /* arrays */
  gs_node **prefix;
  size_t nprefix;
  gs_node *items, *contains;
  long min_items, max_items, min_contains, max_contains;
  bool unique;
  /* applicators */
  gs_node **all, **any, **one;
  size_t nall, nany, none;
  gs_node *not_, *if_, *then_, *else_, *ref;
};

typedef struct gs_regex {
  pcre2_code *re;
  struct gs_regex *next;
} gs_regex;

struct guard_schema {
  kl_arena *arena;  /* every node */
  cJSON *doc;       /* our copy of the schema document */
  gs_node *root;
  gs_regex *regexes;
  pcre2_compile_context *ccx;
  pcre2_match_context *mcx;  /* match limits, shared read-only */
};

/* json_validate.c: whether s conforms to a known format (GS_F_*). */
bool guard_schema_format_ok(int format, const char *s);

#endif
