/* upstream_h1.h: the built-in HTTP/1.1 client for plain http:// upstreams (upstream_h1.c),
 * internal to the net layer.  upstream.c owns one kl_h1 per kl_upstream and dispatches
 * to it; callers only ever see the kl_upstream API of kl_net.h.
 *
 * Both implementations hand out kl_upstream_call pointers.  The two call structs begin
 * with an int kind tag (KL_UP_KIND_*), so kl_upstream_cancel can tell them apart without
 * knowing the other's layout. */
#ifndef KL_UPSTREAM_H1_H
#define KL_UPSTREAM_H1_H

#include "net/kl_net.h"

#include <string.h>
#include <sys/types.h>

#define KL_UP_KIND_CURL 0x6375726c /* "curl" */
#define KL_UP_KIND_H1 0x68317631   /* "h1v1" */

/* The leading tag of either call struct (memcpy: no aliasing questions). */
static inline int kl_up_kind(const kl_upstream_call *c) {
  int k;
  memcpy(&k, (const void *)c, sizeof k);
  return k;
}

typedef struct kl_h1 kl_h1;

kl_h1 *kl_h1_new(uv_loop_t *loop);
/* Cancels every call (no callbacks) and closes every connection; the memory goes in close
 * callbacks, as for kl_upstream_free. */
void kl_h1_free(kl_h1 *p);
/* Same contract as kl_upstream_start.  Returns NULL with *fallback = true (err untouched) for
 * a URL this client does not handle (userinfo, odd characters): libcurl takes those. */
kl_upstream_call *kl_h1_start(kl_h1 *p, const kl_upstream_opts *opts, const kl_upstream_cbs *cbs,
                              void *ud, kl_err *err, bool *fallback);
void kl_h1_cancel(kl_upstream_call *c);
int kl_h1_active(const kl_h1 *p);

/* Test and fuzz hooks: a call on a socketless connection whose input is supplied by hand
 * through the same path socket reads take.  n < 0 is a libuv error (UV_EOF, UV_ECONNRESET).
 * Stop feeding once on_done has run or the call was cancelled. */
kl_upstream_call *kl_h1_test_call(kl_h1 *p, const char *method, const kl_upstream_cbs *cbs, void *ud);
void kl_h1_test_input(kl_upstream_call *c, const char *data, ssize_t n);

#endif
