/*
 * session.c - a session's output: the queue that replies and events go
 * on, the writer thread that sends it in the order it was queued, and the
 * end of each request (which lets a waiting reader go on). Calls the
 * stream and the log only; everything that talks to a client calls this.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ws_log.h"
#include "ws_session.h"

/* Append under s->lock; on allocation failure the connection ends. */
static void queue_locked(struct ws_session *s, const uint8_t *data, size_t len)
{
	size_t need, cap;
	uint8_t *p;

	if (s->wdead)
		return;
	need = s->out.len + len;
	if (need > s->out.cap) {
		cap = s->out.cap ? s->out.cap : 65536;
		while (cap < need)
			cap *= 2;
		p = realloc(s->out.data, cap);
		if (!p) {
			/* A dropped reply would leave the client waiting for
			 * ever: end the connection instead. */
			s->wdead = 1;
			pthread_cond_broadcast(&s->room);
			s->st->ops->shutdown(s->st);
			return;
		}
		s->out.data = p;
		s->out.cap = cap;
	}
	memcpy(s->out.data + s->out.len, data, len);
	s->out.len += len;
	pthread_cond_signal(&s->wake);
}

void ws__session_queue(struct ws_session *s, const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&s->lock);
	queue_locked(s, data, len);
	pthread_mutex_unlock(&s->lock);
}

int ws__session_queue_event(struct ws_session *s, const uint8_t *data, size_t len, size_t limit)
{
	int full;

	pthread_mutex_lock(&s->lock);
	full = s->out.len + len > limit;
	if (!full)
		queue_locked(s, data, len);
	pthread_mutex_unlock(&s->lock);
	return full;
}

size_t ws__session_backlog(struct ws_session *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->out.len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void *ws__session_writer(void *arg)
{
	struct ws_session *s = arg;
	struct fsb_wbuf mine, tmp;
	int dead, rc;

	fsb_wbuf_init(&mine);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->out.len && !s->wstop)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->out.len)
			break;
		/* Take everything queued in one go: replies finished while
		 * the previous batch was being written leave in one write. */
		tmp = s->out;
		s->out = mine;
		mine = tmp;
		dead = s->wdead;
		pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->lock);

		if (!dead) {
			rc = s->st->ops->write(s->st, mine.data, mine.len);
			if (rc) {
				ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": write: %s", s->serial,
				       fsb_strerror(rc));
				pthread_mutex_lock(&s->lock);
				s->wdead = 1;
				pthread_cond_broadcast(&s->room);
				pthread_mutex_unlock(&s->lock);
				/* The peer is gone: stop the reader too. */
				s->st->ops->shutdown(s->st);
			}
		}
		mine.len = 0;
		if (mine.cap > (1u << 20)) {
			fsb_wbuf_release(&mine);
			fsb_wbuf_init(&mine);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	fsb_wbuf_release(&mine);
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
