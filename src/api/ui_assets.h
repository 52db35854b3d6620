/* ui_assets.h: the web dashboard's files, embedded into the binary at build time.
 *
 * cmake/embed_dir.cmake turns every file under ui/ into one kl_ui_asset of a generated
 * table (kl_ui_assets.c in the build directory), with a gzip copy when that is smaller.
 * index.html is stored with the build id substituted so it references /ui/<build>/...;
 * api/ui.c serves the table. */
#ifndef KL_UI_ASSETS_H
#define KL_UI_ASSETS_H

#include "api/api_internal.h"

typedef struct kl_ui_asset {
  const char *path;            /* relative to ui/: "index.html", "app.js", ... */
  const char *content_type;
  const unsigned char *data;   /* NUL-terminated past len */
  size_t len;
  const unsigned char *gz;     /* gzip of data, NULL when not smaller */
  size_t gz_len;
  const char *etag;            /* quoted, of data */
} kl_ui_asset;

extern const kl_ui_asset kl_ui_assets[]; /* kl_ui_nassets entries, then an all-zero one */
extern const size_t kl_ui_nassets;
extern const char kl_ui_build[];         /* 12 hex: hash of the assets but index.html */

/* The asset at `rel` (no leading '/'), or NULL. */
const kl_ui_asset *kl_ui_find(const char *rel);

/* Serves GET/HEAD /, /ui, /ui/, /ui/<file> and /ui/<build>/<file>.  Returns false when the
 * path is none of these (the caller routes on). */
bool kl_api_ui_route(kl_http_req *req, kl_api_ctx *ctx);

#endif
