/*
 * ws_pool.h - the worker pool (pool.c): the server starts and stops it,
 * the readers push requests onto it, its threads dispatch them. The
 * queue itself, struct ws_pool, is part of struct ws_server
 * (ws_session.h).
 */
#ifndef WS_POOL_H
#define WS_POOL_H

#include "ws_session.h"

/* Start n workers. 0, or -FSB_ENOMEM / -FSB_EAGAIN with nothing left
 * running. */
int ws__pool_start(struct ws_pool *p, unsigned n);
void ws__pool_push(struct ws_pool *p, struct ws_req *r);
/* Stop and join the workers; only once every session has ended. */
void ws__pool_stop(struct ws_pool *p);

#endif
