/*
 * dispatch.c - from a decoded request to exactly one reply: the op table,
 * read-only enforcement, error details and the per-request log line.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_check.h"
#include "ws_dispatch.h"
#include "ws_log.h"
#include "ws_ops.h"
#include "ws_platform.h"

enum ws_op_flag {
	WS_OPF_MUTATES = 1u << 0,   /* refused with FSB_EROFS on a read-only export */
};

struct ws_op_desc {
	int (*fn)(struct ws_req *r);
	unsigned flags;
};

/* HELLO and FORGET never get here: the reader handles them in order.
 * RESUME comes from the reader too, which runs it inline. OPEN and RESUME
 * check access modes themselves, since only writable opens mutate. */
static const struct ws_op_desc op_table[FSB_OP__COUNT] = {
	[FSB_OP_LOOKUP] = { ws__op_lookup, 0 },
	[FSB_OP_GETATTR] = { ws__op_getattr, 0 },
	[FSB_OP_SETATTR] = { ws__op_setattr, WS_OPF_MUTATES },
	[FSB_OP_READDIRPLUS] = { ws__op_readdirplus, 0 },
	[FSB_OP_OPEN] = { ws__op_open, 0 },
	[FSB_OP_CREATE] = { ws__op_create, WS_OPF_MUTATES },
	[FSB_OP_READ] = { ws__op_read, 0 },
	[FSB_OP_WRITE] = { ws__op_write, WS_OPF_MUTATES },
	[FSB_OP_FLUSH] = { ws__op_flush, 0 },
	[FSB_OP_FSYNC] = { ws__op_fsync, 0 },
	[FSB_OP_RELEASE] = { ws__op_release, 0 },
	[FSB_OP_MKDIR] = { ws__op_mkdir, WS_OPF_MUTATES },
	[FSB_OP_MKNOD] = { ws__op_mknod, WS_OPF_MUTATES },
	[FSB_OP_UNLINK] = { ws__op_unlink, WS_OPF_MUTATES },
	[FSB_OP_RMDIR] = { ws__op_rmdir, WS_OPF_MUTATES },
	[FSB_OP_RENAME] = { ws__op_rename, WS_OPF_MUTATES },
	[FSB_OP_SYMLINK] = { ws__op_symlink, WS_OPF_MUTATES },
	[FSB_OP_READLINK] = { ws__op_readlink, 0 },
	[FSB_OP_LINK] = { ws__op_link, WS_OPF_MUTATES },
	[FSB_OP_STATFS] = { ws__op_statfs, 0 },
	[FSB_OP_PING] = { ws__op_ping, 0 },
	[FSB_OP_FALLOCATE] = { ws__op_fallocate, WS_OPF_MUTATES },
	[FSB_OP_EXPORTS] = { ws__op_exports, 0 },
	[FSB_OP_RESUME] = { ws__op_resume, 0 },
};

/* ---- helpers for handlers ---------------------------------------------- */

int ws__fail(struct ws_req *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->cause, sizeof(r->cause), fmt, ap);
	va_end(ap);
	return rc;
}

int ws__pin(struct ws_req *r, uint64_t id, struct ws_node **out)
{
	*out = ws_nodes_pin(&r->s->nodes, id);
	if (!*out)
		return ws__fail(r, -FSB_ESTALE, "node %" PRIu64 " is unknown on this connection "
		                "(never looked up, or forgotten)", id);
	return 0;
}

void ws__unpin(struct ws_req *r, struct ws_node *n)
{
	ws_nodes_unpin(&r->s->nodes, n);
}

int ws__get_fh(struct ws_req *r, uint64_t fh, struct ws_handle **out)
{
	*out = ws_handles_get(&r->s->handles, fh);
	if (!*out)
		return ws__fail(r, -FSB_EBADF, "file handle %" PRIu64 " is not open on this connection",
		                fh);
	return 0;
}

void ws__put_fh(struct ws_req *r, struct ws_handle *hd)
{
	ws_handles_put(&r->s->handles, hd);
}

int ws__check_name(struct ws_req *r, struct fsb_str name, char *out)
{
	return ws__name_check(name, out, r->cause, sizeof(r->cause));
}

int ws__enter(struct ws_req *r, struct ws_bnode *bn, const struct ws_bstat *st,
              struct fsb_entry *e, struct ws_node **pin)
{
	uint64_t id;
	int rc;

