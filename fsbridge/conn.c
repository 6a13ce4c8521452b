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
#define TICK_MS 100u                    /* while lost: interrupts, soft limit */

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

static void pending_insert(struct fb_conn *c, struct fb_call *call)
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
	fsb_wbuf_init(&call->wb);
	err = fsb_msg_encode(&call->wb, m);
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

int fb_conn_attach(struct fb_conn *c, int fd, int is_tcp)
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

/* ---- losing the server ------------------------------------------------ */

static void on_tick(uv_timer_t *t);

static void fail_call_list(struct fb_call *list, int err)
{
	while (list) {
		struct fb_call *next = list->next;
		list->next = NULL;
		list->written = 1;   /* never will be (again) */
		fb__call_complete(list, NULL, err);
		list = next;
	}
}

/* Every call in the pending table, in id order (the order they were
 * sent), as a list; the table is left empty. */
static int by_id(const void *a, const void *b)
{
	const struct fb_call *x = *(struct fb_call *const *)a, *y = *(struct fb_call *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct fb_call *take_pending(struct fb_conn *c)
{
	struct fb_call **v, *list = NULL;
	size_t n = 0, b, i;

	v = c->npending ? malloc(c->npending * sizeof(*v)) : NULL;
	for (b = 0; b < PENDING_BUCKETS; b++) {
		while (c->pending[b]) {
			struct fb_call *call = c->pending[b];
			c->pending[b] = call->next;
			call->next = list;     /* unordered if v is NULL */
			list = call;
			c->npending--;
		}
	}
	if (!v)
		return list;
	for (; list; list = list->next)
		v[n++] = list;
	qsort(v, n, sizeof(*v), by_id);
	for (i = n; i-- > 0;) {
		v[i]->next = list;
		list = v[i];
	}
	free(v);
	return list;
}

static void on_sock_close(uv_handle_t *h)
{
	struct fb_conn *c = h->data;

	c->sock_closing = 0;
	/* An attach may have come in while the old socket was closing. */
	uv_async_send(&c->wake);
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* Loop thread. The connection is lost (or stopping). With reconnect, the
 * calls wait: the pending ones, which the server may have seen, are held
 * in their order (PINGs, which nobody waits for, end here); queued ones
 * stay queued. Otherwise everything fails. `loud` distinguishes a real
 * loss (one error line) from shutdown. */
void fb__conn_fail(struct fb_conn *c, int loud, const char *fmt, ...)
{
	struct fb_call *queued = NULL, *list, **tail;
	int went_down = 0;
	char why[512];
	va_list ap;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_RUNNING) {
		c->state = c->reconnect ? CONN_DOWN : CONN_DEAD;
		went_down = c->state == CONN_DOWN;
		if (went_down)
			c->down_since_ms = now_ms();
	}
	if (c->state != CONN_DOWN) {
		queued = c->q_head;
		c->q_head = NULL;
		c->q_tail = &c->q_head;
	}
	/* The server forgets the whole session; so do its references. */
	c->nforgets = 0;
	pthread_mutex_unlock(&c->lock);

	if (c->sock_open) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		if (loud && went_down)
			fb_err("connection to %s lost: %s; reconnecting, %s", c->peer, why,
			       c->soft_ms ? "requests wait (soft: fail with EIO after the timeout)"
			                  : "requests wait until the server is back");
		else if (loud)
			fb_err("connection to %s lost: %s; all requests now fail with EIO",
			       c->peer, why);
		else
			fb_dbg("closing connection to %s: %s", c->peer, why);
		uv_read_stop(&c->sock.stream);
		c->sock_closing = 1;
		uv_close((uv_handle_t *)&c->sock.stream, on_sock_close);
		c->sock_open = 0;
		c->rx_len = 0;
		c->rx_need = 0;
	}
	fail_call_list(queued, -EIO);

	list = take_pending(c);
	if (!went_down && c->state != CONN_DOWN) {
		fail_call_list(c->held, -EIO);
		c->held = NULL;
		fail_call_list(list, -EIO);
		return;
	}
	/* Held calls first, then what was in flight on the lost socket. */
	for (tail = &c->held; *tail; tail = &(*tail)->next)
		;
	while (list) {
		struct fb_call *next = list->next;
		list->next = NULL;
		if (list->op == FSB_OP_PING) {
			list->written = 1;
			fb__call_complete(list, NULL, -EIO);
		} else {
			*tail = list;
			tail = &list->next;
		}
		list = next;
	}
	if (went_down) {
		uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
		if (c->on_down)
			c->on_down(c->down_arg);
	}
}

/* Complete with -EINTR every call in *list whose waiter gave up. */
static void drop_interrupted(struct fb_call **list)
{
	while (*list) {
		struct fb_call *call = *list;

		if (call->interrupted && call->interrupted(call)) {
			*list = call->next;
			call->next = NULL;
			call->written = 1;
			fb__call_complete(call, NULL, -EINTR);
			continue;
		}
		list = &call->next;
	}
}

/* While lost: give up interrupted calls; past the soft limit, all. */
static void on_tick(uv_timer_t *t)
{
	struct fb_conn *c = t->data;
	struct fb_call *queued, **tail;
	int fail_all = 0;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_DOWN && c->soft_ms && now_ms() - c->down_since_ms >= c->soft_ms) {
		c->state = CONN_FAILING;
		fail_all = 1;
	}
	queued = c->q_head;
	c->q_head = NULL;
	c->q_tail = &c->q_head;
	pthread_mutex_unlock(&c->lock);

	if (fail_all) {
		fb_err("server %s still unreachable after %u s: requests fail with EIO until "
		       "it is back", c->peer, c->soft_ms / 1000);
		fail_call_list(c->held, -EIO);
		c->held = NULL;
		fail_call_list(queued, -EIO);
		return;
	}
	drop_interrupted(&c->held);
	drop_interrupted(&queued);
	if (!queued)
		return;
	/* Put the survivors back in front of what came in meanwhile. */
	pthread_mutex_lock(&c->lock);
	for (tail = &queued; *tail; tail = &(*tail)->next)
		;
	*tail = c->q_head;
	if (!c->q_head)
		c->q_tail = tail;
	c->q_head = queued;
	pthread_mutex_unlock(&c->lock);
}

