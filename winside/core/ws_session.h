/*
 * ws_session.h - the core's objects (the server, its exports, a session,
 * a request) and a session's output queue (session.c). Not for platform
 * code.
 *
 * The core reads bottom up: a file calls only files on its own line or
 * the lines before it, never one after it.
 *   log.c, hash.c, check.c   log lines; the hash table and its keys; the
 *                            checks of what a client sends (ws_check.h)
 *   nodes.c, handles.c       a session's node and handle tables
 *   session.c                a session's output queue and writer (here)
 *   echo.c, events.c         the change hub (ws_events.h, ws_events_int.h)
 *   dispatch.c, ops_*.c,     a request to its one reply (ws_dispatch.h;
 *   owner.c                  ws_ops.h and ws_owner.h for the handlers)
 *   pool.c                   the worker threads (ws_pool.h)
 *   reader.c                 a session's reader and teardown (ws_reader.h)
 *   server.c                 the server, the public API (ws_server.h)
 * Headers include only headers of the lines before theirs: this one the
 * tables', the backend's and the stream's, so the objects' layout is
 * known to every file from session.c up.
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
#include "ws_dirlist.h"
#include "ws_handles.h"
#include "ws_nodes.h"
#include "ws_stream.h"

/* Requests of one session dispatched but not yet answered; the reader
 * stops reading beyond this, which is the backpressure on a client that
 * pipelines without bound. */
#define WS_MAX_INFLIGHT 64u
/* Encoded replies waiting for the writer; beyond this the reader waits
 * too, so a client that does not read its replies stalls only itself. */
#define WS_OUT_HIGH (8u << 20)
#define WS_RBUF_SIZE (64u << 10)
/* Frames at least this large (READ replies) are queued by handing over
 * their buffer rather than copied; smaller ones share a segment. */
#define WS_OUT_ADOPT (64u << 10)
#define WS_OUTSEG_SIZE (64u << 10)

/* One piece of a session's output queue: frames in the order queued. */
struct ws_outseg {
	struct ws_outseg *next;
	uint8_t *data;
	size_t len;
	size_t cap;                     /* 0: one adopted frame, never appended to */
};

struct ws_events;
struct ws_req;
struct ws_session;

/* A session's subscription state; lives in struct ws_session and is
 * guarded by hub->lock once the session is subscribed. */
struct ws_evsub {
	struct ws_evsub *next;
	struct ws_session *s;           /* set while subscribed */
	struct ws_events *hub;          /* set at subscription, never cleared:
	                                 * requests still running after the
	                                 * session unsubscribed use it */
	int linked;             /* on the hub's list: events flow */
	int lost;               /* events were dropped: RESCAN "" owed */
	uint64_t seq;           /* last sequence number sent */
	uint64_t sent;          /* events pushed */
	uint64_t echoes;        /* of which tagged ECHO */
	uint64_t dropped;       /* events lost to a full output queue */
};

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
	char *name;                     /* may be NULL */
	char *path;
	char *canonical;
	struct ws_backend *be;
	struct ws_events *events;       /* NULL when the backend cannot watch */
	struct ws_nodes_tally tally;    /* its sessions' node tables */
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
	uint64_t caps;                  /* FSB_CAP_* agreed in HELLO */
	/* How frames after the HELLO reply are checksummed; set by the
	 * reader before it hands on any request or links the session to
	 * its events, so every later encoder sees it. */
	enum fsb_csum csum;
	/* RESUME is served while `resuming`: from a HELLO that agreed
	 * FSB_CAP_RESUME until the first request that is neither RESUME nor
	 * PING. The reader's alone, like resume_gen: RESUME runs on it. */
	int resuming;
	uint64_t resume_gen;            /* 0 until the first RESUME */

	pthread_mutex_t lock;
	pthread_cond_t room;            /* inflight or queued output went down */
	pthread_cond_t wake;            /* writer: output queued, or stop */
	unsigned inflight;
	struct ws_outseg *out_head;     /* output queued for the writer */
	struct ws_outseg *out_tail;
	size_t out_len;                 /* bytes in it */
	int wstop;
	int wdead;                      /* the stream failed: drop output */
	int writing;                    /* a thread is writing to the stream */

	struct ws_nodes nodes;
	struct ws_handles handles;
	struct ws_dirlists lists;       /* listings by node (FSB_CAP_DIRLIST) */
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
	/* The worker's encode buffer. A handler may encode its success
	 * reply into it itself (a READ reads into the frame) and set
	 * `sealed`; wb then holds exactly that frame. */
	struct fsb_wbuf *wb;
	int sealed;
	void *scratch;                  /* freed with the request */
	void *scratch2;
	int decoded;                    /* `in` holds allocations to release */
	uint32_t len;
	uint8_t frame[];
};

/* session.c */
void *ws__session_writer(void *arg);
/* Queue encoded bytes for the writer. */
void ws__session_queue(struct ws_session *s, const uint8_t *data, size_t len);
/* The same for the replies in wb: a small one is written at once when
 * nothing waits, a large one leaves without a copy, its buffer handed to
 * the queue (wb is then empty, ready for reuse). */
void ws__session_queue_wbuf(struct ws_session *s, struct fsb_wbuf *wb);
/* Free a list of output segments. */
void ws__outsegs_free(struct ws_outseg *seg);
/* The same for pushes, which may be dropped: 1 (nothing queued) when the
 * output already waiting would exceed `limit`, else 0. */
int ws__session_queue_event(struct ws_session *s, const uint8_t *data, size_t len, size_t limit);
/* Bytes waiting for the writer. */
size_t ws__session_backlog(struct ws_session *s);
/* A dispatched request is finished (its reply queued, or none). */
void ws__session_req_done(struct ws_session *s);
void ws__req_free(struct ws_req *r);

#endif