	rc = ws_nodes_enter(&r->s->nodes, bn, &st->ident, &id, pin);
	if (rc)
		return rc;
	e->node = id;
	e->gen = r->s->nodes.gen;
	e->attr = st->attr;
	r->result = id;
	return 0;
}

/* ---- replies ------------------------------------------------------------ */

void ws__reply(struct ws_session *s, const struct fsb_msg *m, struct fsb_wbuf *wb)
{
	char detail[128];
	int rc;

	fsb_wbuf_reset(wb);
	rc = fsb_msg_encode_mode(wb, m, s->csum);
	if (rc && m->status == 0) {
		ws_log(WS_LOG_ERROR, "connection %" PRIu64 ": cannot encode the %s reply: %s",
		       s->serial, fsb_op_name(m->op), fsb_strerror(rc));
		snprintf(detail, sizeof(detail), "%s: the server could not encode its reply: %s",
		         fsb_op_name(m->op), fsb_strerror(rc));
		ws__reply_error(s, wb, m->op, m->id, FSB_EIO, detail);
		return;
	}
	if (rc) {
		/* Not even an error reply fits: the client would wait forever,
		 * so end the connection instead. */
		ws_log(WS_LOG_ERROR, "connection %" PRIu64 ": cannot encode an error reply: %s",
		       s->serial, fsb_strerror(rc));
		s->st->ops->shutdown(s->st);
		return;
	}
	ws__session_queue_wbuf(s, wb);
}

void ws__reply_error(struct ws_session *s, struct fsb_wbuf *wb, uint16_t op, uint64_t id,
                     int status, const char *detail)
{
	struct fsb_msg m;
	size_t n = strlen(detail);

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.flags = FSB_F_REPLY;
	m.id = id;
	m.status = (uint32_t)(status < 0 ? -status : status);
	if (n >= FSB_ERRMSG_MAX)
		n = FSB_ERRMSG_MAX - 1;
	m.u.error.detail.ptr = detail;
	m.u.error.detail.len = (uint32_t)n;
	ws__reply(s, &m, wb);
}

/* "LOOKUP \"x\" in node 5": what the request was about, for details and
 * log lines. */
static void describe(const struct fsb_msg *m, char *buf, size_t len)
{
	const char *op = fsb_op_name(m->op);
	char a[300], b[300];

	switch (m->op) {
	case FSB_OP_LOOKUP:
	case FSB_OP_UNLINK:
	case FSB_OP_RMDIR:
		ws__printable(m->u.name.name, a, sizeof(a));
		snprintf(buf, len, "%s \"%s\" in node %" PRIu64, op, a, m->u.name.parent);
		break;
	case FSB_OP_CREATE:
	case FSB_OP_MKDIR:
	case FSB_OP_MKNOD:
		ws__printable(m->u.create.name, a, sizeof(a));
		snprintf(buf, len, "%s \"%s\" in node %" PRIu64, op, a, m->u.create.parent);
		break;
	case FSB_OP_SYMLINK:
		ws__printable(m->u.symlink.name, a, sizeof(a));
		snprintf(buf, len, "%s \"%s\" in node %" PRIu64, op, a, m->u.symlink.parent);
		break;
	case FSB_OP_LINK:
		ws__printable(m->u.link.newname, a, sizeof(a));
		snprintf(buf, len, "%s node %" PRIu64 " as \"%s\" in node %" PRIu64, op,
		         m->u.link.node, a, m->u.link.newparent);
		break;
	case FSB_OP_RENAME:
		ws__printable(m->u.rename.oldname, a, sizeof(a));
		ws__printable(m->u.rename.newname, b, sizeof(b));
		snprintf(buf, len, "%s \"%s\" in node %" PRIu64 " to \"%s\" in node %" PRIu64, op,
		         a, m->u.rename.olddir, b, m->u.rename.newdir);
		break;
	case FSB_OP_GETATTR:
		if (m->u.node.fh)
			snprintf(buf, len, "%s node %" PRIu64 " fh %" PRIu64, op, m->u.node.node, m->u.node.fh);
		else
			snprintf(buf, len, "%s node %" PRIu64, op, m->u.node.node);
		break;
	case FSB_OP_READLINK:
	case FSB_OP_STATFS:
		snprintf(buf, len, "%s node %" PRIu64, op, m->u.node.node);
		break;
	case FSB_OP_SETATTR:
		snprintf(buf, len, "%s node %" PRIu64 " (valid 0x%x)", op, m->u.setattr.node,
		         m->u.setattr.valid);
		break;
	case FSB_OP_OPEN:
		snprintf(buf, len, "%s node %" PRIu64 " (flags 0x%x)", op, m->u.open.node, m->u.open.flags);
		break;
	case FSB_OP_READDIRPLUS:
		snprintf(buf, len, "%s node %" PRIu64 " fh %" PRIu64 " cookie %" PRIu64, op,
		         m->u.readdir.node, m->u.readdir.fh, m->u.readdir.cookie);
		break;
	case FSB_OP_READ:
	case FSB_OP_WRITE:
		snprintf(buf, len, "%s fh %" PRIu64 " at %" PRIu64 " (%u bytes)", op, m->u.io.fh,
		         m->u.io.offset, m->op == FSB_OP_READ ? m->u.io.size : m->u.io.data.len);
		break;
	case FSB_OP_FLUSH:
	case FSB_OP_FSYNC:
	case FSB_OP_RELEASE:
		snprintf(buf, len, "%s fh %" PRIu64, op, m->u.fh.fh);
		break;
	case FSB_OP_RESUME:
		snprintf(buf, len, "%s of %u item%s, generation %" PRIu64, op, m->u.resume.count,
		         m->u.resume.count == 1 ? "" : "s", m->u.resume.gen);
		break;
	default:
		snprintf(buf, len, "%s", op);
		break;
	}
}

