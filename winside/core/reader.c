/*
 * reader.c - a session's reader thread: framing, HELLO, FORGET and RESUME
 * inline, the hand-off of every other request to the worker pool, and the
 * session's teardown when its stream ends. Started by ws_server_add
 * (server.c); calls pool.c, dispatch.c (replies it sends itself),
 * events.c (subscriptions), session.c (the writer and the output queue),
 * check.c and the node and handle tables.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_check.h"
#include "ws_dispatch.h"
#include "ws_events.h"
#include "ws_log.h"
#include "ws_platform.h"
#include "ws_pool.h"
#include "ws_reader.h"
#include "ws_session.h"

/* ---- input -------------------------------------------------------------- */

/* Make `need` bytes (<= WS_RBUF_SIZE) available at rbuf + rpos. 0, 1 on a
 * clean end of stream (no partial frame), or a negative status. */
static int rd_fill(struct ws_session *s, size_t need)
{
	long n;

	while (s->rlen - s->rpos < need) {
		if (s->rpos == s->rlen) {
			s->rpos = s->rlen = 0;
		} else if (s->rpos + need > WS_RBUF_SIZE) {
			memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
			s->rlen -= s->rpos;
			s->rpos = 0;
		}
		n = s->st->ops->read(s->st, s->rbuf + s->rlen, WS_RBUF_SIZE - s->rlen);
		if (n == 0)
			return s->rlen == s->rpos ? 1 : -FSB_ECONNRESET;
		if (n < 0)
			return (int)n;
		s->rlen += (size_t)n;
	}
	return 0;
}

/* Read one frame into a new request. 0, 1 at a clean end of stream,
 * -FSB_EPROTO with the decoder's verdict in *ferr for a corrupt frame, or
 * another negative status for a stream error. */
static int read_req(struct ws_session *s, struct ws_req **out, int *ferr)
{
	struct ws_req *r;
	uint32_t flen = 0;
	size_t have;
	long n;
	int rc;

	*out = NULL;
	*ferr = 0;
	rc = rd_fill(s, 8);
	if (rc)
		return rc;
	/* Magic and length are judged from 8 bytes, before allocating. */
	rc = fsb_frame_check_mode(s->rbuf + s->rpos, 8, &flen, s->csum);
	if (rc != -FSB_EFRAME_SHORT || flen < FSB_HDR_SIZE || flen > FSB_MAX_FRAME) {
		*ferr = rc ? rc : -FSB_EFRAME_UNDERSIZE;
		return -FSB_EPROTO;
	}
	r = malloc(sizeof(*r) + flen);
	if (!r)
		return -FSB_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->len = flen;
	have = s->rlen - s->rpos;
	if (have > flen)
		have = flen;
	memcpy(r->frame, s->rbuf + s->rpos, have);
	s->rpos += have;
	/* The rest of a large frame goes straight into place. */
	while (have < flen) {
		n = s->st->ops->read(s->st, r->frame + have, flen - have);
		if (n <= 0) {
			free(r);
			return n == 0 ? -FSB_ECONNRESET : (int)n;
		}
		have += (size_t)n;
	}
	*out = r;
	return 0;
}

/* ---- HELLO -------------------------------------------------------------- */

static struct ws_srv_export *find_export(struct ws_server *srv, struct fsb_str want)
{
	size_t i;

	if (want.len == 0)
		return &srv->exports[0];
	for (i = 0; i < srv->nexports; i++) {
		struct ws_srv_export *e = &srv->exports[i];

		if (strlen(e->path) == want.len && !memcmp(e->path, want.ptr, want.len))
			return e;
		if (e->canonical && strlen(e->canonical) == want.len &&
		    !memcmp(e->canonical, want.ptr, want.len))
			return e;
		if (e->name && strlen(e->name) == want.len && !memcmp(e->name, want.ptr, want.len))
			return e;
	}
	return NULL;
}

/* Handle the first frame. 0 when the session is ready; otherwise an error
 * reply has been queued and the connection must close. */
