/* otlp_pb.c: OTLP ExportTraceServiceRequest from protobuf bytes (application/x-protobuf).
 *
 * Hand-written on purpose.  Debian ships protobuf-c, but not the OpenTelemetry .proto files
 * or code generated from them, and the subset keel needs (resource spans -> scope spans ->
 * spans with attributes, events and status) is eight small messages: a reader of the wire
 * format (varint, fixed32/64, length-delimited) is shorter than the build plumbing for
 * generated code and keeps all the bounds checks in one place.
 *
 * Robustness: every read is bounds-checked against its enclosing message (a length prefix
 * larger than what is left is an error, so "huge lengths" never allocate); varints are at most
 * 10 bytes; field number 0 and group wire types (3, 4) are errors; unknown fields are skipped
 * by wire type without recursion; a known field with the wrong wire type is an error (as
 * protoc's parsers do); strings must be UTF-8.  The only recursion is AnyValue inside
 * arrays/kvlists, bounded by KL_INGEST_MAX_DEPTH.  Repeated fields are counted in a first pass
 * over their message and then decoded into an exactly-sized arena array.
 *
 * Field numbers (opentelemetry-proto trace/v1, common/v1, resource/v1):
 *   ExportTraceServiceRequest{1 resource_spans}  ResourceSpans{1 resource, 2 scope_spans}
 *   Resource{1 attributes}  ScopeSpans{1 scope, 2 spans}  InstrumentationScope{1 name, 2 version,
 *   3 attributes}  Span{1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 7 start fixed64,
 *   8 end fixed64, 9 attributes, 11 events, 15 status}  Span.Event{1 time fixed64, 2 name,
 *   3 attributes}  Status{2 message, 3 code}  KeyValue{1 key, 2 value}  AnyValue{1 string,
 *   2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes}  ArrayValue/KeyValueList{1 values}. */
#include "trace/ingest_int.h"

#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pb {
  const uint8_t *p, *end;
} pb;

typedef struct dec {
  const uint8_t *base; /* start of the body, for error offsets */
  kl_arena *a;
  kl_err *err;
} dec;

static int fail(dec *d, const uint8_t *at, const char *what) {
  kl_err_set(d->err, 400, "protobuf: %s at byte %zu", what, (size_t)(at - d->base));
  return -1;
}

static int rd_varint(dec *d, pb *r, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (r->p >= r->end) return fail(d, r->p, "truncated varint");
    uint8_t c = *r->p++;
    if (i == 9 && c > 1) return fail(d, r->p - 1, "varint overflows 64 bits");
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return fail(d, r->p, "varint longer than 10 bytes");
}

static int rd_fixed(dec *d, pb *r, int nbytes, uint64_t *out) {
  if (r->end - r->p < nbytes) return fail(d, r->p, "truncated fixed-width field");
  uint64_t v = 0;
  for (int i = 0; i < nbytes; i++) v |= (uint64_t)r->p[i] << (8 * i); /* little-endian */
  r->p += nbytes;
  *out = v;
  return 0;
}

/* Reads a tag; returns 1 with field/wire type, 0 at the end of the message, -1 on error. */
static int rd_tag(dec *d, pb *r, uint32_t *field, int *wt) {
  if (r->p >= r->end) return 0;
  const uint8_t *at = r->p;
  uint64_t t;
  if (rd_varint(d, r, &t) < 0) return -1;
  if (t >> 32) return fail(d, at, "tag out of range");
  *field = (uint32_t)(t >> 3);
  *wt = (int)(t & 7);
  if (*field == 0) return fail(d, at, "field number 0");
  if (*wt == 3 || *wt == 4) return fail(d, at, "group wire type is not supported");
  if (*wt != WT_VARINT && *wt != WT_I64 && *wt != WT_LEN && *wt != WT_I32) return fail(d, at, "invalid wire type");
  return 1;
}

static int rd_len(dec *d, pb *r, pb *sub) {
  uint64_t n;
  const uint8_t *at = r->p;
  if (rd_varint(d, r, &n) < 0) return -1;
  if (n > (uint64_t)(r->end - r->p)) return fail(d, at, "length beyond the end of its message");
  sub->p = r->p;
  sub->end = r->p + n;
  r->p += n;
  return 0;
}