/* Loop thread: take over a resumed socket and send what waited: the held
 * calls again, in their order, then the queued ones. */
static void attach(struct fb_conn *c, int fd, int is_tcp)
{
	struct fb_call *list, *queued, **tail, *call, **calls = NULL;
	struct fsb_wbuf own;
	size_t n = 0, i, retried = 0;
	int err;

	c->is_tcp = is_tcp;
	if (is_tcp) {
		uv_tcp_init(&c->loop, &c->sock.tcp);
		err = uv_tcp_open(&c->sock.tcp, fd);
	} else {
		uv_pipe_init(&c->loop, &c->sock.pipe, 0);
		err = uv_pipe_open(&c->sock.pipe, fd);
	}
	c->sock.stream.data = c;
	c->sock_open = 1;
	if (err < 0)
		close(fd);      /* libuv did not take it */
	else
		err = uv_read_start(&c->sock.stream, fb__conn_on_alloc, fb__conn_on_read);
	if (err < 0) {
		/* Still lost: the owner is told again and tries again. */
		pthread_mutex_lock(&c->lock);
		c->state = CONN_RUNNING;
		pthread_mutex_unlock(&c->lock);
		fb__conn_fail(c, 1, "cannot use the new socket: %s", uv_strerror(err));
		pthread_mutex_lock(&c->lock);
		c->attaches++;
		pthread_cond_broadcast(&c->attached);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->last_rx_ms = uv_now(&c->loop);
	uv_timer_stop(&c->tick);

	pthread_mutex_lock(&c->lock);
	c->state = CONN_RUNNING;
	c->attaches++;
	pthread_cond_broadcast(&c->attached);
	c->reconnects++;
	c->down_ms += now_ms() - c->down_since_ms;
	queued = c->q_head;
	c->q_head = NULL;
	c->q_tail = &c->q_head;
	pthread_mutex_unlock(&c->lock);

	list = c->held;
	c->held = NULL;
	for (call = list; call; call = call->next) {
		call->written = 0;
		call->retried = 1;
		retried++;
	}
	for (tail = &list; *tail; tail = &(*tail)->next)
		;
	*tail = queued;
	for (call = list; call; call = call->next)
		n++;
	pthread_mutex_lock(&c->lock);
	c->retried += retried;
	pthread_mutex_unlock(&c->lock);
	fb_dbg("connection to %s back: %zu requests sent again, %zu queued meanwhile", c->peer,
	       retried, n - retried);
	if (n) {
		calls = malloc(n * sizeof(*calls));
		if (!calls) {
			fail_call_list(list, -EIO);
			fb__conn_fail(c, 1, "out of memory while sending requests again");
			return;
		}
		for (i = 0, call = list; call; i++) {
			struct fb_call *next = call->next;
			calls[i] = call;
			call->next = NULL;
			pending_insert(c, call);
			call = next;
		}
	}
	fsb_wbuf_init(&own);
	fb__conn_write(c, calls, n, &own);
}

static void conn_teardown(struct fb_conn *c)
{
	int fd;

	if (c->torn_down)
		return;
	c->torn_down = 1;
	fb__conn_fail(c, 0, "shutting down");
	pthread_mutex_lock(&c->lock);
	fd = c->attach_fd;
	c->attach_fd = -1;
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	uv_timer_stop(&c->heartbeat);
	uv_close((uv_handle_t *)&c->heartbeat, NULL);
	uv_timer_stop(&c->tick);
	uv_close((uv_handle_t *)&c->tick, NULL);
	uv_close((uv_handle_t *)&c->wake, NULL);
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

	pthread_mutex_lock(&c->lock);
	state = c->state;
	if ((state == CONN_DOWN || state == CONN_FAILING) && !c->sock_closing &&
	    c->attach_fd >= 0) {
		afd = c->attach_fd;
		atcp = c->attach_is_tcp;
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
		fail_call_list(list, -EIO);
		conn_teardown(c);
		return;
	}
	if (afd >= 0) {
		/* Forgets died with the old session. */
		free(forgets);
		fail_call_list(list, -EIO);     /* FAILING: came in before the attach */
		attach(c, afd, atcp);
		return;
	}
	if (state == CONN_DOWN) {
		/* Calls wait in the queue; forgets die with the old session. */
		free(forgets);
		if (!uv_is_active((uv_handle_t *)&c->tick))
			uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
		return;
	}
	if (state != CONN_RUNNING || !c->sock_open) {
		free(forgets);
		fail_call_list(list, -EIO);
		if (state == CONN_DEAD || state == CONN_FAILING) {
			fail_call_list(c->held, -EIO);
			c->held = NULL;
			uv_timer_stop(&c->tick);
		}
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
			fail_call_list(list, -EIO);
			fb__conn_fail(c, 1, "out of memory while queueing requests");
			return;
		}
		for (i = 0, call = list; call; i++) {
			struct fb_call *next = call->next;
			calls[i] = call;
			pending_insert(c, call);
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