static int hello(struct ws_session *s, struct ws_req *r)
{
	struct ws_server *srv = s->srv;
	const struct fsb_hello_req *h = &r->in.u.hello_req;
	struct ws_srv_export *ex;
	struct ws_backend *be;
	struct ws_bnode *root;
	struct ws_bstat st;
	struct fsb_msg m;
	char detail[FSB_ERRMSG_MAX], name[FSB_ERRMSG_MAX / 2];
	uint64_t caps;
	int status, rc;

	if (r->in.op != FSB_OP_HELLO) {
		status = FSB_EPROTO;
		snprintf(detail, sizeof(detail), "%s before HELLO: a connection must begin with HELLO",
		         fsb_op_name(r->in.op));
		goto refuse;
	}
	if (h->version < 1) {
		status = FSB_EVERSION;
		snprintf(detail, sizeof(detail), "HELLO: the client speaks protocol version %u, "
		         "this server speaks %u", h->version, FSB_PROTO_VERSION);
		goto refuse;
	}
	if (!ws__token_equal(srv->token, srv->token_len, h->token.ptr, h->token.len)) {
		status = FSB_EAUTH;
		snprintf(detail, sizeof(detail), "HELLO: the token does not match the server's token file");
		goto refuse;
	}
	ex = find_export(srv, h->export_path);
	if (!ex) {
		status = FSB_ENOEXPORT;
		ws__printable(h->export_path, name, sizeof(name));
		snprintf(detail, sizeof(detail), "export not found: %s", name);
		goto refuse;
	}
	be = ex->be;
	rc = be->ops->root(be, &root, &st);
	if (rc) {
		status = -rc;
		snprintf(detail, sizeof(detail), "HELLO: cannot open export %s: %s", ex->path,
		         fsb_strerror(rc));
		goto refuse;
	}
	rc = ws_nodes_init(&s->nodes, be, s->serial, root, &st.ident);
	if (rc) {
		status = -rc;
		snprintf(detail, sizeof(detail), "HELLO: %s", fsb_strerror(rc));
		goto refuse;
	}
	rc = ws_handles_init(&s->handles, be, &s->nodes, srv->max_handles);
	if (rc) {
		ws_nodes_release(&s->nodes);
		status = -rc;
		snprintf(detail, sizeof(detail), "HELLO: %s", fsb_strerror(rc));
		goto refuse;
	}
	rc = ws_dirlists_init(&s->lists);
	if (rc) {
		ws_handles_release(&s->handles);
		ws_nodes_release(&s->nodes);
		status = -rc;
		snprintf(detail, sizeof(detail), "HELLO: %s", fsb_strerror(rc));
		goto refuse;
	}
	s->exp = ex;
	s->ready = 1;
	ws_nodes_set_tally(&s->nodes, &ex->tally);
	ws_nodes_ref_root(&s->nodes);
	caps = h->caps & be->ops->caps;
	/* The core answers EXPORTS and RESUME itself, whatever the backend,
	 * and lists by node on any backend (each resumes at any cookie). */
	caps |= h->caps & (FSB_CAP_EXPORTS | FSB_CAP_RESUME | FSB_CAP_DIRLIST);
	/* Events are agreed only once the watcher runs; their edge flags
	 * only with them. */
	if ((caps & FSB_CAP_EVENTS) && (!ex->events || ws_events_subscribe(ex->events, s)))
		caps &= ~(uint64_t)FSB_CAP_EVENTS;
	if (!(caps & FSB_CAP_EVENTS))
		caps &= ~(uint64_t)FSB_CAP_EVENT_EDGES;
	/* Checksums go only where the transport already guarantees what
	 * they check (PROTOCOL.md section 7). */
	caps |= h->caps & FSB_CAP_NO_CSUM;
	if (!s->st->integrity)
		caps &= ~(uint64_t)FSB_CAP_NO_CSUM;
	s->caps = caps;
	s->resuming = (caps & FSB_CAP_RESUME) != 0;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_HELLO;
	m.flags = FSB_F_REPLY;
	m.id = r->in.id;
	m.u.hello_rep.version = h->version < FSB_PROTO_VERSION ? h->version : FSB_PROTO_VERSION;
	m.u.hello_rep.caps = caps;
	if (srv->readonly)
		m.u.hello_rep.caps |= FSB_CAP_READONLY;
	m.u.hello_rep.max_frame = FSB_MAX_FRAME;
	m.u.hello_rep.max_io = FSB_MAX_IO;
	m.u.hello_rep.root.node = WS_ROOT_ID;
	m.u.hello_rep.root.gen = s->nodes.gen;
	m.u.hello_rep.root.attr = st.attr;
	rc = be->ops->statfs(be, s->nodes.root->bnode, &m.u.hello_rep.fs);
	if (rc)
		ws_log(WS_LOG_WARN, "connection %" PRIu64 ": statfs of export %s: %s", s->serial,
		       ex->path, fsb_strerror(rc));
	m.u.hello_rep.server.ptr = srv->server_name;
	m.u.hello_rep.server.len = (uint32_t)strlen(srv->server_name);
	/* With events the reply is queued by the hub, so that no push can
	 * be queued between it and the start of the stream of events. */
	fsb_wbuf_reset(&s->rwb);
	if ((caps & FSB_CAP_EVENTS) && fsb_msg_encode(&s->rwb, &m) == 0) {
		/* The reply is checksummed, everything after it as agreed. */
		s->csum = (caps & FSB_CAP_NO_CSUM) ? FSB_CSUM_NONE : FSB_CSUM_XXH3;
		ws_events_arm(ex->events, s, s->rwb.data, s->rwb.len);
	} else {
		ws__reply(s, &m, &s->rwb);
		s->csum = (caps & FSB_CAP_NO_CSUM) ? FSB_CSUM_NONE : FSB_CSUM_XXH3;
	}
	ws_log(WS_LOG_INFO, "connection %" PRIu64 " (%s): serving %s%s%s%s", s->serial, s->st->peer,
	       ex->path, srv->readonly ? " read-only" : "",
	       (caps & FSB_CAP_EVENTS) ? " with change events" : "",
	       (caps & FSB_CAP_NO_CSUM) ? ", frames unchecksummed" : "");
	return 0;

refuse:
	/* FORGET has no reply, not even an error: just close. */
	if (r->in.op != FSB_OP_FORGET)
		ws__reply_error(s, &s->rwb, r->in.op, r->in.id, status, detail);
	ws_log(WS_LOG_WARN, "connection %" PRIu64 " (%s): refused: %s", s->serial, s->st->peer,
	       detail);
	return -1;
}