static int skip(dec *d, pb *r, int wt) {
  uint64_t v;
  pb sub;
  switch (wt) {
  case WT_VARINT: return rd_varint(d, r, &v);
  case WT_I64: return rd_fixed(d, r, 8, &v);
  case WT_I32: return rd_fixed(d, r, 4, &v);
  default: return rd_len(d, r, &sub);
  }
}

static int want(dec *d, pb *r, int wt, int expect, const char *field) {
  if (wt == expect) return 0;
  char m[96];
  snprintf(m, sizeof m, "wrong wire type %d for %s", wt, field);
  return fail(d, r->p, m);
}

static int rd_string(dec *d, pb *r, const char **out, size_t *len, const char *field) {
  pb s;
  const uint8_t *at = r->p;
  if (rd_len(d, r, &s) < 0) return -1;
  size_t n = (size_t)(s.end - s.p);
  if (!kl_utf8_valid((const char *)s.p, n)) {
    char m[96];
    snprintf(m, sizeof m, "%s is not valid UTF-8", field);
    return fail(d, at, m);
  }
  *out = kl_arena_strndup(d->a, (const char *)s.p, n);
  if (len) *len = n;
  return 0;
}

/* How many length-delimited occurrences of `field` msg holds; -1 on a malformed message. */
static long count_field(dec *d, pb msg, uint32_t field) {
  long n = 0;
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(d, &msg, &f, &wt)) > 0) {
    if (f == field && wt == WT_LEN) n++;
    if (skip(d, &msg, wt) < 0) return -1;
  }
  return rc < 0 ? -1 : n;
}

static int dec_attrs(dec *d, pb msg, uint32_t field, kl_otlp_attrs *out, int depth);

static int dec_anyvalue(dec *d, pb r, kl_otlp_value *v, int depth) {
  if (depth > KL_INGEST_MAX_DEPTH) return fail(d, r.p, "AnyValue nested too deeply");
  uint32_t f;
  int wt, rc;
  memset(v, 0, sizeof *v);
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    uint64_t x;
    pb sub;
    switch (f) {
    case 1:
      if (want(d, &r, wt, WT_LEN, "AnyValue.string_value") < 0 ||
          rd_string(d, &r, &v->s, &v->len, "AnyValue.string_value") < 0) return -1;
      v->type = KL_OTLP_STRING;
      break;
    case 2:
    case 3:
      if (want(d, &r, wt, WT_VARINT, f == 2 ? "AnyValue.bool_value" : "AnyValue.int_value") < 0 ||
          rd_varint(d, &r, &x) < 0) return -1;
      v->type = f == 2 ? KL_OTLP_BOOL : KL_OTLP_INT;
      v->b = x != 0;
      v->i = (int64_t)x; /* two's complement, as the wire encodes negative int64 */
      break;
    case 4:
      if (want(d, &r, wt, WT_I64, "AnyValue.double_value") < 0 || rd_fixed(d, &r, 8, &x) < 0) return -1;
      v->type = KL_OTLP_DOUBLE;
      memcpy(&v->d, &x, sizeof v->d);
      break;
    case 5:
    case 6: {
      if (want(d, &r, wt, WT_LEN, f == 5 ? "AnyValue.array_value" : "AnyValue.kvlist_value") < 0 ||
          rd_len(d, &r, &sub) < 0) return -1;
      memset(v, 0, sizeof *v);
      if (f == 6) {
        kl_otlp_attrs kv;
        if (dec_attrs(d, sub, 1, &kv, depth + 1) < 0) return -1;
        v->type = KL_OTLP_KVLIST;
        v->kvs = kv.kv;
        v->n = kv.n;
        break;
      }
      long n = count_field(d, sub, 1);
      if (n < 0) return -1;
      v->type = KL_OTLP_ARRAY;
      v->items = n ? kl_arena_calloc(d->a, (size_t)n * sizeof *v->items) : NULL;
      uint32_t g;
      int gwt, grc;
      while ((grc = rd_tag(d, &sub, &g, &gwt)) > 0) {
        if (g == 1 && gwt == WT_LEN) {
          pb item;
          if (rd_len(d, &sub, &item) < 0 || dec_anyvalue(d, item, &v->items[v->n++], depth + 1) < 0) return -1;
        } else if (g == 1) {
          return want(d, &sub, gwt, WT_LEN, "ArrayValue.values");
        } else if (skip(d, &sub, gwt) < 0) {
          return -1;
        }
      }
      if (grc < 0) return -1;
      break;
    }
    case 7:
      if (want(d, &r, wt, WT_LEN, "AnyValue.bytes_value") < 0 || rd_len(d, &r, &sub) < 0) return -1;
      v->type = KL_OTLP_BYTES;
      v->len = (size_t)(sub.end - sub.p);
      v->s = kl_arena_strndup(d->a, (const char *)sub.p, v->len);
      break;
    default:
      if (skip(d, &r, wt) < 0) return -1;
    }
  }
  return rc;
}

