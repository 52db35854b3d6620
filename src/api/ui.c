/* ui.c: serves the web dashboard (ui/, embedded by cmake/embed_dir.cmake) at / and /ui/.
 *
 * No file system access at run time: the assets are a const table in the binary, so the
 * dashboard always matches the keel serving it and there is no path to traverse.  The
 * files are public (they hold no data); the browser asks for the admin key and sends it as
 * a Bearer token to /api/, which checks it (auth.c).
 *
 * Caching: index.html is revalidated every time (no-cache + ETag -> 304), and names every
 * other file under /ui/<build>/, where <build> hashes their contents; those answers are
 * immutable for a year.  A request for another build's prefix (a tab open across an
 * upgrade) still gets today's file, but no-cache, so nothing stale is ever pinned.
 * Compression: a gzip copy made at build time is sent when the client accepts gzip.
 * Every answer carries a strict Content-Security-Policy (scripts and styles from 'self'
 * only: the dashboard has no inline script or style) and nosniff. */
#include "api/ui_assets.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char k_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const kl_ui_asset *kl_ui_find(const char *rel) {
  for (size_t i = 0; i < kl_ui_nassets; i++)
    if (!strcmp(kl_ui_assets[i].path, rel)) return &kl_ui_assets[i];
  return NULL;
}

/* True when Accept-Encoding lists gzip (or, failing that, *) without q=0.  Tokens:
 * "name[;q=x]" by commas. */
static bool accepts_gzip(const char *ae) {
  if (!ae) return false;
  const char *p = ae;
  int star = -1; /* -1 absent, 0 refused, 1 accepted */
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *name = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
    size_t n = (size_t)(p - name);
    bool gz = n == 4 && !strncasecmp(name, "gzip", 4);
    bool any = n == 1 && *name == '*';
    bool refused = false;
    while (*p && *p != ',') {
      if (*p == ';') {
        const char *q = p + 1;
        while (*q == ' ') q++;
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
          q += 2;
          /* q=0, q=0.0, q=0.000 mean "not acceptable" */
          if (*q == '0') {
            q++;
            if (*q == '.') q++;
            while (*q == '0') q++;
            refused = !(*q >= '1' && *q <= '9');
          }
        }
      }
      p++;
    }
    if (gz) return !refused;
    if (any) star = !refused;
  }
  return star == 1;
}

/* If-None-Match holds `etag` (a list, W/ prefixes allowed) or "*". */
static bool etag_matches(const char *inm, const char *etag) {
  if (!inm) return false;
  if (strchr(inm, '*')) return true;
  size_t n = strlen(etag);
  for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
    char after = p[n];
    if (after == 0 || after == ',' || after == ' ' || after == '\t') return true;
  }
  return false;
}

static void serve(kl_http_req *req, kl_api_ctx *ctx, const kl_ui_asset *a, const char *cache) {
  kl_metrics *met = kl_gateway_metrics(ctx->gw);
  bool gz = a->gz && accepts_gzip(kl_http_header_get(req, "accept-encoding"));
  const char *etag = a->etag;
  if (gz) { /* another representation, another validator: "<hash>-gz" */
    size_t n = strlen(a->etag);
    etag = kl_arena_sprintf(req->arena, "%.*s-gz\"", (int)(n - 1), a->etag);
  }
  kl_http_header h[9];
  size_t nh = 0;
  h[nh++] = (kl_http_header){"Cache-Control", cache};
  h[nh++] = (kl_http_header){"ETag", etag};
  h[nh++] = (kl_http_header){"Vary", "Accept-Encoding"};
  h[nh++] = (kl_http_header){"X-Content-Type-Options", "nosniff"};
  h[nh++] = (kl_http_header){"Content-Security-Policy", k_csp};
  h[nh++] = (kl_http_header){"Referrer-Policy", "no-referrer"};
  h[nh++] = (kl_http_header){"X-Frame-Options", "DENY"};
  if (etag_matches(kl_http_header_get(req, "if-none-match"), etag)) {
    kl_metrics_http(met, "ui", 304);
    kl_http_respond_ex(req, 304, NULL, h, nh, NULL, 0);
    return;
  }
  if (gz) h[nh++] = (kl_http_header){"Content-Encoding", "gzip"};
  kl_metrics_http(met, "ui", 200);
  kl_http_respond_ex(req, 200, a->content_type, h, nh, (const char *)(gz ? a->gz : a->data), gz ? a->gz_len : a->len);
}

bool kl_api_ui_route(kl_http_req *req, kl_api_ctx *ctx) {
  const char *p = req->path;
  const char *rel = NULL;
  const char *cache = "no-cache";
  if (!strcmp(p, "/") || !strcmp(p, "/ui") || !strcmp(p, "/ui/") || !strcmp(p, "/index.html")) {
    rel = "index.html";
  } else if (!strncmp(p, "/ui/", 4)) {
    rel = p + 4;
    size_t bl = strlen(kl_ui_build);
    const char *slash = strchr(rel, '/');
    /* a 12-hex first segment is a build prefix: ours -> immutable; another -> served fresh */
    if (slash && slash - rel == (ptrdiff_t)bl && strspn(rel, "0123456789abcdef") == bl) {
      if (!strncmp(rel, kl_ui_build, bl)) cache = "public, max-age=31536000, immutable";
      rel = slash + 1;
    }
  } else {
    return false;
  }
  kl_metrics *met = kl_gateway_metrics(ctx->gw);
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    kl_metrics_http(met, "ui", 405);
    kl_buf b = KL_BUF_INIT;
    kl_openai_error(&b, 405, "invalid_request_error", "the dashboard is read with GET", NULL, "method_not_allowed");
    kl_http_header allow[] = {{"Allow", "GET, HEAD"}};
    kl_http_respond_ex(req, 405, "application/json", allow, 1, b.data, b.len);
    kl_buf_free(&b);
    return true;
  }
  const kl_ui_asset *a = kl_ui_find(rel);
  if (!a) {
    kl_metrics_http(met, "ui", 404);
    char msg[256];
    snprintf(msg, sizeof msg, "no dashboard file %.180s", p);
    kl_api_respond_error(req, 404, "invalid_request_error", msg, NULL, "not_found");
    return true;
  }
  serve(req, ctx, a, cache);
  return true;
}
