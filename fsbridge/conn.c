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

#include "conn_int.h"
#include "log.h"

#define FORGET_BATCH_MAX 4096u          /* items per FORGET frame */

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

/* ---- calls ------------------------------------------------------------ */

static void call_finish(struct fb_call *call)
{
	if (!call->answered || !call->written)
		return;
	fsb_wbuf_release(&call->wb);
	call->release(call);
}

void fb__call_complete(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	call->cb(call, rep, err);
	call->answered = 1;
	call_finish(call);
}

void fb__conn_pending_insert(struct fb_conn *c, struct fb_call *call)
{
	struct fb_call **b = &c->pending[call->id & (PENDING_BUCKETS - 1)];

	call->next = *b;
	*b = call;
	c->npending++;
}

struct fb_call *fb__conn_pending_remove(struct fb_conn *c, uint64_t id)
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
	call->csum = (uint8_t)atomic_load(&c->csum);
	fsb_wbuf_init(&call->wb);
	err = fsb_msg_encode_mode(&call->wb, m, call->csum);
	if (err < 0) {
		fsb_wbuf_release(&call->wb);
		return -fsb_status_to_errno(err);
	}

	pthread_mutex_lock(&c->lock);
	if (c->state != CONN_RUNNING && c->state != CONN_DOWN) {
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

uint64_t fb_conn_take_ids(struct fb_conn *c, uint64_t n)
{
	return atomic_fetch_add(&c->next_id, n);
}

int fb_conn_attach(struct fb_conn *c, int fd, int is_tcp, enum fsb_csum csum)
{
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_STOPPING || c->state == CONN_RUNNING || c->attach_fd >= 0) {
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return -ESHUTDOWN;
	}
	c->attach_fd = fd;
	c->attach_is_tcp = is_tcp;
	c->attach_csum = csum;
	seq = c->attaches;
	uv_async_send(&c->wake);
	/* So that what the caller does next (a rescan) finds it connected. */
	while (c->attaches == seq && c->state != CONN_STOPPING)
		pthread_cond_wait(&c->attached, &c->lock);
	rc = c->state == CONN_RUNNING ? 0 : c->state == CONN_STOPPING ? -ESHUTDOWN : -EIO;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void fb_conn_abandon(struct fb_conn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_DOWN || c->state == CONN_FAILING)
		c->state = CONN_DEAD;
	pthread_mutex_unlock(&c->lock);
	uv_async_send(&c->wake);
}

void fb_conn_get_stats(struct fb_conn *c, struct fb_conn_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->reconnects = c->reconnects;
	out->retried = c->retried;
	out->down = c->state == CONN_DOWN || c->state == CONN_FAILING;
	out->down_ms = c->down_ms;
	if (out->down && c->thread_started)
		out->down_ms += uv_hrtime() / 1000000u - c->down_since_ms;
	pthread_mutex_unlock(&c->lock);
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
		fb__conn_fail(c, 1, "writing to the server failed: %s", uv_strerror(status));
}

/* Encode the queued forgets into wb, FORGET_BATCH_MAX items per frame. */
static void encode_forgets(struct fb_conn *c, struct fsb_wbuf *wb, struct fsb_forget_item *items,
                           size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct fsb_msg m;
		size_t k = n - off < FORGET_BATCH_MAX ? n - off : FORGET_BATCH_MAX;

		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_FORGET;
		m.u.forget.count = (uint32_t)k;
		m.u.forget.items = items + off;
		if (fsb_msg_encode_mode(wb, &m, atomic_load(&c->csum)) < 0)
			fb_warn("cannot encode FORGET of %zu nodes", k);
		off += k;
	}
}

/* Write the own-frames buffer and the given calls' frames in one go. The
 * calls are already in the pending table. */
void fb__conn_write(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
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
	for (i = 0; i < ncalls; i++) {
		struct fb_call *call = calls[i];
		int mode = atomic_load(&c->csum);

		/* Encoded before a reconnect to a session of the other mode. */
		if (call->csum != mode) {
			fsb_frame_seal(call->wb.data, call->wb.len, mode);
			call->csum = (uint8_t)mode;
		}
		w->bufs[nb++] = uv_buf_init((char *)call->wb.data, (unsigned)call->wb.len);
	}
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
		fb__conn_fail(c, 1, "writing to the server failed: %s", uv_strerror(err));
	}
	return;

out_nomem:
	/* Nothing was written; the connection cannot keep its promises. */
	for (i = 0; i < ncalls; i++)
		calls[i]->written = 1;
	free(calls);
	fsb_wbuf_release(own);
	fb__conn_fail(c, 1, "out of memory while writing requests");
}

