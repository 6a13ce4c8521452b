/*
 * conn.c - see conn.h for the threading model.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "conn.h"
#include "log.h"

#define PENDING_BUCKETS 1024u           /* ids are sequential: id & mask */
#define FORGET_BATCH_MAX 4096u          /* items per FORGET frame */
#define RX_CHUNK (256u * 1024u)

enum conn_state {
	CONN_RUNNING,
	CONN_DEAD,
	CONN_STOPPING,
};

struct fb_conn {
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t heartbeat;
	union {
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} sock;
	pthread_t thread;
	int thread_started;
	int fd;                 /* until handed to libuv */
	int is_tcp;
	char peer[160];
	unsigned heartbeat_ms;
	unsigned dead_ms;
	void (*on_push)(void *arg, const struct fsb_event_push *push);
	void *push_arg;
	atomic_uint_fast64_t next_id;

	/* Guarded by lock: what workers hand to the loop thread. */
	pthread_mutex_t lock;
	enum conn_state state;
	struct fb_call *q_head;
	struct fb_call **q_tail;
	struct fsb_forget_item *forgets;
	size_t nforgets;
	size_t forgets_cap;

	/* Loop thread only. */
	struct fb_call *pending[PENDING_BUCKETS];
	size_t npending;
	int sock_open;          /* stream handle initialised and not closed */
	int torn_down;          /* handles closing, loop about to end */
	uint8_t *rx;
	size_t rx_len;
	size_t rx_cap;
	size_t rx_need;
	uint64_t last_rx_ms;
	uint64_t ping_nonce;
};

/* One uv_write: the frames of several calls plus frames the conn itself
 * makes (FORGET batches, PING answers). */
struct conn_wreq {
	uv_write_t req;
	struct fb_conn *conn;
	struct fb_call **calls;
	size_t ncalls;
	struct fsb_wbuf own;
	uv_buf_t *bufs;
};

