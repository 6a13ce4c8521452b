/*
 * server.c - the server object: exports, token, the list of sessions, and
 * the worker pool's start and stop. The top of the core: it starts each
 * session's reader (reader.c) and the workers (pool.c), makes and frees
 * the change hubs (events.c); nothing in the core calls it.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_events.h"
#include "ws_log.h"
#include "ws_pool.h"
#include "ws_reader.h"
#include "ws_server.h"
#include "ws_session.h"

static void destroy_exports(struct ws_srv_export *ex, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* The hub stops its watcher before the backend goes. */
		ws_events_free(ex[i].events);
		if (ex[i].be)
			ex[i].be->ops->destroy(ex[i].be);
		free(ex[i].name);
		free(ex[i].path);
		free(ex[i].canonical);
	}
	free(ex);
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

int ws_server_new(const struct ws_server_opts *o, struct ws_server **out, char *err,
                  size_t errlen)
{
	struct ws_server *srv;
	size_t i;
	int rc = -FSB_ENOMEM;

	*out = NULL;
	if (!o->nexports || !o->token || !*o->token) {
		for (i = 0; i < o->nexports; i++)
			o->exports[i].be->ops->destroy(o->exports[i].be);
		snprintf(err, errlen, "%s", !o->nexports ? "no export given" : "the token is empty");
		return -FSB_EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		for (i = 0; i < o->nexports; i++)
			o->exports[i].be->ops->destroy(o->exports[i].be);
		snprintf(err, errlen, "out of memory");
		return -FSB_ENOMEM;
	}
	srv->exports = calloc(o->nexports, sizeof(*srv->exports));
	if (!srv->exports) {
		for (i = 0; i < o->nexports; i++)
			o->exports[i].be->ops->destroy(o->exports[i].be);
		goto out_free;
	}
	srv->nexports = o->nexports;
	for (i = 0; i < o->nexports; i++)
		srv->exports[i].be = o->exports[i].be;
	for (i = 0; i < o->nexports; i++) {
		srv->exports[i].path = dupstr(o->exports[i].path);
		if (!srv->exports[i].path)
			goto out_exports;
		if (o->exports[i].canonical) {
			srv->exports[i].canonical = dupstr(o->exports[i].canonical);
			if (!srv->exports[i].canonical)
				goto out_exports;
		}
		if (o->exports[i].name) {
			srv->exports[i].name = dupstr(o->exports[i].name);
			if (!srv->exports[i].name)
				goto out_exports;
		}
		if (srv->exports[i].be->ops->watch_start &&
		    ws_events_new(srv->exports[i].be, srv->exports[i].path, &srv->exports[i].events))
			goto out_exports;
	}
	srv->token = dupstr(o->token);
	if (!srv->token)
		goto out_exports;
	srv->token_len = strlen(srv->token);
	srv->max_handles = o->max_handles ? o->max_handles : WS_DEFAULT_MAX_HANDLES;
	srv->readonly = o->readonly;
	snprintf(srv->server_name, sizeof(srv->server_name), "winside %s (%s)",
	         o->version ? o->version : "?", srv->exports[0].be->ops->name);
	if (pthread_mutex_init(&srv->lock, NULL))
		goto out_token;
	if (pthread_cond_init(&srv->ended, NULL))
		goto out_lock;
	rc = ws__pool_start(&srv->pool, o->workers ? o->workers : WS_DEFAULT_WORKERS);
	if (rc)
		goto out_cond;
	*out = srv;
	return 0;

out_cond:
	pthread_cond_destroy(&srv->ended);
out_lock:
	pthread_mutex_destroy(&srv->lock);
out_token:
	free(srv->token);
out_exports:
	destroy_exports(srv->exports, srv->nexports);
out_free:
	free(srv);
	snprintf(err, errlen, "%s", rc == -FSB_EAGAIN ? "cannot start the worker threads" : "out of memory");
	return rc;
}

static void session_free(struct ws_session *s)
{
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->room);
	pthread_mutex_destroy(&s->lock);
	ws__outsegs_free(s->out_head);
	fsb_wbuf_release(&s->rwb);
	free(s->rbuf);
	free(s);
}

int ws_server_add(struct ws_server *srv, struct ws_stream *st)
{
	struct ws_session *s = calloc(1, sizeof(*s));

	if (!s) {
		st->ops->close(st);
		return -FSB_ENOMEM;
	}
	s->srv = srv;
	s->st = st;
	fsb_wbuf_init(&s->rwb);
	s->rbuf = malloc(WS_RBUF_SIZE);
	if (!s->rbuf)
		goto out_free;
	if (pthread_mutex_init(&s->lock, NULL))
		goto out_free;
	if (pthread_cond_init(&s->room, NULL)) {
		pthread_mutex_destroy(&s->lock);
		goto out_free;
	}
	if (pthread_cond_init(&s->wake, NULL)) {
		pthread_cond_destroy(&s->room);
		pthread_mutex_destroy(&s->lock);
		goto out_free;
	}

	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		session_free(s);
		st->ops->close(st);
		return -FSB_ECONNRESET;
	}
	s->serial = ++srv->serial;
	/* The writer is started by the reader: if the reader cannot start,
	 * nothing else has to be undone. */
	if (pthread_create(&s->reader, NULL, ws__session_reader, s)) {
		pthread_mutex_unlock(&srv->lock);
		ws_log(WS_LOG_ERROR, "connection %" PRIu64 " from %s: cannot start a thread",
		       s->serial, st->peer);
		session_free(s);
		st->ops->close(st);
		return -FSB_EAGAIN;
	}
	s->next = srv->live;
	if (srv->live)
		srv->live->prev = s;
	srv->live = s;
	srv->nlive++;
	pthread_mutex_unlock(&srv->lock);
	return 0;

out_free:
	free(s->rbuf);
	fsb_wbuf_release(&s->rwb);
	free(s);
	st->ops->close(st);
	return -FSB_ENOMEM;
}

void ws_server_reap(struct ws_server *srv)
{
	struct ws_session *s, *next;

	pthread_mutex_lock(&srv->lock);
	s = srv->dead;
	srv->dead = NULL;
	pthread_mutex_unlock(&srv->lock);
	for (; s; s = next) {
		next = s->next;
		pthread_join(s->reader, NULL);
		session_free(s);
	}
}

unsigned ws_server_sessions(struct ws_server *srv)
{
	unsigned n;

	pthread_mutex_lock(&srv->lock);
	n = srv->nlive;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

void ws_server_export_stats(struct ws_server *srv, size_t i, struct ws_export_stats *out)
{
	struct ws_nodes_tally *t;

	memset(out, 0, sizeof(*out));
	if (i >= srv->nexports)
		return;
	t = &srv->exports[i].tally;
	out->sessions = atomic_load(&t->sessions);
	out->nodes = atomic_load(&t->nodes);
	out->bytes = atomic_load(&t->bytes);
}

void ws_server_free(struct ws_server *srv)
{
	struct ws_session *s;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	/* A session leaves the live list before closing its stream, so
	 * every stream reached here is still open. */
	for (s = srv->live; s; s = s->next)
		s->st->ops->shutdown(s->st);
	while (srv->nlive)
		pthread_cond_wait(&srv->ended, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	ws_server_reap(srv);
	ws__pool_stop(&srv->pool);
	pthread_cond_destroy(&srv->ended);
	pthread_mutex_destroy(&srv->lock);
	destroy_exports(srv->exports, srv->nexports);
	free(srv->token);
	free(srv);
}