/* ---- the wakeup: queued work from the workers ------------------------- */

static void on_wake(uv_async_t *h)
{
	struct fb_conn *c = h->data;
	struct fb_call *list = NULL, *call, **calls = NULL;
	struct fsb_forget_item *forgets;
	size_t nforgets, ncalls = 0, i;
	enum conn_state state;
	struct fsb_wbuf own;
	int afd = -1, atcp = 0;
	enum fsb_csum acsum = FSB_CSUM_XXH3;

	pthread_mutex_lock(&c->lock);
	state = c->state;
	if ((state == CONN_DOWN || state == CONN_FAILING) && !c->sock_closing &&
	    c->attach_fd >= 0) {
		afd = c->attach_fd;
		atcp = c->attach_is_tcp;
		acsum = c->attach_csum;
		c->attach_fd = -1;
	}
	if (state != CONN_DOWN) {
		list = c->q_head;
		c->q_head = NULL;
		c->q_tail = &c->q_head;
	}
	forgets = c->forgets;
	nforgets = c->nforgets;
	c->forgets = NULL;
	c->nforgets = 0;
	c->forgets_cap = 0;
	pthread_mutex_unlock(&c->lock);

	if (state == CONN_STOPPING) {
		free(forgets);
		fb__fail_call_list(list, -EIO);
		fb__conn_teardown(c);
		return;
	}
	if (afd >= 0) {
		/* Forgets died with the old session. */
		free(forgets);
		fb__fail_call_list(list, -EIO);     /* FAILING: came in before the attach */
		fb__conn_attach(c, afd, atcp, acsum);
		return;
	}
	if (state == CONN_DOWN) {
		/* Calls wait in the queue; forgets die with the old session. */
		free(forgets);
		if (!uv_is_active((uv_handle_t *)&c->tick))
			uv_timer_start(&c->tick, fb__conn_on_tick, TICK_MS, TICK_MS);
		return;
	}
	if (state != CONN_RUNNING || !c->sock_open) {
		free(forgets);
		fb__fail_call_list(list, -EIO);
		if (state == CONN_DEAD || state == CONN_FAILING) {
			fb__fail_call_list(c->held, -EIO);
			c->held = NULL;
			uv_timer_stop(&c->tick);
		}
		return;
	}

	fsb_wbuf_init(&own);
	if (nforgets)
		encode_forgets(c, &own, forgets, nforgets);
	free(forgets);

	for (call = list; call; call = call->next)
		ncalls++;
	if (ncalls) {
		calls = malloc(ncalls * sizeof(*calls));
		if (!calls) {
			fsb_wbuf_release(&own);
			fb__fail_call_list(list, -EIO);
			fb__conn_fail(c, 1, "out of memory while queueing requests");
			return;
		}
		for (i = 0, call = list; call; i++) {
			struct fb_call *next = call->next;
			calls[i] = call;
			fb__conn_pending_insert(c, call);
			call = next;
		}
	}
	fb__conn_write(c, calls, ncalls, &own);
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
	err = pthread_cond_init(&c->attached, NULL);
	if (err) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -err;
	}
	c->fd = cfg->fd;
	c->is_tcp = cfg->is_tcp;
	atomic_init(&c->csum, cfg->csum);
	snprintf(c->peer, sizeof(c->peer), "%s", cfg->peer ? cfg->peer : "server");
	c->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 5000;
	c->dead_ms = cfg->dead_ms ? cfg->dead_ms : 15000;
	c->on_push = cfg->on_push;
	c->push_arg = cfg->push_arg;
	c->reconnect = cfg->reconnect;
	c->soft_ms = cfg->soft_ms;
	c->on_down = cfg->on_down;
	c->down_arg = cfg->down_arg;
	c->attach_fd = -1;
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
	uv_timer_init(&c->loop, &c->tick);
	c->tick.data = c;

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
	err = uv_read_start(&c->sock.stream, fb__conn_on_alloc, fb__conn_on_read);
	if (err < 0)
		goto out_handles;
	c->last_rx_ms = uv_now(&c->loop);
	uv_timer_start(&c->heartbeat, fb__conn_on_heartbeat, c->heartbeat_ms, c->heartbeat_ms);

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
	uv_close((uv_handle_t *)&c->tick, NULL);
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
	pthread_cond_broadcast(&c->attached);
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
	if (c->attach_fd >= 0)
		close(c->attach_fd);
	free(c->rx);
	free(c->forgets);
	pthread_cond_destroy(&c->attached);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
