/*
 * ops_dir.c - directory requests: READDIRPLUS, MKDIR, MKNOD, SYMLINK,
 * LINK, UNLINK, RMDIR, RENAME.
 *
 * Replies: READDIRPLUS -> readdir_rep; MKDIR, MKNOD, SYMLINK, LINK ->
 * entry_rep (fh 0); UNLINK, RMDIR -> dir_rep; RENAME -> rename_rep. Any of
 * them -> error.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ws_log.h"
#include "ws_ops.h"
#include "ws_owner.h"

/* ---- READDIRPLUS --------------------------------------------------------- */

/* Room kept below FSB_MAX_FRAME for the header, eof and count. */
#define READDIR_MAX_BYTES (FSB_MAX_FRAME - FSB_HDR_SIZE - 64u)

struct rd_ctx {
	struct ws_req *r;
	struct ws_node *dir;
	struct fsb_dirent *ents;
	uint32_t *offs;          /* name offsets; names may move as they grow */
	uint32_t count;
	uint32_t cap;
	char *names;
	size_t nlen;
	size_t ncap;
	size_t used;
	size_t max;
};

static int rd_grow(struct rd_ctx *c, size_t namelen)
{
	if (c->count == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		struct fsb_dirent *e;
		uint32_t *o;

		e = realloc(c->ents, cap * sizeof(*e));
		if (!e)
			return -FSB_ENOMEM;
		c->ents = e;
		o = realloc(c->offs, cap * sizeof(*o));
		if (!o)
			return -FSB_ENOMEM;
		c->offs = o;
		c->cap = cap;
	}
	if (c->nlen + namelen > c->ncap) {
		size_t cap = c->ncap ? c->ncap * 2 : 4096;
		char *n;

		while (cap < c->nlen + namelen)
			cap *= 2;
		n = realloc(c->names, cap);
		if (!n)
			return -FSB_ENOMEM;
		c->names = n;
		c->ncap = cap;
	}
	return 0;
}

static int rd_entry(void *arg, const struct ws_dirent *de)
{
	struct rd_ctx *c = arg;
	struct ws_req *r = c->r;
	struct ws_backend *be = ws__be(r);
	size_t size = fsb_dirent_wire_size(de->namelen);
	struct fsb_dirent *d;
	struct ws_bnode *bn;
	struct ws_bstat st;
	uint64_t id;
	int rc;

	if (c->used + size > c->max)
		return WS_DIRENT_STOP;
	rc = rd_grow(c, de->namelen);
	if (rc)
		return rc;
	d = &c->ents[c->count];
	if (ws_nodes_ref_ident(&r->s->nodes, &de->st.ident, &id)) {
		d->entry.attr = de->st.attr;
	} else {
		/* A name the client has not seen as a node yet: get a grip on
		 * it the same way LOOKUP does. */
		rc = be->ops->lookup(be, c->dir->bnode, de->name, &bn, &st);
		if (rc == -FSB_ENOENT)
			return WS_DIRENT_NEXT;  /* gone since it was listed */
		if (rc)
			return rc;
		rc = ws_nodes_enter(&r->s->nodes, bn, &st.ident, &id, NULL);
		if (rc)
			return rc;
		d->entry.attr = st.attr;
	}
	d->entry.node = id;
	d->entry.gen = r->s->nodes.gen;
	d->cookie = de->cookie;
	d->name.len = (uint32_t)de->namelen;
	c->offs[c->count] = (uint32_t)c->nlen;
	memcpy(c->names + c->nlen, de->name, de->namelen);
	c->nlen += de->namelen;
	c->count++;
	c->used += size;
	return WS_DIRENT_NEXT;
}

/* A handle of the server's own for listing `node` from `cookie`
 * (FSB_CAP_DIRLIST, ws_dirlist.h): the one kept where its last batch
 * ended, or a new one. */
static int list_handle(struct ws_req *r, uint64_t node, uint64_t cookie, uint64_t *fh)
{
	struct fsb_attr attr;
	struct ws_node *n;
	int rc;

	if (!(r->s->caps & FSB_CAP_DIRLIST))
		return ws__fail(r, -FSB_EBADF, "READDIRPLUS without a handle needs FSB_CAP_DIRLIST");
	*fh = ws_dirlists_take(&r->s->lists, node, cookie);
	if (*fh)
		return 0;
	rc = ws__pin(r, node, &n);
	if (rc)
		return rc;
	rc = ws__open_pinned(r, n, FSB_O_RDONLY | FSB_O_DIRECTORY, 0, fh, &attr);
	if (rc == -FSB_ENOTDIR)
		return ws__fail(r, rc, "node %" PRIu64 " is not a directory", node);
	return rc;
}

