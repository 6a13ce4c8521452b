/*
 * conn.h - the connection to winside, owned by one libuv loop thread.
 *
 * Threading model. A FUSE worker builds a request and fb_conn_submit()
 * encodes it into the call's own buffer (in the worker, so encoding runs
 * in parallel). When nothing else is being written or waits to be, the
 * worker then writes the frame to the socket itself, under the queue
 * lock, and notes the call for the loop thread; otherwise it appends the
 * call to the locked queue and wakes the loop with uv_async_send(). The
 * loop thread moves written and queued calls into its pending table
 * (request id -> call), writes all queued frames with one uv_write (and
 * the rest of any frame a worker could write only in part), reads frames,
 * and for each reply runs the call's callback *on the loop thread*.
 * Callbacks send the FUSE reply themselves (fuse_reply_* is thread-safe
 * and only copies into the kernel), so a worker returns to the kernel as
 * soon as its request is written or queued and no thread ever blocks
 * waiting for the server.
 *
 * Callbacks must not block: no waiting on other requests and no
 * fuse_lowlevel_notify_inval_* (the kernel may need this very thread to
 * answer a WRITE before an invalidation completes).
 *
 * Liveness. A PING goes out every heartbeat interval; if no frame at all
 * arrived for the dead timeout, or the socket fails, or the peer sends a
 * malformed frame, the connection is lost: one log line, and then
 *   - without reconnect (fb_conn_config.reconnect 0), every queued and
 *     pending call completes with -EIO and every later submit fails at
 *     once with -EIO;
 *   - with reconnect, the calls wait: those the server may have seen are
 *     held, new ones queue behind them, and on_down() tells the owner to
 *     find the server again. fb_conn_attach() hands over a new socket on
 *     which the session has been resumed (its node ids and handles mean
 *     what they meant), and the held calls go out again, in their order,
 *     then the queued ones. A waiting call whose FUSE request was
 *     interrupted completes with -EINTR within a tick; with soft_ms set,
 *     once the server has been away that long every waiting call fails
 *     with -EIO, and so does every new one until the next attach.
 * The kernel therefore never waits on a dead server without a way out.
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
	uint8_t retried;             /* sent again after a reconnect: the
	                              * server before may have done it */
	uint8_t csum;                /* enum fsb_csum the frame was sealed for */
	struct fsb_wbuf wb;
	fb_call_cb cb;
	void (*release)(struct fb_call *call);
	/* Optional: 1 when whoever waits for the call gave up (its FUSE
	 * request was interrupted). Asked on the loop thread while the call
	 * waits for a reconnect. */
	int (*interrupted)(struct fb_call *call);
};

struct fb_conn_config {
	int fd;                      /* connected stream socket; the conn owns it */
	int is_tcp;
	enum fsb_csum csum;          /* FSB_CSUM_NONE with FSB_CAP_NO_CSUM */
	const char *peer;            /* address text, for log lines */
	unsigned heartbeat_ms;       /* PING interval */
	unsigned dead_ms;            /* silence that declares the peer dead */
	uint64_t first_id;           /* first request id to use */
	/* EVENT pushes, on the loop thread; must not block. */
	void (*on_push)(void *arg, const struct fsb_event_push *push);
	void *push_arg;
	/* Reconnect instead of failing (see Liveness). on_down runs on the
	 * loop thread when the connection is lost; it must not block. */
	int reconnect;
	unsigned soft_ms;            /* 0: calls wait for as long as it takes */
	void (*on_down)(void *arg);
	void *down_arg;
};

struct fb_conn_stats {
	uint64_t reconnects;         /* attaches after a loss */
	uint64_t retried;            /* calls sent again on a new socket */
	uint64_t down_ms;            /* time spent without a server, so far */
	int down;                    /* lost and not attached again */
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

/* 1 while there is no live connection (lost, or stopping). */
int fb_conn_is_dead(struct fb_conn *c);

/* Reserve n request ids for frames sent outside the conn (the RESUME
 * exchange on a new socket); returns the first. */
uint64_t fb_conn_take_ids(struct fb_conn *c, uint64_t n);

/* Hand over a connected, resumed socket (any thread but the loop's) and
 * wait until the loop thread has taken it over; csum is its session's.
 * The conn owns fd from here: 0 once requests flow on it, -EIO if it
 * failed at once (the loss is reported through on_down again),
 * -ESHUTDOWN when stopping. */
int fb_conn_attach(struct fb_conn *c, int fd, int is_tcp, enum fsb_csum csum);

void fb_conn_get_stats(struct fb_conn *c, struct fb_conn_stats *out);

/* Stop waiting for a server that will not come back as it was: every
 * waiting and later call fails with -EIO (any thread). */
void fb_conn_abandon(struct fb_conn *c);

#endif
