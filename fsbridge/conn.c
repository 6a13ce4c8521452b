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
#include <sys/socket.h>

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
	struct fb_call *part;        /* the rest of a frame begun directly */
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

/*
 * A worker writes its frame to the socket itself when nothing else is
 * being written or waits to be: the frame then leaves without waking the
 * loop thread, one thread switch fewer per request (each costs more than
 * most requests on a small VM). Under c->lock, so that direct writes never
 * interleave with each other or with the loop's (which count in
 * uv_busy before they start), and the socket cannot be closed meanwhile.
 * The call goes on the `sent` list, which the loop thread moves into its
 * pending table before it reads a reply. A frame the socket takes only in
 * part is finished by the loop thread before anything else; a failed
 * write is the loop thread's to report. Returns 1 if the call was taken
 * (written, in whole or in part), 0 to queue it.
 */
static int write_direct(struct fb_conn *c, struct fb_call *call)
{
	size_t off = 0;
	ssize_t n;

	if (c->state != CONN_RUNNING || c->wfd < 0 || c->uv_busy || c->q_head || c->part ||
	    c->werr || c->nforgets || call->csum != atomic_load(&c->csum))
		return 0;
	while (off < call->wb.len) {
		n = send(c->wfd, call->wb.data + off, call->wb.len - off,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			c->werr = errno;
		break;
	}
	if (off == 0 && !c->werr)
		return 0;       /* the socket is full: the loop waits for room */
	*c->sent_tail = call;
	c->sent_tail = &call->next;
	if (off < call->wb.len && !c->werr) {
		c->part = call;
		c->part_off = off;
	}
	return 1;
}

int fb_conn_submit(struct fb_conn *c, struct fb_call *call, struct fsb_msg *m)
{
	int err, wake;

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
	if (write_direct(c, call)) {
		wake = c->part != NULL || c->werr;
	} else {
		*c->q_tail = call;
		c->q_tail = &call->next;
		wake = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (wake)
		uv_async_send(&c->wake);
	return 0;
}

struct fb_call *fb__conn_sent_take_locked(struct fb_conn *c, struct fb_call **part)
{
	struct fb_call *list = c->sent;

	c->sent = NULL;
	c->sent_tail = &c->sent;
	*part = c->part;
	return list;
}

/* Into the pending table. A frame has left its buffer, but for the part
 * the loop is still to write (conn_wreq.part). */
void fb__conn_sent_to_pending(struct fb_conn *c, struct fb_call *list, const struct fb_call *part)
{
	while (list) {
		struct fb_call *next = list->next;

		list->written = list != part;
		fb__conn_pending_insert(c, list);
		list = next;
	}
}

void fb__conn_take_sent(struct fb_conn *c)
{
	struct fb_call *list, *part;

	pthread_mutex_lock(&c->lock);
	list = fb__conn_sent_take_locked(c, &part);
	pthread_mutex_unlock(&c->lock);
	fb__conn_sent_to_pending(c, list, part);
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
	if (w->part) {
		w->part->written = 1;
		call_finish(w->part);
	}
	wreq_free(w);
	fb__conn_busy_done(c);
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

void fb__conn_busy_done(struct fb_conn *c)
{
	pthread_mutex_lock(&c->lock);
	c->uv_busy--;
	pthread_mutex_unlock(&c->lock);
}

/* Write the rest of a frame begun directly (part, from part_off), the
 * own-frames buffer and the given calls' frames in one go. The calls are
 * already in the pending table. The caller has counted this write in
 * uv_busy, under the lock, before it took what it writes: no worker
 * writes directly from then until the write is done. */
void fb__conn_write_counted(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
                            struct fsb_wbuf *own, struct fb_call *part, size_t part_off)
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
	w->part = part;
	fsb_wbuf_init(own);
	w->bufs = calloc(ncalls + 2, sizeof(*w->bufs));
	if (!w->bufs) {
		*own = w->own;
		free(w);
		goto out_nomem;
	}
	if (part)
		w->bufs[nb++] = uv_buf_init((char *)part->wb.data + part_off,
		                            (unsigned)(part->wb.len - part_off));
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
		fb__conn_busy_done(c);
		return;
	}
	err = uv_write(&w->req, &c->sock.stream, w->bufs, (unsigned)nb, on_write);
	if (err < 0) {
		for (i = 0; i < ncalls; i++) {
			calls[i]->written = 1;
			call_finish(calls[i]);
		}
		if (part) {
			part->written = 1;
			call_finish(part);
		}
		wreq_free(w);
		fb__conn_busy_done(c);
		fb__conn_fail(c, 1, "writing to the server failed: %s", uv_strerror(err));
	}
	return;

out_nomem:
	/* Nothing was written; the connection cannot keep its promises. */
	for (i = 0; i < ncalls; i++)
		calls[i]->written = 1;
	if (part)
		part->written = 1;
	free(calls);
	fsb_wbuf_release(own);
	fb__conn_busy_done(c);
	fb__conn_fail(c, 1, "out of memory while writing requests");
}

void fb__conn_write(struct fb_conn *c, struct fb_call **calls, size_t ncalls,
                    struct fsb_wbuf *own)
{
	pthread_mutex_lock(&c->lock);
	c->uv_busy++;
	pthread_mutex_unlock(&c->lock);
	fb__conn_write_counted(c, calls, ncalls, own, NULL, 0);
}

/* ---- the wakeup: queued work from the workers ------------------------- */

static void on_wake(uv_async_t *h)
{
	struct fb_conn *c = h->data;
	struct fb_call *list = NULL, *call, **calls = NULL;
	struct fsb_forget_item *forgets;
	size_t nforgets, ncalls = 0, i;
	enum conn_state state;
	struct fb_call *sent, *part = NULL;
	size_t part_off = 0;
	struct fsb_wbuf own;
	int afd = -1, atcp = 0, werr;
	enum fsb_csum acsum = FSB_CSUM_XXH3;

	pthread_mutex_lock(&c->lock);
	state = c->state;
	sent = fb__conn_sent_take_locked(c, &part);
	werr = state == CONN_RUNNING ? c->werr : 0;
	if (werr) {
		/* What waits in the queue stays there for fb__conn_fail. */
		pthread_mutex_unlock(&c->lock);
		fb__conn_sent_to_pending(c, sent, part);
		fb__conn_fail(c, 1, "writing to the server failed: %s", strerror(werr));
		return;
	}
	if (state == CONN_RUNNING) {
		/* Counted now, so that no worker writes directly before
		 * what is taken here has been written. */
		c->part = NULL;
		part_off = c->part_off;
		c->uv_busy++;
	}
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
	/* A part exists only while running (fb__conn_fail clears it as
	 * the state changes), and is then written below. */
	fb__conn_sent_to_pending(c, sent, part);

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
		if (state == CONN_RUNNING)
			fb__conn_busy_done(c);
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
			fb__conn_busy_done(c);
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
	fb__conn_write_counted(c, calls, ncalls, &own, part, part_off);
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
	c->wfd = -1;
	c->sent_tail = &c->sent;
	atomic_init(&c->next_id, cfg->first_id ? cfg->first_id : 1);
	c->state = CONN_RUNNING;
	c->q_tail = &c->q_head;
	*out = c;
	return 0;
}

static void *conn_thread(void *arg)
{
	struct fb_conn *c = arg;

	pthread_setname_np(pthread_self(), "fb-conn");
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
	c->wfd = c->fd;
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