static void conn_fail(struct fb_conn *c, int loud, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- calls ------------------------------------------------------------ */

static void call_finish(struct fb_call *call)
{
	if (!call->answered || !call->written)
		return;
	fsb_wbuf_release(&call->wb);
	call->release(call);
}

static void call_complete(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	call->cb(call, rep, err);
	call->answered = 1;
	call_finish(call);
}

static void pending_insert(struct fb_conn *c, struct fb_call *call)
{
	struct fb_call **b = &c->pending[call->id & (PENDING_BUCKETS - 1)];

	call->next = *b;
	*b = call;
	c->npending++;
}

static struct fb_call *pending_remove(struct fb_conn *c, uint64_t id)
{
	struct fb_call **p = &c->pending[id & (PENDING_BUCKETS - 1)];

	while (*p) {
		if ((*p)->id == id) {
			struct fb_call *call = *p;
			*p = call->next;
			call->next = NULL;
			c->npending--;
			return call;
		}
		p = &(*p)->next;
	}
	return NULL;
}

int fb_conn_submit(struct fb_conn *c, struct fb_call *call, struct fsb_msg *m)
{
	int err;

	m->id = atomic_fetch_add(&c->next_id, 1);
	m->flags &= FSB_F_CRED;     /* a request; with its caller, if it says so */
	m->status = 0;
	call->id = m->id;
	call->op = m->op;
	call->next = NULL;
	call->answered = 0;
	call->written = 0;
	fsb_wbuf_init(&call->wb);
	err = fsb_msg_encode(&call->wb, m);
	if (err < 0) {
		fsb_wbuf_release(&call->wb);
		return -fsb_status_to_errno(err);
	}

	pthread_mutex_lock(&c->lock);
	if (c->state != CONN_RUNNING) {
		pthread_mutex_unlock(&c->lock);
		fsb_wbuf_release(&call->wb);
		return -EIO;
	}
	*c->q_tail = call;
	c->q_tail = &call->next;
	pthread_mutex_unlock(&c->lock);
	uv_async_send(&c->wake);
	return 0;
}

void fb_conn_forget(struct fb_conn *c, uint64_t node, uint64_t nlookup)
{
	int wake = 0;

	if (nlookup == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_RUNNING) {
		if (c->nforgets == c->forgets_cap) {
			size_t cap = c->forgets_cap ? c->forgets_cap * 2 : 64;
			struct fsb_forget_item *n = realloc(c->forgets, cap * sizeof(*n));
			if (!n) {
				/* The server keeps a reference too many: a leak on
				 * its side, never a wrong answer. */
				pthread_mutex_unlock(&c->lock);
				fb_warn("out of memory: cannot forget node %llu",
				        (unsigned long long)node);
				return;
			}
			c->forgets = n;
			c->forgets_cap = cap;
		}
		c->forgets[c->nforgets].node = node;
		c->forgets[c->nforgets].nlookup = nlookup;
		c->nforgets++;
		wake = c->nforgets == 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (wake)
		uv_async_send(&c->wake);
}

int fb_conn_is_dead(struct fb_conn *c)
{
	int dead;

	pthread_mutex_lock(&c->lock);
	dead = c->state != CONN_RUNNING;
	pthread_mutex_unlock(&c->lock);
	return dead;
}

/* ---- writing ---------------------------------------------------------- */

static void wreq_free(struct conn_wreq *w)
{
	fsb_wbuf_release(&w->own);
	free(w->calls);
	free(w->bufs);
	free(w);
}

static void on_write(uv_write_t *req, int status)
{
	struct conn_wreq *w = (struct conn_wreq *)req;
	struct fb_conn *c = w->conn;
	size_t i;

	for (i = 0; i < w->ncalls; i++) {
		w->calls[i]->written = 1;
		call_finish(w->calls[i]);
	}
	wreq_free(w);
	if (status < 0 && status != UV_ECANCELED)
		conn_fail(c, 1, "writing to the server failed: %s", uv_strerror(status));
}

/* Encode the queued forgets into wb, FORGET_BATCH_MAX items per frame. */
static void encode_forgets(struct fsb_wbuf *wb, struct fsb_forget_item *items, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct fsb_msg m;
		size_t k = n - off < FORGET_BATCH_MAX ? n - off : FORGET_BATCH_MAX;

		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_FORGET;
		m.u.forget.count = (uint32_t)k;
		m.u.forget.items = items + off;
		if (fsb_msg_encode(wb, &m) < 0)
			fb_warn("cannot encode FORGET of %zu nodes", k);
		off += k;
	}
}

/* Write the own-frames buffer and the given calls' frames in one go. The
 * calls are already in the pending table. */
static void conn_write(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
                       struct fsb_wbuf *own)
{
	struct conn_wreq *w;
	size_t nb = 0, i;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		goto out_nomem;
	w->conn = c;
	w->calls = calls;
	w->ncalls = ncalls;
	w->own = *own;
	fsb_wbuf_init(own);
	w->bufs = calloc(ncalls + 1, sizeof(*w->bufs));
	if (!w->bufs) {
		*own = w->own;
		free(w);
		goto out_nomem;
	}
	if (w->own.len)
		w->bufs[nb++] = uv_buf_init((char *)w->own.data, (unsigned)w->own.len);
	for (i = 0; i < ncalls; i++)
		w->bufs[nb++] = uv_buf_init((char *)calls[i]->wb.data,
		                            (unsigned)calls[i]->wb.len);
	if (nb == 0) {
		wreq_free(w);
		return;
	}
	err = uv_write(&w->req, &c->sock.stream, w->bufs, (unsigned)nb, on_write);
	if (err < 0) {
		for (i = 0; i < ncalls; i++) {
			calls[i]->written = 1;
			call_finish(calls[i]);
		}
		wreq_free(w);
		conn_fail(c, 1, "writing to the server failed: %s", uv_strerror(err));
	}
	return;

out_nomem:
	/* Nothing was written; the connection cannot keep its promises. */
	for (i = 0; i < ncalls; i++)
		calls[i]->written = 1;
	free(calls);
	fsb_wbuf_release(own);
	conn_fail(c, 1, "out of memory while writing requests");
}

/* ---- failure and teardown --------------------------------------------- */

static void fail_call_list(struct fb_call *list)
{
	while (list) {
		struct fb_call *next = list->next;
		list->written = 1;   /* never will be */
		call_complete(list, NULL, -EIO);
		list = next;
	}
}

static void fail_pending(struct fb_conn *c)
{
	size_t b;

	for (b = 0; b < PENDING_BUCKETS; b++) {
		while (c->pending[b]) {
			struct fb_call *call = c->pending[b];
			c->pending[b] = call->next;
			call->next = NULL;
			c->npending--;
			/* written is set by on_write when uv_close cancels it. */
			call_complete(call, NULL, -EIO);
		}
	}
}

static void on_sock_close(uv_handle_t *h)
{
	(void)h;
}

/* Loop thread. Declare the connection dead: fail everything, refuse new
 * work. `loud` distinguishes a real loss (one error line) from shutdown. */
static void conn_fail(struct fb_conn *c, int loud, const char *fmt, ...)
{
	struct fb_call *queued;
	char why[512];
	va_list ap;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_RUNNING)
		c->state = CONN_DEAD;
	queued = c->q_head;
	c->q_head = NULL;
	c->q_tail = &c->q_head;
	c->nforgets = 0;
	pthread_mutex_unlock(&c->lock);

	if (c->sock_open) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		if (loud)
			fb_err("connection to %s lost: %s; all requests now fail with EIO",
			       c->peer, why);
		else
			fb_dbg("closing connection to %s: %s", c->peer, why);
		uv_read_stop(&c->sock.stream);
		uv_close((uv_handle_t *)&c->sock.stream, on_sock_close);
		c->sock_open = 0;
	}
	fail_call_list(queued);
	fail_pending(c);
}

