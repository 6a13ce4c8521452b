/*
 * conn.h - the connection to winside, owned by one libuv loop thread.
 *
 * Threading model. FUSE worker threads never touch the socket. A worker
 * builds a request, fb_conn_submit() encodes it into the call's own buffer
 * (in the worker, so encoding runs in parallel), appends the call to a
 * locked queue and wakes the loop with uv_async_send(). The loop thread
 * moves queued calls into its pending table (request id -> call), writes
 * all queued frames with one uv_write, reads frames, and for each reply
 * runs the call's callback *on the loop thread*. Callbacks send the FUSE
 * reply themselves (fuse_reply_* is thread-safe and only copies into the
 * kernel), so a worker returns to the kernel as soon as its request is
 * queued and no thread ever blocks waiting for the server.
 *
 * Callbacks must not block: no waiting on other requests and no
 * fuse_lowlevel_notify_inval_* (the kernel may need this very thread to
 * answer a WRITE before an invalidation completes).
 *
 * Liveness. A PING goes out every heartbeat interval; if no frame at all
 * arrived for the dead timeout, or the socket fails, or the peer sends a
 * malformed frame, the connection is declared dead: one log line, every
 * queued and pending call completes with -EIO, and every later submit
 * fails at once with -EIO. The kernel therefore never waits longer than
 * the dead timeout for an answer.
 *
 * Lock order: the queue lock is a leaf; callbacks run without it.
 */
#ifndef FB_CONN_H
#define FB_CONN_H

#include <stdint.h>

#include "fsb_proto.h"

struct fb_call;
struct fb_conn;

/*
 * Runs exactly once per submitted call, on the loop thread: with err == 0
 * and the decoded reply (same op; rep->status may be an error, detail in
 * rep->u.error), or with err < 0 (-EIO) and rep == NULL when the
 * connection failed or is shutting down. Strings in rep borrow from the
 * receive buffer and are valid only during the callback.
 */
typedef void (*fb_call_cb)(struct fb_call *call, const struct fsb_msg *rep, int err);

/* Embed at the start of an operation's own context. The conn calls
 * release() once the callback has run and the frame has left the buffer;
 * only then may the containing object be freed. */
struct fb_call {
	struct fb_call *next;        /* queue link, then pending-table chain */
	uint64_t id;
	uint16_t op;
	uint8_t answered;            /* loop thread only */
	uint8_t written;             /* loop thread only */
	struct fsb_wbuf wb;
	fb_call_cb cb;
	void (*release)(struct fb_call *call);
};

struct fb_conn_config {
	int fd;                      /* connected stream socket; the conn owns it */
	int is_tcp;
	const char *peer;            /* address text, for log lines */
	unsigned heartbeat_ms;       /* PING interval */
	unsigned dead_ms;            /* silence that declares the peer dead */
	uint64_t first_id;           /* first request id to use */
	/* EVENT pushes, on the loop thread; must not block. */
	void (*on_push)(void *arg, const struct fsb_event_push *push);
	void *push_arg;
};

int fb_conn_new(struct fb_conn **out, const struct fb_conn_config *cfg);
/* Start the loop thread. Returns 0 or -errno. */
int fb_conn_start(struct fb_conn *c);
/* Fail everything still in flight with -EIO, close the socket and join the
 * loop thread. Idempotent. */
void fb_conn_stop(struct fb_conn *c);
void fb_conn_free(struct fb_conn *c);

/*
 * Encode m (m->id is assigned here, m->flags cleared) into call->wb and
 * queue it; call->cb and call->release must be set. Returns 0 (the callback
 * will run), or -EIO if the connection is dead or stopping, or the
 * encoder's verdict as -errno (-ENAMETOOLONG, ...); on error nothing was
 * queued and the caller still owns call.
 */
int fb_conn_submit(struct fb_conn *c, struct fb_call *call, struct fsb_msg *m);

/* Queue `nlookup` references on `node` to be forgotten. Forgets are batched
 * into one FORGET frame per loop wakeup. Dropped silently once the
 * connection is dead (the server has forgotten the whole session). */
void fb_conn_forget(struct fb_conn *c, uint64_t node, uint64_t nlookup);

/* 1 once the connection has been declared dead. */
int fb_conn_is_dead(struct fb_conn *c);

#endif