/* After a batch through a handle of list_handle(): keep it where the
 * listing goes on, or give it back. */
static void list_done(struct ws_req *r, uint64_t node, uint64_t fh, const struct rd_ctx *c,
                      int rc, int eof)
{
	uint64_t out = fh;

	if (rc == 0 && !eof && c->count > 0)
		out = ws_dirlists_keep(&r->s->lists, node, fh, c->ents[c->count - 1].cookie);
	if (out)
		ws_handles_remove(&r->s->handles, out);
}

int ws__op_readdirplus(struct ws_req *r)
{
	const struct fsb_readdir_req *q = &r->in.u.readdir;
	struct ws_backend *be = ws__be(r);
	struct fsb_readdir_rep *rep = &r->out.u.readdir_rep;
	struct rd_ctx c;
	struct ws_handle *hd;
	uint64_t fh = q->fh;
	uint32_t i;
	int rc, eof = 0;

	if (q->max_bytes == 0)
		return ws__fail(r, -FSB_EINVAL, "max_bytes is 0");
	if (fh == 0) {
		rc = list_handle(r, q->node, q->cookie, &fh);
		if (rc)
			return rc;
	}
	rc = ws__get_fh(r, fh, &hd);
	if (rc)
		return rc;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.dir = hd->node;
	c.max = q->max_bytes < READDIR_MAX_BYTES ? q->max_bytes : READDIR_MAX_BYTES;
	rc = be->ops->readdir(be, hd->bf, q->cookie, rd_entry, &c, &eof);
	ws__put_fh(r, hd);
	if (q->fh == 0)
		list_done(r, q->node, fh, &c, rc, eof);
	for (i = 0; i < c.count; i++)
		c.ents[i].name.ptr = c.names + c.offs[i];
	free(c.offs);
	r->scratch = c.ents;
	r->scratch2 = c.names;
	if (rc < 0 && c.count == 0) {
		if (rc == -FSB_ENOTDIR)
			return ws__fail(r, rc, "file handle %" PRIu64 " is not an open directory", q->fh);
		return rc;
	}
	if (rc < 0)
		ws_log(WS_LOG_DEBUG, "connection %" PRIu64 ": READDIRPLUS stopped early: %s",
		       r->s->serial, fsb_strerror(rc));
	else if (!eof && c.count == 0)
		return ws__fail(r, -FSB_EINVAL, "max_bytes %u cannot hold the next entry", q->max_bytes);
	rep->eof = rc == 0 && eof;
	rep->count = c.count;
	rep->ents = c.ents;
	return 0;
}

/* ---- entries made in a directory --------------------------------------- */

/* Common tail of MKDIR, MKNOD, SYMLINK, LINK: enter the new node and read
 * the directory's post-op attributes. */
static int made(struct ws_req *r, struct ws_node *dir, struct ws_bnode *bn,
                const struct ws_bstat *st)
{
	struct ws_backend *be = ws__be(r);
	struct fsb_entry_rep *er = &r->out.u.entry_rep;
	int rc;

	rc = ws__enter(r, bn, st, &er->entry, NULL);
	if (rc)
		return rc;
	er->fh = 0;
	/* The entry exists and the client holds a reference to it now, so a
	 * failure here cannot fail the request; zero attributes are the
	 * only loss. */
	rc = be->ops->getattr(be, dir->bnode, NULL, &er->dir_attr);
	if (rc)
		ws_log(WS_LOG_WARN, "connection %" PRIu64 ": attributes of node %" PRIu64 ": %s",
		       r->s->serial, dir->id, fsb_strerror(rc));
	return 0;
}

static int parent_cause(struct ws_req *r, int rc, uint64_t parent)
{
	if (rc == -FSB_ENOTDIR)
		return ws__fail(r, rc, "node %" PRIu64 " is not a directory (links are never followed)",
		                parent);
	return rc;
}

int ws__op_mkdir(struct ws_req *r)
{
	const struct fsb_create_req *q = &r->in.u.create;
	struct ws_backend *be = ws__be(r);
	struct ws_node *dir;
	struct ws_bnode *bn;
	struct ws_bstat st;
	struct ws_echo echo;
	int rc;

	rc = ws__check_name(r, q->name, r->name);
	if (rc)
		return rc;
	rc = ws__pin(r, q->parent, &dir);
	if (rc)
		return rc;
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_CREATED, &dir->ident, r->name);
	rc = be->ops->mkdir(be, dir->bnode, r->name, q->mode & 07777, ws__caller(r), &bn, &st);
	ws_echo_end(&echo, rc);
	if (!rc)
		rc = made(r, dir, bn, &st);
	else
		rc = parent_cause(r, rc, q->parent);
	ws__unpin(r, dir);
	return rc;
}

