/*
 * session.c - a session's output: the queue that replies and events go
 * on, the writer thread that sends it in the order it was queued, and the
 * end of each request (which lets a waiting reader go on). Calls the
 * stream and the log only; everything that talks to a client calls this.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ws_platform.h"
#include "ws_log.h"
#include "ws_session.h"

void ws__outsegs_free(struct ws_outseg *seg)
{
	struct ws_outseg *next;

	for (; seg; seg = next) {
		next = seg->next;
		free(seg->data);
		free(seg);
	}
}

/* A reply dropped for want of memory would leave the client waiting for
 * ever: end the connection instead. Under s->lock. */
static void out_of_memory_locked(struct ws_session *s)
{
	s->wdead = 1;
	pthread_cond_broadcast(&s->room);
	s->st->ops->shutdown(s->st);
}

static void link_locked(struct ws_session *s, struct ws_outseg *seg)
{
	if (s->out_tail)
		s->out_tail->next = seg;
	else
		s->out_head = seg;
	s->out_tail = seg;
	s->out_len += seg->len;
	pthread_cond_signal(&s->wake);
}

/* Append a copy under s->lock, to the last segment if it has room. */
static void queue_locked(struct ws_session *s, const uint8_t *data, size_t len)
{
	struct ws_outseg *seg = s->out_tail;

	if (s->wdead)
		return;
	if (seg && seg->cap - seg->len >= len) {
		memcpy(seg->data + seg->len, data, len);
		seg->len += len;
		s->out_len += len;
		pthread_cond_signal(&s->wake);
		return;
	}
	seg = calloc(1, sizeof(*seg));
	if (seg) {
		seg->cap = len > WS_OUTSEG_SIZE ? len : WS_OUTSEG_SIZE;
		seg->data = malloc(seg->cap);
	}
	if (!seg || !seg->data) {
		free(seg);
		out_of_memory_locked(s);
		return;
	}
	memcpy(seg->data, data, len);
	seg->len = len;
	link_locked(s, seg);
}

/* The stream failed under a write: drop what is queued from now on and
 * stop the reader too. */
static void write_failed_locked(struct ws_session *s, int rc)
{
	ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": write: %s", s->serial, fsb_strerror(rc));
	s->wdead = 1;
	pthread_cond_broadcast(&s->room);
	s->st->ops->shutdown(s->st);
}

void ws__session_queue(struct ws_session *s, const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&s->lock);
	queue_locked(s, data, len);
	pthread_mutex_unlock(&s->lock);
}

/*
 * A small reply is written by the worker that made it when nothing is
 * queued and no one is writing: it then leaves without waking the writer
 * thread, one thread switch fewer per request (on a two-CPU machine each
 * switch costs more than the work of a LOOKUP). Otherwise it queues
 * behind what waits, so the stream keeps the order in which frames were
 * handed over. Event pushes always queue: the writer's short delay lets
 * the changes of one moment (a creation and the write after it) travel
 * in one frame, which the client replays as one.
 */
static void send_reply(struct ws_session *s, const uint8_t *data, size_t len)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->out_head || s->writing || s->wdead || s->wstop) {
		queue_locked(s, data, len);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->writing = 1;
	pthread_mutex_unlock(&s->lock);
	rc = s->st->ops->write(s->st, data, len);
	pthread_mutex_lock(&s->lock);
	s->writing = 0;
	if (rc && !s->wdead)
		write_failed_locked(s, rc);
	/* What queued meanwhile is the writer's. */
	if (s->out_head || s->wstop)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void ws__session_queue_wbuf(struct ws_session *s, struct fsb_wbuf *wb)
{
	struct ws_outseg *seg;

	if (wb->len < WS_OUT_ADOPT || !(seg = calloc(1, sizeof(*seg)))) {
		send_reply(s, wb->data, wb->len);
		return;
	}
	/* A megabyte READ reply is written from the buffer it was read
	 * into: no copy between the file and the socket. */
	seg->data = wb->data;
	seg->len = wb->len;
	fsb_wbuf_init(wb);
	pthread_mutex_lock(&s->lock);
	if (s->wdead) {
		pthread_mutex_unlock(&s->lock);
		ws__outsegs_free(seg);
		return;
	}
	link_locked(s, seg);
	pthread_mutex_unlock(&s->lock);
}

int ws__session_queue_event(struct ws_session *s, const uint8_t *data, size_t len, size_t limit)
{
	int full;

	pthread_mutex_lock(&s->lock);
	full = s->out_len + len > limit;
	if (!full)
		queue_locked(s, data, len);
	pthread_mutex_unlock(&s->lock);
	return full;
}

size_t ws__session_backlog(struct ws_session *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->out_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void *ws__session_writer(void *arg)
{
	struct ws_session *s = arg;
	struct ws_outseg *list, *seg;
	int dead, rc;

	ws_os_thread_name("ws-writer");
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while ((!s->out_head || s->writing) && !(s->wstop && !s->writing))
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->out_head)
			break;
		/* Take everything queued in one go: replies finished while
		 * the previous batch was being written leave together. */
		list = s->out_head;
		s->out_head = s->out_tail = NULL;
		s->out_len = 0;
		dead = s->wdead;
		s->writing = 1;
		pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->lock);

		for (seg = list; seg && !dead; seg = seg->next) {
			rc = s->st->ops->write(s->st, seg->data, seg->len);
			if (rc) {
				pthread_mutex_lock(&s->lock);
				if (!s->wdead)
					write_failed_locked(s, rc);
				pthread_mutex_unlock(&s->lock);
				dead = 1;
			}
		}
		ws__outsegs_free(list);
		pthread_mutex_lock(&s->lock);
		s->writing = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void ws__session_req_done(struct ws_session *s)
{
	pthread_mutex_lock(&s->lock);
	s->inflight--;
	pthread_cond_broadcast(&s->room);
	pthread_mutex_unlock(&s->lock);
}

void ws__req_free(struct ws_req *r)
{
	if (r->decoded)
		fsb_msg_release(&r->in);
	free(r->scratch);
	free(r->scratch2);
	free(r);
}
