/*
 * ws_dispatch.h - from a decoded request to exactly one reply
 * (dispatch.c): what the workers (pool.c) and the reader (reader.c)
 * call. The handlers' side of dispatch.c is in ws_ops.h.
 */
#ifndef WS_DISPATCH_H
#define WS_DISPATCH_H

#include <stdint.h>

#include "fsb_proto.h"
#include "ws_session.h"

/* Run one request on a worker: handler, reply, log line, free. */
void ws__dispatch(struct ws_req *r, struct fsb_wbuf *wb);
/* Encode and queue `m` as the reply to `r` (status and id set by caller). */
void ws__reply(struct ws_session *s, const struct fsb_msg *m, struct fsb_wbuf *wb);
/* Send an error reply to request (op, id) with a detail sentence. */
void ws__reply_error(struct ws_session *s, struct fsb_wbuf *wb, uint16_t op, uint64_t id,
                     int status, const char *detail);
/* FORGET, run inline on the reader. */
void ws__forget(struct ws_session *s, const struct fsb_msg *m);

#endif
