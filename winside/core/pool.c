/*
 * pool.c - the worker pool: one queue of requests, fed by the sessions'
 * readers, and the threads that run each request through ws__dispatch
 * (dispatch.c). Calls dispatch.c and nothing above it.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_platform.h"
#include "ws_dispatch.h"
#include "ws_pool.h"
#include "ws_session.h"

static void *worker_main(void *arg)
{
	struct ws_pool *p = arg;
	struct fsb_wbuf wb;
	struct ws_req *r;

	ws_os_thread_name("ws-worker");
	fsb_wbuf_init(&wb);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		r = p->head;
		if (!r) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		r->next = NULL;
		ws__dispatch(r, &wb);
	}
	fsb_wbuf_release(&wb);
	return NULL;
}

void ws__pool_push(struct ws_pool *p, struct ws_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int ws__pool_start(struct ws_pool *p, unsigned n)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	if (pthread_mutex_init(&p->lock, NULL))
		return -FSB_ENOMEM;
	if (pthread_cond_init(&p->cond, NULL)) {
		pthread_mutex_destroy(&p->lock);
		return -FSB_ENOMEM;
	}
	p->threads = calloc(n, sizeof(*p->threads));
	if (!p->threads)
		goto out_sync;
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p))
			break;
		p->nthreads++;
	}
	if (p->nthreads == n)
		return 0;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
out_sync:
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	return -FSB_EAGAIN;
}

/* Only after every session has ended: the queue is empty by then. */
void ws__pool_stop(struct ws_pool *p)
{
	unsigned i;

	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}