int ws__op_mknod(struct ws_req *r)
{
	const struct fsb_create_req *q = &r->in.u.create;
	struct ws_backend *be = ws__be(r);
	struct ws_node *dir;
	struct ws_bnode *bn;
	struct ws_bstat st;
	uint32_t type = q->mode & FSB_S_IFMT;
	struct ws_echo echo;
	int rc;

	rc = ws__check_name(r, q->name, r->name);
	if (rc)
		return rc;
	if (type == FSB_S_IFDIR || type == FSB_S_IFLNK)
		return ws__fail(r, -FSB_EINVAL, "MKNOD cannot make %s; use %s",
		                type == FSB_S_IFDIR ? "directories" : "symbolic links",
		                type == FSB_S_IFDIR ? "MKDIR" : "SYMLINK");
	if (type == 0)
		type = FSB_S_IFREG;
	rc = ws__pin(r, q->parent, &dir);
	if (rc)
		return rc;
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_CREATED, &dir->ident, r->name);
	rc = be->ops->mknod(be, dir->bnode, r->name, type | (q->mode & 07777), q->rdev,
	                     ws__caller(r), &bn, &st);
	ws_echo_end(&echo, rc);
	if (!rc)
		rc = made(r, dir, bn, &st);
	else
		rc = parent_cause(r, rc, q->parent);
	ws__unpin(r, dir);
	return rc;
}

int ws__op_symlink(struct ws_req *r)
{
	const struct fsb_symlink_req *q = &r->in.u.symlink;
	struct ws_backend *be = ws__be(r);
	struct ws_node *dir;
	struct ws_bnode *bn;
	struct ws_bstat st;
	char *target;
	struct ws_echo echo;
	int rc;

	rc = ws__check_name(r, q->name, r->name);
	if (rc)
		return rc;
	if (q->target.len == 0)
		return ws__fail(r, -FSB_ENOENT, "empty link target");
	if (memchr(q->target.ptr, '\0', q->target.len))
		return ws__fail(r, -FSB_EINVAL, "link target contains a NUL byte");
	target = malloc((size_t)q->target.len + 1);
	if (!target)
		return -FSB_ENOMEM;
	memcpy(target, q->target.ptr, q->target.len);
	target[q->target.len] = '\0';
	r->scratch = target;
	rc = ws__pin(r, q->parent, &dir);
	if (rc)
		return rc;
	/* The target is data: it is stored, never resolved by the server. */
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_CREATED, &dir->ident, r->name);
	rc = be->ops->symlink(be, dir->bnode, r->name, target, ws__caller(r), &bn, &st);
	ws_echo_end(&echo, rc);
	if (!rc)
		rc = made(r, dir, bn, &st);
	else
		rc = parent_cause(r, rc, q->parent);
	ws__unpin(r, dir);
	return rc;
}

int ws__op_link(struct ws_req *r)
{
	const struct fsb_link_req *q = &r->in.u.link;
	struct ws_backend *be = ws__be(r);
	struct ws_node *n, *dir;
	struct ws_bnode *bn;
	struct ws_bstat st;
	struct ws_echo echo;
	int rc;

	rc = ws__check_name(r, q->newname, r->name);
	if (rc)
		return rc;
	rc = ws__pin(r, q->node, &n);
	if (rc)
		return rc;
	rc = ws__pin(r, q->newparent, &dir);
	if (rc)
		goto out_n;
	/* The link count is an attribute of the file: a backend may report
	 * it changed. */
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_CREATED, &dir->ident, r->name);
	ws_echo_object(&echo, &n->ident);
	rc = be->ops->link(be, n->bnode, dir->bnode, r->name, &bn, &st);
	ws_echo_end(&echo, rc);
	if (!rc)
		rc = made(r, dir, bn, &st);
	else
		rc = parent_cause(r, rc, q->newparent);
	ws__unpin(r, dir);
out_n:
	ws__unpin(r, n);
	return rc;
}

/* ---- removal and renaming ---------------------------------------------- */

/* Unlinking one name of a file with several changes the others' link
 * count, which a backend may report as a change of that file: expect it
 * when events are on. Costs one lookup per UNLINK then. */