static void conn_teardown(struct fb_conn *c)
{
	if (c->torn_down)
		return;
	c->torn_down = 1;
	conn_fail(c, 0, "shutting down");
	uv_timer_stop(&c->heartbeat);
	uv_close((uv_handle_t *)&c->heartbeat, NULL);
	uv_close((uv_handle_t *)&c->wake, NULL);
}

/* ---- the wakeup: queued work from the workers ------------------------- */

static void on_wake(uv_async_t *h)
{
	struct fb_conn *c = h->data;
	struct fb_call *list, *call, **calls = NULL;
	struct fsb_forget_item *forgets;
	size_t nforgets, ncalls = 0, i;
	enum conn_state state;
	struct fsb_wbuf own;

	pthread_mutex_lock(&c->lock);
	state = c->state;
	list = c->q_head;
	c->q_head = NULL;
	c->q_tail = &c->q_head;
	forgets = c->forgets;
	nforgets = c->nforgets;
	c->forgets = NULL;
	c->nforgets = 0;
	c->forgets_cap = 0;
	pthread_mutex_unlock(&c->lock);

	if (state != CONN_RUNNING || !c->sock_open) {
		free(forgets);
		fail_call_list(list);
		if (state == CONN_STOPPING)
			conn_teardown(c);
		return;
	}

	fsb_wbuf_init(&own);
	if (nforgets)
		encode_forgets(&own, forgets, nforgets);
	free(forgets);

	for (call = list; call; call = call->next)
		ncalls++;
	if (ncalls) {
		calls = malloc(ncalls * sizeof(*calls));
		if (!calls) {
			fsb_wbuf_release(&own);
			fail_call_list(list);
			conn_fail(c, 1, "out of memory while queueing requests");
			return;
		}
		for (i = 0, call = list; call; i++) {
			struct fb_call *next = call->next;
			calls[i] = call;
			pending_insert(c, call);
			call = next;
		}
	}
	conn_write(c, calls, ncalls, &own);
}

/* ---- heartbeat --------------------------------------------------------- */