void ws__dispatch(struct ws_req *r, struct fsb_wbuf *wb)
{
	struct ws_session *s = r->s;
	const struct ws_op_desc *d = r->in.op < FSB_OP__COUNT ? &op_table[r->in.op] : NULL;
	char what[700] = "", detail[FSB_ERRMSG_MAX];
	int rc;

	memset(&r->out, 0, sizeof(r->out));
	r->out.op = r->in.op;
	r->out.flags = FSB_F_REPLY;
	r->out.id = r->in.id;
	r->wb = wb;
	fsb_wbuf_reset(wb);
	if (!d || !d->fn)
		rc = ws__fail(r, -FSB_ENOSYS, "not a request this server serves");
	else if ((d->flags & WS_OPF_MUTATES) && s->srv->readonly)
		rc = ws__fail(r, -FSB_EROFS, "the export is served read-only");
	else
		rc = d->fn(r);

	if (rc || ws_log_enabled(WS_LOG_DEBUG))
		describe(&r->in, what, sizeof(what));
	if (rc) {
		snprintf(detail, sizeof(detail), "%s: %s", what,
		         r->cause[0] ? r->cause : fsb_strerror(rc));
		ws__reply_error(s, wb, r->in.op, r->in.id, rc, detail);
	} else if (r->sealed) {
		ws__session_queue_wbuf(s, wb);
	} else {
		ws__reply(s, &r->out, wb);
	}
	if (ws_log_enabled(WS_LOG_DEBUG)) {
		uint64_t us = ws_os_now_us() - r->t0;

		if (rc)
			ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": %s -> %s%s%s (%" PRIu64 " us)",
			       s->serial, what, fsb_strerror(rc), r->cause[0] ? ": " : "", r->cause, us);
		else if (r->result)
			ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": %s -> OK (%s %" PRIu64 ") (%" PRIu64 " us)",
			       s->serial, what, r->in.op == FSB_OP_OPEN ? "fh" : "node", r->result, us);
		else
			ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": %s -> OK (%" PRIu64 " us)",
			       s->serial, what, us);
	}
	ws__req_free(r);
	/* Last: once the count drops the session may be torn down. */
	ws__session_req_done(s);
}

void ws__forget(struct ws_session *s, const struct fsb_msg *m)
{
	uint32_t i;
	int rc;

	for (i = 0; i < m->u.forget.count; i++) {
		rc = ws_nodes_forget(&s->nodes, m->u.forget.items[i].node, m->u.forget.items[i].nlookup);
		if (rc == -FSB_ESTALE)
			ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": FORGET of unknown node %" PRIu64,
			       s->serial, m->u.forget.items[i].node);
		else if (rc == -FSB_ERANGE)
			ws_log(WS_LOG_WARN, "connection %" PRIu64 ": FORGET of %" PRIu64 " lookups of node %"
			       PRIu64 " exceeds the lookups it holds", s->serial,
			       m->u.forget.items[i].nlookup, m->u.forget.items[i].node);
	}
	if (ws_log_enabled(WS_LOG_DEBUG))
		ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": FORGET of %u node%s", s->serial,
		       m->u.forget.count, m->u.forget.count == 1 ? "" : "s");
}
