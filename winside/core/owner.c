/*
 * owner.c - see ws_owner.h. Calls the backend's getattr and lookup only.
 */
#include <string.h>

#include "ws_ops.h"
#include "ws_owner.h"

#define S_ISVTX_BIT 01000u

const struct fsb_cred *ws__caller(const struct ws_req *r)
{
	return (r->in.flags & FSB_F_CRED) ? &r->in.cred : NULL;
}

/*
 * chown(2) on Linux: root may do anything; the owner may "change" the uid
 * to itself and the gid to any group it belongs to (which the client's
 * kernel has checked); nobody else may touch either, not even to set them
 * to what they already are.
 */
int ws__may_chown(struct ws_req *r, const struct fsb_attr *cur,
                  const struct fsb_setattr_req *q)
{
	const struct fsb_cred *c = ws__caller(r);

	if (!c || c->uid == 0 || !(q->valid & (FSB_SET_UID | FSB_SET_GID)))
		return 0;
	if (c->uid != cur->uid)
		return ws__fail(r, -FSB_EPERM, "uid %u may not change the owner of a file of uid %u",
		                c->uid, cur->uid);
	if ((q->valid & FSB_SET_UID) && q->uid != cur->uid)
		return ws__fail(r, -FSB_EPERM, "only root may give a file to another user (%u -> %u)",
		                cur->uid, q->uid);
	return 0;
}

int ws__may_remove(struct ws_req *r, struct ws_node *dir, const char *name)
{
	const struct fsb_cred *c = ws__caller(r);
	struct ws_backend *be = ws__be(r);
	struct fsb_attr da;
	struct ws_bnode *bn;
	struct ws_bstat st;

	if (!c || c->uid == 0)
		return 0;
	if (be->ops->getattr(be, dir->bnode, NULL, &da) || !(da.mode & S_ISVTX_BIT) ||
	    da.uid == c->uid)
		return 0;
	if (be->ops->lookup(be, dir->bnode, name, &bn, &st))
		return 0;
	be->ops->forget(be, bn);
	if (st.attr.uid == c->uid)
		return 0;
	return ws__fail(r, -FSB_EPERM,
	                "sticky directory: uid %u owns neither it nor %s (owner %u)", c->uid,
	                name, st.attr.uid);
}
