/* gw_internal.h: the gateway's private structures, shared by its own files only. */
#ifndef KL_GW_INTERNAL_H
#define KL_GW_INTERNAL_H

#include "gateway/kl_gateway.h"

struct kl_gateway {
  const kl_config *cfg;
  kl_store *store;
  kl_prices *prices;
  kl_tracer *tracer;
  kl_metrics *metrics;
  int64_t created_unix;
};

struct kl_gw_worker {
  kl_gateway *gw;
  uv_loop_t *loop;
  kl_upstream *upstream;
  int active;
};

/* A provider call looks the same to chat.c whether it goes over HTTP (kl_upstream) or to the
 * in-process mock: the same three callbacks.  provider_mock.c implements the mock side. */
typedef struct kl_mock_call kl_mock_call;
kl_mock_call *kl_mock_call_start(uv_loop_t *loop, kl_arena *a, const char *body, size_t len,
                                 kl_header_fn hdr, void *hdr_ud, const kl_mock_opts *opts,
                                 const kl_upstream_cbs *cbs, void *ud);
/* No callback fires after this; memory is released when its timer handle has closed. */
void kl_mock_call_cancel(kl_mock_call *c);

#endif
