/*
 * conn_int.h - what the two halves of the connection share:
 *   conn.c       calls, submitting, writing, the wakeup, lifecycle
 *   conn_down.c  losing the server and getting it back (hold, wait,
 *                attach), teardown
 *   conn_rx.c    reading frames, answering them, the heartbeat
 * Everything here runs on the loop thread unless a field says it is
 * guarded by `lock`.
 */
#ifndef FB_CONN_INT_H
#define FB_CONN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "conn.h"

#define PENDING_BUCKETS 1024u           /* ids are sequential: id & mask */
#define TICK_MS 100u                    /* while lost: interrupts, soft limit */

enum conn_state {
	CONN_RUNNING,
	CONN_DOWN,              /* lost; calls wait for fb_conn_attach */
	CONN_FAILING,           /* lost for longer than soft_ms: calls fail */
	CONN_DEAD,              /* lost for good (no reconnect) */
	CONN_STOPPING,
};

struct fb_conn {
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t heartbeat;
	uv_timer_t tick;        /* while lost: interrupts, the soft limit */
	union {
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} sock;
	pthread_t thread;
	int thread_started;
	int fd;                 /* until handed to libuv */
	int is_tcp;
	/* The current socket's enum fsb_csum: written by the loop thread
	 * (attach), read by workers encoding. A frame sealed for another
	 * socket's mode is sealed again when written. */
	atomic_int csum;
	char peer[160];
	unsigned heartbeat_ms;
	unsigned dead_ms;
	void (*on_push)(void *arg, const struct fsb_event_push *push);
	void *push_arg;
	int reconnect;
	unsigned soft_ms;
	void (*on_down)(void *arg);
	void *down_arg;
	atomic_uint_fast64_t next_id;

	/* Guarded by lock: what workers hand to the loop thread. */
	pthread_mutex_t lock;
	enum conn_state state;
	struct fb_call *q_head;
	struct fb_call **q_tail;
	struct fsb_forget_item *forgets;
	size_t nforgets;
	size_t forgets_cap;
	/* Direct writes (conn.c, fb_conn_submit): a worker writes its
	 * frame to wfd itself while nothing else is being written. */
	int wfd;                /* the socket while it may be written, or -1 */
	unsigned uv_busy;       /* loop writes started or about to be */
	struct fb_call *sent;   /* written directly, not yet in `pending` */
	struct fb_call **sent_tail;
	struct fb_call *part;   /* written in part: the loop writes the rest */
	size_t part_off;
	int werr;               /* errno of a failed direct write, or 0 */
	int attach_fd;          /* a resumed socket to take over, or -1 */
	int attach_is_tcp;
	enum fsb_csum attach_csum;
	uint64_t attaches;      /* attach attempts finished (or given up) */
	pthread_cond_t attached;
	uint64_t reconnects, retried;
	uint64_t down_ms;       /* finished outages */
	uint64_t down_since_ms; /* the current one, in uv_now() time */

	/* Loop thread only. */
	struct fb_call *pending[PENDING_BUCKETS];
	size_t npending;
	struct fb_call *held;   /* written before the loss, in id order */
	int sock_open;          /* stream handle initialised and not closed */
	int sock_closing;       /* uv_close() called, callback not yet run */
	int torn_down;          /* handles closing, loop about to end */
	uint8_t *rx;
	size_t rx_len;
	size_t rx_cap;
	size_t rx_need;
	uint64_t last_rx_ms;
	uint64_t ping_nonce;
};

/* conn.c */
void fb__conn_write(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
                    struct fsb_wbuf *own);
/* The same, for a caller that counted the write in uv_busy already (under
 * the lock that took what it writes); part: the rest of a frame a worker
 * began, from part_off. */
void fb__conn_write_counted(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
                            struct fsb_wbuf *own, struct fb_call *part, size_t part_off);
void fb__conn_busy_done(struct fb_conn *c);
void fb__conn_pending_insert(struct fb_conn *c, struct fb_call *call);
struct fb_call *fb__conn_pending_remove(struct fb_conn *c, uint64_t id);
void fb__call_complete(struct fb_call *call, const struct fsb_msg *rep, int err);
/* Move the calls written directly into the pending table. */
void fb__conn_take_sent(struct fb_conn *c);
/* Under lock: the calls written directly, taken off their list, and which
 * of them (if any) is written only in part. */
struct fb_call *fb__conn_sent_take_locked(struct fb_conn *c, struct fb_call **part);
/* The same for a list taken under the lock; part is the one the loop is
 * still to finish writing, if any. */
void fb__conn_sent_to_pending(struct fb_conn *c, struct fb_call *list, const struct fb_call *part);

/* conn_down.c */
void fb__conn_fail(struct fb_conn *c, int loud, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Complete every call of the list with err (they will never be written). */
void fb__fail_call_list(struct fb_call *list, int err);
void fb__conn_on_tick(uv_timer_t *t);
void fb__conn_attach(struct fb_conn *c, int fd, int is_tcp, enum fsb_csum csum);
void fb__conn_teardown(struct fb_conn *c);

/* conn_rx.c */
void fb__conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void fb__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
void fb__conn_on_heartbeat(uv_timer_t *t);

#endif
