/*
 * ops_node.c - requests about one node: LOOKUP, GETATTR, SETATTR,
 * READLINK, STATFS, and PING.
 *
 * Replies: LOOKUP -> entry; GETATTR, SETATTR -> attr; READLINK ->
 * readlink_rep; STATFS -> statfs; PING -> ping. Any of them -> error.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "ws_ops.h"
#include "ws_owner.h"

int ws__lookup_at(struct ws_req *r, uint64_t parent, struct fsb_str name, struct ws_bnode **bn,
                  struct ws_bstat *st)
{
	struct ws_backend *be = ws__be(r);
	struct ws_node *dir;
	int rc;

	rc = ws__check_name(r, name, r->name);
	if (rc)
		return rc;
	rc = ws__pin(r, parent, &dir);
	if (rc)
		return rc;
	rc = be->ops->lookup(be, dir->bnode, r->name, bn, st);
	ws__unpin(r, dir);
	if (rc == -FSB_ENOTDIR)
		return ws__fail(r, rc, "node %" PRIu64 " is not a directory (links are never followed)",
		                parent);
	return rc;
}

int ws__op_lookup(struct ws_req *r)
{
	const struct fsb_name_req *q = &r->in.u.name;
	struct ws_bnode *bn;
	struct ws_bstat st;
	int rc;

	rc = ws__lookup_at(r, q->parent, q->name, &bn, &st);
	if (rc)
		return rc;
	return ws__enter(r, bn, &st, &r->out.u.entry, NULL);
}

int ws__op_getattr(struct ws_req *r)
{
	const struct fsb_node_req *q = &r->in.u.node;
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	struct ws_node *n;
	int rc;

	if (q->fh) {
		rc = ws__get_fh(r, q->fh, &hd);
		if (rc)
			return rc;
		rc = be->ops->getattr(be, hd->node->bnode, hd->bf, &r->out.u.attr);
		ws__put_fh(r, hd);
		return rc;
	}
	rc = ws__pin(r, q->node, &n);
	if (rc)
		return rc;
	rc = be->ops->getattr(be, n->bnode, NULL, &r->out.u.attr);
	ws__unpin(r, n);
	return rc;
}

#define SETATTR_KNOWN (FSB_SET_MODE | FSB_SET_UID | FSB_SET_GID | FSB_SET_SIZE | \
	FSB_SET_ATIME | FSB_SET_MTIME | FSB_SET_ATIME_NOW | FSB_SET_MTIME_NOW | FSB_SET_FH)

/* A chown is checked against the owner the file has now. */
static int check_owner(struct ws_req *r, struct ws_bnode *bn, struct ws_bfile *f,
                       const struct fsb_setattr_req *q)
{
	struct ws_backend *be = ws__be(r);
	struct fsb_attr cur;
	int rc;

	if (!ws__caller(r) || !(q->valid & (FSB_SET_UID | FSB_SET_GID)))
		return 0;
	rc = be->ops->getattr(be, bn, f, &cur);
	return rc ? rc : ws__may_chown(r, &cur, q);
}

int ws__op_setattr(struct ws_req *r)
{
	const struct fsb_setattr_req *q = &r->in.u.setattr;
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd = NULL;
	struct ws_echo echo;
	struct ws_node *n;
	int rc;

	if (q->valid & ~(uint32_t)SETATTR_KNOWN)
		return ws__fail(r, -FSB_EINVAL, "unknown SETATTR bits 0x%x",
		                q->valid & ~(uint32_t)SETATTR_KNOWN);
	if (q->valid & FSB_SET_FH) {
		rc = ws__get_fh(r, q->fh, &hd);
		if (rc)
			return rc;
		rc = check_owner(r, hd->node->bnode, hd->bf, q);
		if (!rc) {
			ws_echo_begin(&echo, r->s);
			ws_echo_object(&echo, &hd->node->ident);
			rc = be->ops->setattr(be, hd->node->bnode, hd->bf, q, &r->out.u.attr);
			ws_echo_end(&echo, rc);
		}
		ws__put_fh(r, hd);
		return rc;
	}
	rc = ws__pin(r, q->node, &n);
	if (rc)
		return rc;
	rc = check_owner(r, n->bnode, NULL, q);
	if (!rc) {
		ws_echo_begin(&echo, r->s);
		ws_echo_object(&echo, &n->ident);
		rc = be->ops->setattr(be, n->bnode, NULL, q, &r->out.u.attr);
		ws_echo_end(&echo, rc);
	}
	ws__unpin(r, n);
	if (rc == -FSB_ENOTSUP && (q->valid & FSB_SET_MODE))
		return ws__fail(r, rc, "the mode of a symbolic link cannot be changed");
	return rc;
}

int ws__op_readlink(struct ws_req *r)
{
	struct ws_backend *be = ws__be(r);
	struct ws_node *n;
	size_t len = 0;
	char *buf;
	int rc;

	rc = ws__pin(r, r->in.u.node.node, &n);
	if (rc)
		return rc;
	buf = malloc(FSB_PATH_MAX + 1);
	if (!buf) {
		ws__unpin(r, n);
		return -FSB_ENOMEM;
	}
	r->scratch = buf;
	rc = be->ops->readlink(be, n->bnode, buf, FSB_PATH_MAX + 1, &len);
	ws__unpin(r, n);
	if (rc == -FSB_EINVAL)
		return ws__fail(r, rc, "not a symbolic link");
	if (rc)
		return rc;
	if (len > FSB_PATH_MAX)
		return ws__fail(r, -FSB_ENAMETOOLONG, "the link target is longer than %u bytes",
		                FSB_PATH_MAX);
	r->out.u.readlink_rep.target.ptr = buf;
	r->out.u.readlink_rep.target.len = (uint32_t)len;
	return 0;
}

int ws__op_statfs(struct ws_req *r)
{
	struct ws_backend *be = ws__be(r);
	struct ws_node *n;
	int rc;

	rc = ws__pin(r, r->in.u.node.node, &n);
	if (rc)
		return rc;
	rc = be->ops->statfs(be, n->bnode, &r->out.u.statfs);
	ws__unpin(r, n);
	return rc;
}

int ws__op_ping(struct ws_req *r)
{
	r->out.u.ping.nonce = r->in.u.ping.nonce;
	return 0;
}