static int dec_kv(dec *d, pb r, kl_otlp_kv *kv, int depth) {
  uint32_t f;
  int wt, rc;
  kv->key = "";
  memset(&kv->value, 0, sizeof kv->value);
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    if (f == 1) {
      if (want(d, &r, wt, WT_LEN, "KeyValue.key") < 0 || rd_string(d, &r, &kv->key, NULL, "KeyValue.key") < 0)
        return -1;
    } else if (f == 2) {
      pb sub;
      if (want(d, &r, wt, WT_LEN, "KeyValue.value") < 0 || rd_len(d, &r, &sub) < 0 ||
          dec_anyvalue(d, sub, &kv->value, depth) < 0) return -1;
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  return rc;
}

/* Decodes every occurrence of `field` (a repeated KeyValue) of msg into out. */
static int dec_attrs(dec *d, pb msg, uint32_t field, kl_otlp_attrs *out, int depth) {
  out->kv = NULL;
  out->n = 0;
  long n = count_field(d, msg, field);
  if (n < 0) return -1;
  if (n == 0) return 0;
  out->kv = kl_arena_calloc(d->a, (size_t)n * sizeof *out->kv);
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(d, &msg, &f, &wt)) > 0) {
    if (f == field && wt == WT_LEN) {
      pb sub;
      if (rd_len(d, &msg, &sub) < 0 || dec_kv(d, sub, &out->kv[out->n++], depth) < 0) return -1;
    } else if (skip(d, &msg, wt) < 0) {
      return -1;
    }
  }
  return rc;
}

