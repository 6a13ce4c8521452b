/*
 * ops_resume.c - RESUME: a new session adopts the node ids and handle
 * numbers its client still holds from a session of an earlier server
 * process, so that the client's queued requests are valid again as sent.
 *
 * Reply: resume_rep, one result per item, in order. Error for the whole
 * request (nothing changed), always FSB_EINVAL: FSB_CAP_RESUME not
 * agreed, the session past its resuming window, generation 0, or a
 * generation other than the one of the session's first RESUME.
 *
 * Serialisation. RESUME runs on the session's reader, not on a worker
 * (reader.c), and only while the session is resuming: since HELLO the
 * reader has passed on nothing but PING. So while ids are adopted no
 * other request of the session touches the tables, whatever a client
 * pipelines: a LOOKUP sent right behind a RESUME is read after it has
 * finished, and ends the window for any RESUME after that.
 *
 * Events and echoes know nothing of ids or generations (paths and
 * ws_ident only), so an adopted node is in every way a looked-up one.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "ws_log.h"
#include "ws_ops.h"

/* Re-opening never truncates or creates: the file is the one the client
 * had open, content and all. */
#define REOPEN_DROPS (FSB_O_CREAT | FSB_O_EXCL | FSB_O_TRUNC)

static int known(struct ws_req *r, uint64_t id)
{
	return id == WS_ROOT_ID || ws_nodes_lookups(&r->s->nodes, id) != 0;
}

static int resume_node(struct ws_req *r, const struct fsb_resume_node *it, struct fsb_attr *attr)
{
	struct ws_backend *be = ws__be(r);
	struct ws_bnode *bn;
	struct ws_bstat st;
	int rc;

	/* In the window the table holds the root and resumed nodes only. */
	if (!known(r, it->parent))
		return ws__fail(r, -FSB_ESTALE, "parent node %" PRIu64 " was not resumed", it->parent);
	if (it->id <= WS_ROOT_ID || it->id >= FSB_RESUME_ID_END)
		return ws__fail(r, -FSB_EINVAL, "node id %" PRIu64 " cannot be resumed", it->id);
	if (known(r, it->id))
		return ws__fail(r, -FSB_EINVAL, "node %" PRIu64 " is already resumed", it->id);
	if (!it->nlookup)
		return ws__fail(r, -FSB_EINVAL, "a resumed node holds at least one lookup");
	rc = ws__lookup_at(r, it->parent, it->name, &bn, &st);
	if (rc)
		return rc;
	if (st.attr.ino != it->ino || (st.attr.mode & FSB_S_IFMT) != it->type) {
		be->ops->forget(be, bn);
		return ws__fail(r, -FSB_ESTALE, "\"%s\" is now inode %" PRIu64 " of type 0%o, not "
		                "inode %" PRIu64 " of type 0%o", r->name, st.attr.ino,
		                st.attr.mode & FSB_S_IFMT, it->ino, it->type);
	}
	rc = ws_nodes_adopt(&r->s->nodes, it->id, bn, &st.ident, it->nlookup);
	if (rc == -FSB_EEXIST)
		return ws__fail(r, rc, "\"%s\" is already resumed under another id", r->name);
	if (rc)
		return rc;
	*attr = st.attr;
	return 0;
}

static int resume_handle(struct ws_req *r, const struct fsb_resume_handle *it)
{
	uint32_t flags = it->flags & ~(uint32_t)REOPEN_DROPS;
	struct ws_handle *hd;
	struct fsb_attr attr;
	struct ws_node *n;
	uint64_t fh;
	int rc;

	rc = ws__pin(r, it->node, &n);
	if (rc)
		return rc;
	hd = ws_handles_get(&r->s->handles, it->fh);
	if (hd)
		ws_handles_put(&r->s->handles, hd);
	if (hd || !it->fh || it->fh >= FSB_RESUME_ID_END)
		rc = ws__fail(r, -FSB_EINVAL, "handle %" PRIu64 " cannot be resumed", it->fh);
	else
		rc = ws__check_open(r, flags);
	if (rc) {
		ws__unpin(r, n);
		return rc;
	}
	return ws__open_pinned(r, n, flags, it->fh, &fh, &attr);
}

static int check_window(struct ws_req *r)
{
	struct ws_session *s = r->s;
	uint64_t gen = r->in.u.resume.gen;

	if (!(s->caps & FSB_CAP_RESUME))
		return ws__fail(r, -FSB_EINVAL, "RESUME was not agreed in HELLO");
	if (!s->resuming)
		return ws__fail(r, -FSB_EINVAL, "RESUME only follows HELLO, with nothing but PING "
		                "or RESUME between them");
	/* Sessions number from 1 and lend their number as generation. */
	if (!gen)
		return ws__fail(r, -FSB_EINVAL, "generation 0 is never handed out");
	if (s->resume_gen && gen != s->resume_gen)
		return ws__fail(r, -FSB_EINVAL, "this connection resumes generation %" PRIu64 ", not %"
		                PRIu64, s->resume_gen, gen);
	return 0;
}

static void log_item(struct ws_req *r, uint32_t i, int rc)
{
	const struct fsb_resume_item *it = &r->in.u.resume.items[i];

	if (!ws_log_enabled(WS_LOG_DEBUG))
		return;
	if (it->kind == FSB_RESUME_NODE)
		ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": RESUME node %" PRIu64 " in node %" PRIu64
		       " -> %s%s%s", r->s->serial, it->u.node.id, it->u.node.parent,
		       fsb_strerror(rc), r->cause[0] ? ": " : "", r->cause);
	else
		ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": RESUME fh %" PRIu64 " on node %" PRIu64
		       " -> %s%s%s", r->s->serial, it->u.handle.fh, it->u.handle.node,
		       fsb_strerror(rc), r->cause[0] ? ": " : "", r->cause);
}

int ws__op_resume(struct ws_req *r)
{
	const struct fsb_resume_req *q = &r->in.u.resume;
	struct ws_session *s = r->s;
	struct fsb_resume_result *res;
	uint32_t i;
	int rc;

	rc = check_window(r);
	if (rc)
		return rc;
	res = calloc(q->count ? q->count : 1, sizeof(*res));
	if (!res)
		return -FSB_ENOMEM;
	/* Freed with the request, after the reply is encoded. */
	r->scratch = res;
	if (!s->resume_gen) {
		/* Only HELLO's root entry went out with the session's own
		 * generation, and Linux gives its root inode generation 0
		 * whatever the server says. */
		s->resume_gen = q->gen;
		ws_nodes_set_gen(&s->nodes, q->gen);
	}
	for (i = 0; i < q->count; i++) {
		r->cause[0] = '\0';
		if (q->items[i].kind == FSB_RESUME_NODE)
			rc = resume_node(r, &q->items[i].u.node, &res[i].attr);
		else
			rc = resume_handle(r, &q->items[i].u.handle);
		if (-rc >= FSB_STATUS__WIRE_MAX)
			rc = -FSB_EIO;
		res[i].status = (uint32_t)-rc;
		if (rc)
			log_item(r, i, rc);
	}
	r->cause[0] = '\0';
	r->out.u.resume_rep.count = q->count;
	r->out.u.resume_rep.items = res;
	return 0;
}