static void expect_link_count(struct ws_req *r, struct ws_echo *e, struct ws_node *dir)
{
	struct ws_backend *be = ws__be(r);
	struct ws_bnode *bn;
	struct ws_bstat st;

	if (!ws_echo_active(e) || be->ops->lookup(be, dir->bnode, r->name, &bn, &st))
		return;
	if ((st.attr.mode & FSB_S_IFMT) != FSB_S_IFDIR && st.attr.nlink > 1)
		ws_echo_object(e, &st.ident);
	be->ops->forget(be, bn);
}

static int remove_name(struct ws_req *r, int is_dir)
{
	const struct fsb_name_req *q = &r->in.u.name;
	struct ws_backend *be = ws__be(r);
	struct ws_echo echo;
	struct ws_node *dir;
	int rc;

	rc = ws__check_name(r, q->name, r->name);
	if (rc)
		return rc;
	rc = ws__pin(r, q->parent, &dir);
	if (rc)
		return rc;
	rc = ws__may_remove(r, dir, r->name);
	if (rc)
		goto out_unpin;
	ws_echo_begin(&echo, r->s);
	if (!is_dir)
		expect_link_count(r, &echo, dir);
	ws_echo_name(&echo, FSB_EV_REMOVED, &dir->ident, r->name);
	rc = is_dir ? be->ops->rmdir(be, dir->bnode, r->name)
	            : be->ops->unlink(be, dir->bnode, r->name);
	ws_echo_end(&echo, rc);
	if (!rc) {
		if (be->ops->getattr(be, dir->bnode, NULL, &r->out.u.dir_rep.dir_attr))
			memset(&r->out.u.dir_rep.dir_attr, 0, sizeof(r->out.u.dir_rep.dir_attr));
	} else {
		rc = parent_cause(r, rc, q->parent);
	}
out_unpin:
	ws__unpin(r, dir);
	return rc;
}

int ws__op_unlink(struct ws_req *r)
{
	return remove_name(r, 0);
}

int ws__op_rmdir(struct ws_req *r)
{
	return remove_name(r, 1);
}

int ws__op_rename(struct ws_req *r)
{
	const struct fsb_rename_req *q = &r->in.u.rename;
	struct ws_backend *be = ws__be(r);
	struct fsb_rename_rep *rep = &r->out.u.rename_rep;
	const uint32_t known = FSB_RENAME_NOREPLACE | FSB_RENAME_EXCHANGE;
	struct ws_echo echo;
	struct ws_node *od, *nd;
	int rc;

	rc = ws__check_name(r, q->oldname, r->name);
	if (rc)
		return rc;
	rc = ws__check_name(r, q->newname, r->name2);
	if (rc)
		return rc;
	if (q->flags & ~known)
		return ws__fail(r, -FSB_EINVAL, "unknown RENAME flags 0x%x", q->flags & ~known);
	if ((q->flags & known) == known)
		return ws__fail(r, -FSB_EINVAL, "NOREPLACE and EXCHANGE exclude each other");
	rc = ws__pin(r, q->olddir, &od);
	if (rc)
		return rc;
	rc = ws__pin(r, q->newdir, &nd);
	if (rc)
		goto out_od;
	/* Both names are removed from their directories (the target when it
	 * exists, and with EXCHANGE the other way round too). */
	rc = ws__may_remove(r, od, r->name);
	if (!rc)
		rc = ws__may_remove(r, nd, r->name2);
	if (rc)
		goto out_nd;
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_RENAMED_FROM, &od->ident, r->name);
	ws_echo_name(&echo, FSB_EV_RENAMED_TO, &nd->ident, r->name2);
	if (q->flags & FSB_RENAME_EXCHANGE) {
		/* Two renames as far as watchers are concerned. */
		ws_echo_name(&echo, FSB_EV_RENAMED_FROM, &nd->ident, r->name2);
		ws_echo_name(&echo, FSB_EV_RENAMED_TO, &od->ident, r->name);
	}
	rc = be->ops->rename(be, od->bnode, r->name, nd->bnode, r->name2, q->flags);
	ws_echo_end(&echo, rc);
	if (!rc) {
		if (be->ops->getattr(be, od->bnode, NULL, &rep->olddir_attr))
			memset(&rep->olddir_attr, 0, sizeof(rep->olddir_attr));
		if (be->ops->getattr(be, nd->bnode, NULL, &rep->newdir_attr))
			memset(&rep->newdir_attr, 0, sizeof(rep->newdir_attr));
	} else if (rc == -FSB_ENOTDIR) {
		rc = ws__fail(r, rc, "a directory node is not a directory, or a directory would "
		              "replace a non-directory (links are never followed)");
	}
out_nd:
	ws__unpin(r, nd);
out_od:
	ws__unpin(r, od);
	return rc;
}
