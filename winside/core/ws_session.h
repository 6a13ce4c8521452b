/*
 * ws_session.h - server internals shared by server.c, session.c,
 * dispatch.c and the op handlers. Not for platform code.
 *
 * Locks:
 *   srv->lock      the session lists and `stopping`; held while shutting
 *                  down live streams (stream shutdown takes no lock)
 *   s->lock        per session: in-flight count, output queue, writer state
 *   pool.lock      the request queue
 *   nodes.lock, handles.lock   per session; never held across backend calls
 *   backend locks  (a directory handle's listing state) may be held while
 *                  the backend calls back into the core, which then takes
 *                  nodes.lock: backend lock -> nodes.lock, never the reverse
 * Apart from that last pair, and the change hub's locks (ws_events.h:
 * hub->ctl -> hub->lock -> s->lock, hub->xlock a leaf), no thread holds
 * two of these at once.
 *
 * Lifetime of a session: created by ws_server_add with its reader and
 * writer threads. The reader ends on EOF, a read error, a corrupt frame or
 * a protocol violation; it then waits until no request of the session is
 * in flight, lets the writer flush and stop, closes every handle and node,
 * leaves the live list and closes the stream. Its thread is joined and its
 * memory freed by ws_server_reap (or ws_server_free).
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include <pthread.h>
#include <stdint.h>

#include "fsb_proto.h"
#include "ws_backend.h"
#include "ws_events.h"
#include "ws_handles.h"
#include "ws_nodes.h"
#include "ws_server.h"
#include "ws_stream.h"

/* Requests of one session dispatched but not yet answered; the reader
 * stops reading beyond this, which is the backpressure on a client that
 * pipelines without bound. */
#define WS_MAX_INFLIGHT 64u
/* Encoded replies waiting for the writer; beyond this the reader waits
 * too, so a client that does not read its replies stalls only itself. */
#define WS_OUT_HIGH (8u << 20)
#define WS_RBUF_SIZE (64u << 10)

struct ws_req;

struct ws_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ws_req *head;
	struct ws_req *tail;
	int stop;
	pthread_t *threads;
	unsigned nthreads;
};

struct ws_srv_export {
	char *path;
	char *canonical;
	struct ws_backend *be;
	struct ws_events *events;       /* NULL when the backend cannot watch */
};

struct ws_server {
	pthread_mutex_t lock;
	pthread_cond_t ended;           /* a session left the live list */
	struct ws_session *live;        /* doubly linked */
	struct ws_session *dead;        /* ended, awaiting join */
	unsigned nlive;
	int stopping;
	uint64_t serial;

	struct ws_srv_export *exports;
	size_t nexports;
	char *token;
	size_t token_len;
	unsigned max_handles;
	int readonly;
	char server_name[96];
	struct ws_pool pool;
};

struct ws_session {
	struct ws_server *srv;
	struct ws_session *prev;
	struct ws_session *next;
	struct ws_stream *st;
	uint64_t serial;
	pthread_t reader;
	pthread_t writer;
	struct ws_srv_export *exp;      /* set by HELLO */
	int ready;                      /* HELLO done: nodes and handles live */

	pthread_mutex_t lock;
	pthread_cond_t room;            /* inflight or queued output went down */
	pthread_cond_t wake;            /* writer: output queued, or stop */
	unsigned inflight;
	struct fsb_wbuf out;
	int wstop;
	int wdead;                      /* the stream failed: drop output */

	struct ws_nodes nodes;
	struct ws_handles handles;
	struct ws_evsub ev;             /* EVENT pushes, when agreed in HELLO */

	uint8_t *rbuf;
	size_t rpos;
	size_t rlen;
	struct fsb_wbuf rwb;            /* reader's own encode buffer */
};

/* One request, from its frame to its reply. `in` borrows from `frame`. */
struct ws_req {
	struct ws_req *next;
	struct ws_session *s;
	uint64_t t0;
	struct fsb_msg in;
	struct fsb_msg out;
	char cause[256];                /* why it failed, when the status alone is vague */
	char name[FSB_NAME_MAX + 1];    /* the validated name, NUL-terminated */
	char name2[FSB_NAME_MAX + 1];   /* RENAME's new name */
	uint64_t result;                /* node or fh made, for the log line */
	void *scratch;                  /* freed with the request */
	void *scratch2;
	int decoded;                    /* `in` holds allocations to release */
	uint32_t len;
	uint8_t frame[];
};

/* server.c */
void ws__pool_push(struct ws_pool *p, struct ws_req *r);
void ws__server_session_ended(struct ws_server *srv, struct ws_session *s);

/* session.c */
void *ws__session_reader(void *arg);
void *ws__session_writer(void *arg);
/* Queue encoded bytes for the writer. */
void ws__session_queue(struct ws_session *s, const uint8_t *data, size_t len);
/* The same for pushes, which may be dropped: 1 (nothing queued) when the
 * output already waiting would exceed `limit`, else 0. */
int ws__session_queue_event(struct ws_session *s, const uint8_t *data, size_t len, size_t limit);
/* Bytes waiting for the writer. */
size_t ws__session_backlog(struct ws_session *s);
/* A dispatched request is finished (its reply queued, or none). */
void ws__session_req_done(struct ws_session *s);
void ws__req_free(struct ws_req *r);

/* dispatch.c */
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