/* ---- the reader and teardown ------------------------------------------- */

/* Count one more request in flight, once the session has room for it.
 * Returns how many are in flight with it. */
static unsigned take_slot(struct ws_session *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	while (s->inflight >= WS_MAX_INFLIGHT || (!s->wdead && s->out_len >= WS_OUT_HIGH))
		pthread_cond_wait(&s->room, &s->lock);
	n = ++s->inflight;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * Whether the reader runs a request itself instead of waking a worker:
 * when it is the only one in flight and nothing more has arrived behind
 * it (a client waiting for each answer before it asks again, as a shell
 * loop or `rm -r` does), and it is a change of names or attributes that
 * costs a few system calls. The hand-off to a worker costs a thread
 * switch, more than such a request itself on a small VM; a client that
 * sends more while it runs waits for it, which is why reads, writes,
 * listings and syncs, whose time depends on their size or the disk,
 * always go to the pool.
 */
static int run_inline(const struct ws_session *s, const struct ws_req *r, unsigned inflight)
{
	if (inflight != 1 || s->rpos != s->rlen)
		return 0;
	switch (r->in.op) {
	case FSB_OP_LOOKUP:
	case FSB_OP_GETATTR:
	case FSB_OP_SETATTR:
	case FSB_OP_CREATE:
	case FSB_OP_MKDIR:
	case FSB_OP_UNLINK:
	case FSB_OP_RMDIR:
	case FSB_OP_RENAME:
	case FSB_OP_SYMLINK:
	case FSB_OP_READLINK:
	case FSB_OP_LINK:
	case FSB_OP_RELEASE:
	case FSB_OP_PING:
		return 1;
	default:
		return 0;
	}
}

/* The live list is ws_server_add's (server.c); a session leaves it here,
 * from its own reader, once it has ended. */
static void server_session_ended(struct ws_server *srv, struct ws_session *s)
{
	pthread_mutex_lock(&srv->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = NULL;
	s->next = srv->dead;
	srv->dead = s;
	srv->nlive--;
	pthread_cond_broadcast(&srv->ended);
	pthread_mutex_unlock(&srv->lock);
}

static void session_end(struct ws_session *s, int writer_started)
{
	/* First, so that the watcher queues nothing more for a client
	 * that is gone; requests still running may yet register echo
	 * expectations, which simply expire. */
	if (s->ready && s->exp->events)
		ws_events_unsubscribe(s->exp->events, s);
	pthread_mutex_lock(&s->lock);
	while (s->inflight)
		pthread_cond_wait(&s->room, &s->lock);
	s->wstop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (writer_started)
		pthread_join(s->writer, NULL);
	if (s->ready) {
		/* Handles first: each holds a pin on its node. The listings
		 * by node only name handles of that table. */
		ws_dirlists_release(&s->lists);
		ws_handles_release(&s->handles);
		ws_nodes_release(&s->nodes);
		s->ready = 0;
	}
	/* After this the server no longer shuts the stream down, so it may
	 * be closed; the thread is joined before the session is freed. */
	server_session_ended(s->srv, s);
	s->st->ops->close(s->st);
	s->st = NULL;
}

void *ws__session_reader(void *arg)
{
	struct ws_session *s = arg;
	struct ws_req *r;
	char why[256] = "the client closed the connection";
	char detail[160];
	int writer_started = 0, rc, ferr;
	unsigned inflight;

	ws_os_thread_name("ws-reader");
	ws_log(WS_LOG_INFO, "connection %" PRIu64 " from %s", s->serial, s->st->peer);
	if (pthread_create(&s->writer, NULL, ws__session_writer, s)) {
		snprintf(why, sizeof(why), "cannot start a writer thread");
		goto out;
	}
	writer_started = 1;
	for (;;) {
		rc = read_req(s, &r, &ferr);
		if (rc == 1)
			break;
		if (rc == -FSB_EPROTO) {
			snprintf(why, sizeof(why), "corrupt frame: %s", fsb_strerror(ferr));
			ws_log(WS_LOG_WARN, "connection %" PRIu64 " (%s): %s; closing it", s->serial,
			       s->st->peer, why);
			break;
		}
		if (rc < 0) {
			snprintf(why, sizeof(why), "read: %s", fsb_strerror(rc));
			break;
		}
		rc = fsb_msg_decode_mode(r->frame, r->len, &r->in, s->csum);
		if (rc) {
			snprintf(why, sizeof(why), "corrupt frame: %s", fsb_strerror(rc));
			ws_log(WS_LOG_WARN, "connection %" PRIu64 " (%s): %s; closing it", s->serial,
			       s->st->peer, why);
			ws__req_free(r);
			break;
		}
		r->decoded = 1;
		r->s = s;
		r->t0 = ws_os_now_us();
		if (r->in.flags & (FSB_F_REPLY | FSB_F_PUSH)) {
			snprintf(why, sizeof(why), "protocol violation: the client sent a %s %s frame",
			         fsb_op_name(r->in.op), r->in.flags & FSB_F_REPLY ? "reply" : "push");
			ws_log(WS_LOG_WARN, "connection %" PRIu64 " (%s): %s; closing it", s->serial,
			       s->st->peer, why);
			ws__req_free(r);
			break;
		}
		if (!s->ready) {
			rc = hello(s, r);
			ws__req_free(r);
			if (rc) {
				snprintf(why, sizeof(why), "HELLO refused");
				break;
			}
			continue;
		}
		if (r->in.op != FSB_OP_RESUME && r->in.op != FSB_OP_PING)
			s->resuming = 0;
		if (r->in.op == FSB_OP_HELLO) {
			snprintf(detail, sizeof(detail), "HELLO: this connection is already set up");
			ws__reply_error(s, &s->rwb, r->in.op, r->in.id, FSB_EPROTO, detail);
			ws__req_free(r);
			continue;
		}
		if (r->in.op == FSB_OP_FORGET) {
			/* Inline: it is cheap, gets no reply, and would
			 * only occupy a worker. */
			ws__forget(s, &r->in);
			ws__req_free(r);
			continue;
		}
		inflight = take_slot(s);
		if (r->in.op == FSB_OP_RESUME) {
			/* Inline, so that nothing read after it runs before it
			 * is done, and nothing before it but PING (ops_resume.c). */
			ws__dispatch(r, &s->rwb);
			continue;
		}
		if (run_inline(s, r, inflight)) {
			ws__dispatch(r, &s->rwb);
			continue;
		}
		ws__pool_push(&s->srv->pool, r);
	}
out:
	pthread_mutex_lock(&s->srv->lock);
	if (s->srv->stopping)
		snprintf(why, sizeof(why), "the server is shutting down");
	pthread_mutex_unlock(&s->srv->lock);
	ws_log(WS_LOG_INFO, "connection %" PRIu64 " (%s) closed: %s", s->serial, s->st->peer, why);
	session_end(s, writer_started);
	return NULL;
}