static void ping_cb(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	(void)call;
	(void)rep;
	(void)err;
}

static void ping_release(struct fb_call *call)
{
	free(call);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct fb_conn *c = t->data;
	uint64_t now = uv_now(&c->loop);
	struct fb_call *call;
	struct fsb_msg m;

	if (!c->sock_open)
		return;
	if (now - c->last_rx_ms >= c->dead_ms) {
		conn_fail(c, 1, "no answer for %u s", c->dead_ms / 1000);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (!call)
		return;
	call->cb = ping_cb;
	call->release = ping_release;
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.u.ping.nonce = ++c->ping_nonce;
	if (fb_conn_submit(c, call, &m) < 0)
		free(call);
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fb_conn *c = h->data;
	size_t want = c->rx_len + RX_CHUNK;

	(void)suggested;
	if (c->rx_need > c->rx_len && c->rx_need + RX_CHUNK > want)
		want = c->rx_need + RX_CHUNK;
	if (c->rx_cap < want) {
		uint8_t *n = realloc(c->rx, want);
		if (!n) {
			*buf = uv_buf_init(NULL, 0);   /* read_cb gets UV_ENOBUFS */
			return;
		}
		c->rx = n;
		c->rx_cap = want;
	}
	*buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)(c->rx_cap - c->rx_len));
}

static void answer_ping(struct fb_conn *c, const struct fsb_msg *req)
{
	struct fsb_wbuf own;
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.flags = FSB_F_REPLY;
	m.id = req->id;
	m.u.ping.nonce = req->u.ping.nonce;
	fsb_wbuf_init(&own);
	if (fsb_msg_encode(&own, &m) < 0) {
		fsb_wbuf_release(&own);
		return;
	}
	conn_write(c, NULL, 0, &own);
}

/* One whole, checksum-valid frame. Returns 0, or -1 once the connection
 * has been failed. */
