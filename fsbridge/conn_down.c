/*
 * conn_down.c - the connection without its server: losing it (calls
 * held or failed), waiting (interrupted calls, the soft limit), getting a
 * resumed socket back (attach), and teardown; see conn.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "conn_int.h"
#include "log.h"

/* ---- losing the server ------------------------------------------------ */


void fb__fail_call_list(struct fb_call *list, int err)
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
	struct fb_call *queued = NULL, *list, **tail, *sent, *part;
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
	/* No worker writes to the socket from here on; what they wrote
	 * is in flight like the rest. */
	c->wfd = -1;
	sent = fb__conn_sent_take_locked(c, &part);
	c->part = NULL;
	c->werr = 0;
	pthread_mutex_unlock(&c->lock);
	fb__conn_sent_to_pending(c, sent, part);

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
	fb__fail_call_list(queued, -EIO);

	list = take_pending(c);
	if (!went_down && c->state != CONN_DOWN) {
		fb__fail_call_list(c->held, -EIO);
		c->held = NULL;
		fb__fail_call_list(list, -EIO);
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
		uv_timer_start(&c->tick, fb__conn_on_tick, TICK_MS, TICK_MS);
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
void fb__conn_on_tick(uv_timer_t *t)
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
		fb__fail_call_list(c->held, -EIO);
		c->held = NULL;
		fb__fail_call_list(queued, -EIO);
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
void fb__conn_attach(struct fb_conn *c, int fd, int is_tcp, enum fsb_csum csum)
{
	struct fb_call *list, *queued, **tail, *call, **calls = NULL;
	struct fsb_wbuf own;
	size_t n = 0, i, retried = 0;
	int err;

	c->is_tcp = is_tcp;
	atomic_store(&c->csum, csum);
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
	/* Counted before workers may write directly again, so that what
	 * waited goes first. */
	c->uv_busy++;
	c->wfd = fd;
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
			fb__fail_call_list(list, -EIO);
			fb__conn_busy_done(c);
			fb__conn_fail(c, 1, "out of memory while sending requests again");
			return;
		}
		for (i = 0, call = list; call; i++) {
			struct fb_call *next = call->next;
			calls[i] = call;
			call->next = NULL;
			fb__conn_pending_insert(c, call);
			call = next;
		}
	}
	fsb_wbuf_init(&own);
	fb__conn_write_counted(c, calls, n, &own, NULL, 0);
}

void fb__conn_teardown(struct fb_conn *c)
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