static int dec_event(dec *d, pb r, kl_otlp_event *ev) {
  uint32_t f;
  int wt, rc;
  pb all = r;
  ev->name = "";
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    uint64_t x;
    if (f == 1) {
      if (want(d, &r, wt, WT_I64, "Event.time_unix_nano") < 0 || rd_fixed(d, &r, 8, &x) < 0) return -1;
      ev->time_ns = x > INT64_MAX ? 0 : (int64_t)x;
    } else if (f == 2) {
      if (want(d, &r, wt, WT_LEN, "Event.name") < 0 || rd_string(d, &r, &ev->name, NULL, "Event.name") < 0)
        return -1;
    } else if (f == 3 && wt != WT_LEN) {
      return want(d, &r, wt, WT_LEN, "Event.attributes");
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  if (rc < 0) return -1;
  return dec_attrs(d, all, 3, &ev->attrs, 0);
}

static int dec_status(dec *d, pb r, kl_otlp_span *sp) {
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    uint64_t x;
    if (f == 2) {
      if (want(d, &r, wt, WT_LEN, "Status.message") < 0 ||
          rd_string(d, &r, &sp->status_message, NULL, "Status.message") < 0) return -1;
    } else if (f == 3) {
      if (want(d, &r, wt, WT_VARINT, "Status.code") < 0 || rd_varint(d, &r, &x) < 0) return -1;
      sp->status_code = x <= 2 ? (int)x : 0;
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  return rc;
}

/* An id field: raw bytes; remembers the length so validation can name the problem. */
static int rd_id(dec *d, pb *r, int wt, char *hex, size_t want_bytes, const char *field, const char **bad) {
  pb s;
  if (want(d, r, wt, WT_LEN, field) < 0 || rd_len(d, r, &s) < 0) return -1;
  size_t n = (size_t)(s.end - s.p);
  if (n == 0 && strcmp(field, "Span.parent_span_id") == 0) { /* empty parent = root span */
    hex[0] = 0;
    return 0;
  }
  if (n != want_bytes) {
    *bad = field;
    hex[0] = 0;
    return 0;
  }
  kl__hex(s.p, n, hex);
  return 0;
}

static int dec_span(dec *d, pb r, kl_otlp_spanvec *sv, const kl_otlp_resource *res, const kl_otlp_scope *sc) {
  kl_otlp_span *sp = kl__otlp_push(sv);
  sp->resource = res;
  sp->scope = sc;
  sp->name = "";
  pb all = r;
  const char *bad_id = NULL;
  bool bad_time = false;
  uint32_t f;
  int wt, rc;
  long nev = 0;
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    uint64_t x;
    pb sub;
    switch (f) {
    case 1:
      if (rd_id(d, &r, wt, sp->trace_id, 16, "Span.trace_id", &bad_id) < 0) return -1;
      break;
    case 2:
      if (rd_id(d, &r, wt, sp->span_id, 8, "Span.span_id", &bad_id) < 0) return -1;
      break;
    case 4:
      if (rd_id(d, &r, wt, sp->parent_span_id, 8, "Span.parent_span_id", &bad_id) < 0) return -1;
      break;
    case 5:
      if (want(d, &r, wt, WT_LEN, "Span.name") < 0 || rd_string(d, &r, &sp->name, NULL, "Span.name") < 0) return -1;
      break;
    case 6:
      if (want(d, &r, wt, WT_VARINT, "Span.kind") < 0 || rd_varint(d, &r, &x) < 0) return -1;
      sp->kind = x <= 5 ? (int)x : 0;
      break;
    case 7:
    case 8:
      if (want(d, &r, wt, WT_I64, f == 7 ? "Span.start_time_unix_nano" : "Span.end_time_unix_nano") < 0 ||
          rd_fixed(d, &r, 8, &x) < 0) return -1;
      if (x > INT64_MAX) bad_time = true;
      *(f == 7 ? &sp->start_ns : &sp->end_ns) = x > INT64_MAX ? 0 : (int64_t)x;
      break;
    case 9:
    case 11:
      if (want(d, &r, wt, WT_LEN, f == 9 ? "Span.attributes" : "Span.events") < 0 || rd_len(d, &r, &sub) < 0)
        return -1;
      nev += f == 11;
      break;
    case 15:
      if (want(d, &r, wt, WT_LEN, "Span.status") < 0 || rd_len(d, &r, &sub) < 0 || dec_status(d, sub, sp) < 0)
        return -1;
      break;
    default:
      if (skip(d, &r, wt) < 0) return -1;
    }
  }
  if (rc < 0) return -1;
  if (dec_attrs(d, all, 9, &sp->attrs, 0) < 0) return -1;
  if (nev) {
    sp->events = kl_arena_calloc(d->a, (size_t)nev * sizeof *sp->events);
    while ((rc = rd_tag(d, &all, &f, &wt)) > 0) {
      pb sub;
      if (f == 11) {
        if (rd_len(d, &all, &sub) < 0 || dec_event(d, sub, &sp->events[sp->nevents++]) < 0) return -1;
      } else if (skip(d, &all, wt) < 0) {
        return -1;
      }
    }
    if (rc < 0) return -1;
  }
  const char *problem = NULL;
  char m[80];
  if (bad_id) {
    snprintf(m, sizeof m, "%s has the wrong length", bad_id);
    problem = m;
  } else if (bad_time) {
    problem = "span time beyond int64 nanoseconds";
  } else {
    problem = kl__otlp_span_problem(sp);
  }
  if (problem) kl__otlp_reject_last(sv, kl_arena_strdup(d->a, problem));
  return 0;
}

static int dec_scope(dec *d, pb r, kl_otlp_scope *sc) {
  pb all = r;
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    if (f == 1 || f == 2) {
      const char **dst = f == 1 ? &sc->name : &sc->version;
      if (want(d, &r, wt, WT_LEN, "InstrumentationScope.name/version") < 0 ||
          rd_string(d, &r, dst, NULL, "InstrumentationScope.name") < 0) return -1;
    } else if (f == 3 && wt != WT_LEN) {
      return want(d, &r, wt, WT_LEN, "InstrumentationScope.attributes");
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  if (rc < 0) return -1;
  return dec_attrs(d, all, 3, &sc->attrs, 0);
}

static int dec_scope_spans(dec *d, pb r, kl_otlp_spanvec *sv, const kl_otlp_resource *res) {
  kl_otlp_scope *sc = kl_arena_calloc(d->a, sizeof *sc);
  pb all = r;
  uint32_t f;
  int wt, rc;
  /* the scope first: it may follow the spans on the wire */
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    pb sub;
    if (f == 1 || f == 2) {
      if (want(d, &r, wt, WT_LEN, f == 1 ? "ScopeSpans.scope" : "ScopeSpans.spans") < 0 || rd_len(d, &r, &sub) < 0)
        return -1;
      if (f == 1 && dec_scope(d, sub, sc) < 0) return -1;
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  if (rc < 0) return -1;
  while ((rc = rd_tag(d, &all, &f, &wt)) > 0) {
    pb sub;
    if (f == 1 || f == 2) { /* wire types were checked above */
      if (rd_len(d, &all, &sub) < 0) return -1;
      if (f == 2 && dec_span(d, sub, sv, res, sc) < 0) return -1;
    } else if (skip(d, &all, wt) < 0) {
      return -1;
    }
  }
  return rc;
}

static int dec_resource_spans(dec *d, pb r, kl_otlp_spanvec *sv) {
  kl_otlp_resource *res = kl_arena_calloc(d->a, sizeof *res);
  pb all = r;
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(d, &r, &f, &wt)) > 0) {
    pb sub;
    if (f == 1 || f == 2) {
      if (want(d, &r, wt, WT_LEN, f == 1 ? "ResourceSpans.resource" : "ResourceSpans.scope_spans") < 0 ||
          rd_len(d, &r, &sub) < 0) return -1;
      if (f == 1) {
        uint32_t g;
        int gwt, grc;
        pb rr = sub;
        while ((grc = rd_tag(d, &rr, &g, &gwt)) > 0) {
          if (g == 1 && gwt != WT_LEN) return want(d, &rr, gwt, WT_LEN, "Resource.attributes");
          if (skip(d, &rr, gwt) < 0) return -1;
        }
        if (grc < 0 || dec_attrs(d, sub, 1, &res->attrs, 0) < 0) return -1;
      }
    } else if (skip(d, &r, wt) < 0) {
      return -1;
    }
  }
  if (rc < 0) return -1;
  while ((rc = rd_tag(d, &all, &f, &wt)) > 0) {
    pb sub;
    if (f == 1 || f == 2) {
      if (rd_len(d, &all, &sub) < 0) return -1;
      if (f == 2 && dec_scope_spans(d, sub, sv, res) < 0) return -1;
    } else if (skip(d, &all, wt) < 0) {
      return -1;
    }
  }
  return rc;
}

int kl_ingest_otlp_pb(const void *body, size_t len, kl_arena *a, kl_otlp_request *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  dec d = {body, a, err};
  kl_otlp_spanvec sv = {.a = a};
  pb r = {NULL, NULL};
  if (body) r = (pb){body, (const uint8_t *)body + len};
  uint32_t f;
  int wt, rc;
  while ((rc = rd_tag(&d, &r, &f, &wt)) > 0) {
    if (f == 1) {
      pb sub;
      if (want(&d, &r, wt, WT_LEN, "ExportTraceServiceRequest.resource_spans") < 0 || rd_len(&d, &r, &sub) < 0 ||
          dec_resource_spans(&d, sub, &sv) < 0) return -1;
    } else if (skip(&d, &r, wt) < 0) {
      return -1;
    }
  }
  if (rc < 0) return -1;
  kl__otlp_finish(&sv, out);
  return 0;
}