static int handle_frame(struct fb_conn *c, const uint8_t *frame, uint32_t len)
{
	struct fb_call *call;
	struct fsb_msg m;
	int err;

	err = fsb_msg_decode(frame, len, &m);
	if (err < 0) {
		conn_fail(c, 1, "malformed frame from the server: %s", fsb_strerror(err));
		return -1;
	}

	if (m.flags & FSB_F_PUSH) {
		if (m.op == FSB_OP_EVENT && c->on_push)
			c->on_push(c->push_arg, &m.u.events);
		fsb_msg_release(&m);
		return 0;
	}
	if (!(m.flags & FSB_F_REPLY)) {
		if (m.op == FSB_OP_PING) {
			answer_ping(c, &m);
			fsb_msg_release(&m);
			return 0;
		}
		fsb_msg_release(&m);
		conn_fail(c, 1, "server sent a %s request", fsb_op_name(m.op));
		return -1;
	}

	call = pending_remove(c, m.id);
	if (!call) {
		fsb_msg_release(&m);
		conn_fail(c, 1, "reply %s to unknown request id %llu",
		          fsb_op_name(m.op), (unsigned long long)m.id);
		return -1;
	}
	if (call->op != m.op) {
		uint16_t op = call->op;
		fsb_msg_release(&m);
		call_complete(call, NULL, -EIO);
		conn_fail(c, 1, "%s reply to %s request %llu", fsb_op_name(m.op),
		          fsb_op_name(op), (unsigned long long)m.id);
		return -1;
	}
	call_complete(call, &m, 0);
	fsb_msg_release(&m);
	return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fb_conn *c = s->data;
	size_t off = 0;

	(void)buf;
	if (nread == UV_EOF) {
		conn_fail(c, 1, "the server closed the connection");
		return;
	}
	if (nread < 0) {
		conn_fail(c, 1, "reading from the server failed: %s", uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	c->rx_len += (size_t)nread;
	c->last_rx_ms = uv_now(&c->loop);

	while (c->sock_open && off < c->rx_len) {
		uint32_t flen = 0;
		int err = fsb_frame_check(c->rx + off, c->rx_len - off, &flen);

		if (err == -FSB_EFRAME_SHORT) {
			c->rx_need = flen;
			break;
		}
		if (err < 0) {
			conn_fail(c, 1, "corrupt frame from the server: %s", fsb_strerror(err));
			return;
		}
		if (handle_frame(c, c->rx + off, flen) < 0)
			return;
		off += flen;
		c->rx_need = 0;
	}
	if (!c->sock_open)
		return;
	if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	/* A burst of large reads leaves a big buffer; give it back when idle. */
	if (c->rx_len == 0 && c->rx_cap > 4 * RX_CHUNK) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

int fb_conn_new(struct fb_conn **out, const struct fb_conn_config *cfg)
{
	struct fb_conn *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = pthread_mutex_init(&c->lock, NULL);
	if (err) {
		free(c);
		return -err;
	}
	c->fd = cfg->fd;
	c->is_tcp = cfg->is_tcp;
	snprintf(c->peer, sizeof(c->peer), "%s", cfg->peer ? cfg->peer : "server");
	c->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 5000;
	c->dead_ms = cfg->dead_ms ? cfg->dead_ms : 15000;
	c->on_push = cfg->on_push;
	c->push_arg = cfg->push_arg;
	atomic_init(&c->next_id, cfg->first_id ? cfg->first_id : 1);
	c->state = CONN_RUNNING;
	c->q_tail = &c->q_head;
	*out = c;
	return 0;
}

static void *conn_thread(void *arg)
{
	struct fb_conn *c = arg;

	uv_run(&c->loop, UV_RUN_DEFAULT);
	return NULL;
}

int fb_conn_start(struct fb_conn *c)
{
	int err;

	err = uv_loop_init(&c->loop);
	if (err < 0)
		return err;
	err = uv_async_init(&c->loop, &c->wake, on_wake);
	if (err < 0)
		goto out_loop;
	c->wake.data = c;
	uv_timer_init(&c->loop, &c->heartbeat);
	c->heartbeat.data = c;

	if (c->is_tcp) {
		uv_tcp_init(&c->loop, &c->sock.tcp);
		err = uv_tcp_open(&c->sock.tcp, c->fd);
	} else {
		uv_pipe_init(&c->loop, &c->sock.pipe, 0);
		err = uv_pipe_open(&c->sock.pipe, c->fd);
	}
	c->sock.stream.data = c;
	c->sock_open = 1;
	if (err < 0)
		goto out_handles;
	c->fd = -1;
	err = uv_read_start(&c->sock.stream, on_alloc, on_read);
	if (err < 0)
		goto out_handles;
	c->last_rx_ms = uv_now(&c->loop);
	uv_timer_start(&c->heartbeat, on_heartbeat, c->heartbeat_ms, c->heartbeat_ms);

	err = -pthread_create(&c->thread, NULL, conn_thread, c);
	if (err < 0)
		goto out_handles;
	c->thread_started = 1;
	return 0;

out_handles:
	/* Close everything on this thread and spin the loop until closed. */
	c->torn_down = 1;
	uv_close((uv_handle_t *)&c->sock.stream, NULL);
	c->sock_open = 0;
	uv_close((uv_handle_t *)&c->heartbeat, NULL);
	uv_close((uv_handle_t *)&c->wake, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
out_loop:
	uv_loop_close(&c->loop);
	return err;
}

void fb_conn_stop(struct fb_conn *c)
{
	if (!c->thread_started)
		return;
	pthread_mutex_lock(&c->lock);
	c->state = CONN_STOPPING;
	pthread_mutex_unlock(&c->lock);
	uv_async_send(&c->wake);
	pthread_join(c->thread, NULL);
	c->thread_started = 0;
	if (uv_loop_close(&c->loop) < 0)
		fb_warn("libuv loop still had open handles at shutdown");
}

void fb_conn_free(struct fb_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	free(c->forgets);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
