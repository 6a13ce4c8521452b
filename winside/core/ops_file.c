/*
 * ops_file.c - open handles: OPEN, CREATE, READ, WRITE, FLUSH, FSYNC,
 * RELEASE.
 *
 * Replies: OPEN -> open_rep; CREATE -> entry_rep with fh; READ ->
 * read_rep; WRITE -> write_rep; FLUSH, FSYNC, RELEASE -> empty. Any of
 * them -> error.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "ws_ops.h"
#include "ws_owner.h"

#define OPEN_KNOWN (FSB_O_ACCMODE | FSB_O_APPEND | FSB_O_TRUNC | FSB_O_EXCL | FSB_O_CREAT | \
	FSB_O_DIRECTORY | FSB_O_SYNC | FSB_O_NOATIME)

static int check_flags(struct ws_req *r, uint32_t flags)
{
	if (flags & ~(uint32_t)OPEN_KNOWN)
		return ws__fail(r, -FSB_EINVAL, "unknown open flags 0x%x", flags & ~(uint32_t)OPEN_KNOWN);
	if ((flags & FSB_O_ACCMODE) == FSB_O_ACCMODE)
		return ws__fail(r, -FSB_EINVAL, "access mode 3 is neither read, write nor both");
	return 0;
}

static int reserve(struct ws_req *r)
{
	int rc = ws_handles_reserve(&r->s->handles);

	if (rc)
		return ws__fail(r, rc, "this connection already has %u handles open (winside --max-handles)",
		                r->s->handles.max);
	return 0;
}

/* Writes through a handle may be reported when they happen, or (Windows
 * updates the last-write time lazily) when the handle is flushed, synced
 * or closed: each of those expects content changes of the file. */
static void expect_written(struct ws_req *r, struct ws_echo *e, const struct ws_handle *hd)
{
	ws_echo_begin(e, r->s);
	if ((hd->flags & FSB_O_ACCMODE) != FSB_O_RDONLY || (hd->flags & FSB_O_TRUNC))
		ws_echo_object(e, &hd->node->ident);
}

int ws__check_open(struct ws_req *r, uint32_t flags)
{
	int rc = check_flags(r, flags);

	if (rc)
		return rc;
	if (r->s->srv->readonly &&
	    ((flags & FSB_O_ACCMODE) != FSB_O_RDONLY || (flags & (FSB_O_TRUNC | FSB_O_CREAT))))
		return ws__fail(r, -FSB_EROFS, "the export is served read-only");
	return 0;
}

int ws__open_pinned(struct ws_req *r, struct ws_node *n, uint32_t flags, uint64_t want,
                    uint64_t *fh, struct fsb_attr *attr)
{
	struct ws_backend *be = ws__be(r);
	struct ws_bfile *bf;
	struct ws_echo echo;
	int rc;

	rc = reserve(r);
	if (rc)
		goto out_unpin;
	ws_echo_begin(&echo, r->s);
	if (flags & FSB_O_TRUNC)
		ws_echo_object(&echo, &n->ident);
	rc = be->ops->open(be, n->bnode, flags, &bf, attr);
	ws_echo_end(&echo, rc);
	if (rc) {
		ws_handles_unreserve(&r->s->handles);
		if (rc == -FSB_ELOOP)
			rc = ws__fail(r, rc, "a symbolic link is never opened or followed");
		goto out_unpin;
	}
	/* The node pin passes to the handle. */
	if (!want)
		return ws_handles_add(&r->s->handles, n, bf, flags, fh);
	rc = ws_handles_adopt(&r->s->handles, n, bf, flags, want);
	if (!rc)
		*fh = want;
	return rc;

out_unpin:
	ws__unpin(r, n);
	return rc;
}

int ws__op_open(struct ws_req *r)
{
	const struct fsb_open_req *q = &r->in.u.open;
	struct fsb_open_rep *rep = &r->out.u.open_rep;
	struct ws_node *n;
	int rc;

	rc = ws__check_open(r, q->flags);
	if (rc)
		return rc;
	rc = ws__pin(r, q->node, &n);
	if (rc)
		return rc;
	/* OPEN names an existing node; creating is CREATE's job. */
	rc = ws__open_pinned(r, n, q->flags & ~(uint32_t)(FSB_O_CREAT | FSB_O_EXCL), 0, &rep->fh,
	                     &rep->attr);
	if (!rc)
		r->result = rep->fh;
	return rc;
}

int ws__op_create(struct ws_req *r)
{
	const struct fsb_create_req *q = &r->in.u.create;
	struct ws_backend *be = ws__be(r);
	struct fsb_entry_rep *er = &r->out.u.entry_rep;
	struct ws_node *dir, *n;
	struct ws_bnode *bn;
	struct ws_bfile *bf;
	struct ws_bstat st;
	struct ws_echo echo;
	int rc;

	rc = ws__check_name(r, q->name, r->name);
	if (rc)
		return rc;
	rc = check_flags(r, q->flags);
	if (rc)
		return rc;
	if (q->flags & FSB_O_DIRECTORY)
		return ws__fail(r, -FSB_EINVAL, "CREATE makes regular files; use MKDIR");
	rc = ws__pin(r, q->parent, &dir);
	if (rc)
		return rc;
	rc = reserve(r);
	if (rc)
		goto out_unpin;
	/* A new file is CREATED; an existing one opened with O_TRUNC is
	 * MODIFIED. Without O_EXCL which one happens is known only after
	 * the call, so a CREATED expectation may go unused and expire. */
	ws_echo_begin(&echo, r->s);
	ws_echo_name(&echo, FSB_EV_CREATED, &dir->ident, r->name);
	if (q->flags & FSB_O_TRUNC)
		ws_echo_content_at(&echo, &dir->ident, r->name);
	rc = be->ops->create(be, dir->bnode, r->name, q->flags | FSB_O_CREAT, q->mode & 07777,
	                     ws__caller(r), &bn, &st, &bf);
	if (!rc)
		ws_echo_learn(&echo, &dir->ident, r->name, &st.ident);
	ws_echo_end(&echo, rc);
	if (rc) {
		ws_handles_unreserve(&r->s->handles);
		if (rc == -FSB_ENOTDIR)
			rc = ws__fail(r, rc, "node %" PRIu64 " is not a directory (links are never followed)",
			              q->parent);
		else if (rc == -FSB_ELOOP)
			rc = ws__fail(r, rc, "the name is a symbolic link, which is never followed");
		goto out_unpin;
	}
	rc = ws__enter(r, bn, &st, &er->entry, &n);
	if (rc) {
		be->ops->release(be, bf);
		ws_handles_unreserve(&r->s->handles);
		goto out_unpin;
	}
	rc = ws_handles_add(&r->s->handles, n, bf, q->flags & ~(uint32_t)(FSB_O_CREAT | FSB_O_EXCL),
	                    &er->fh);
	if (rc) {
		/* The client never hears of the entry: take back its lookup. */
		ws_nodes_forget(&r->s->nodes, er->entry.node, 1);
		goto out_unpin;
	}
	be->ops->getattr(be, dir->bnode, NULL, &er->dir_attr);
out_unpin:
	ws__unpin(r, dir);
	return rc;
}

/* The reply is built in the worker's buffer and the file read straight
 * into its data field, which the writer then sends as it is. */
int ws__op_read(struct ws_req *r)
{
	const struct fsb_io_req *q = &r->in.u.io;
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	uint32_t got = 0;
	uint8_t *data;
	size_t start;
	int rc;

	if (q->size > FSB_MAX_IO)
		return ws__fail(r, -FSB_EINVAL, "READ of %u bytes exceeds max_io %u", q->size, FSB_MAX_IO);
	rc = ws__get_fh(r, q->fh, &hd);
	if (rc)
		return rc;
	start = r->wb->len;
	rc = fsb_read_rep_begin(r->wb, r->in.id, q->size, &data);
	if (rc) {
		ws__put_fh(r, hd);
		return rc == -FSB_ENOMEM ? rc : ws__fail(r, -FSB_EIO, "cannot frame the reply: %s",
		                                         fsb_strerror(rc));
	}
	if (q->size)
		rc = be->ops->read(be, hd->bf, q->offset, data, q->size, &got);
	ws__put_fh(r, hd);
	if (!rc && got > q->size)
		rc = ws__fail(r, -FSB_EIO, "the backend read %u bytes of %u", got, q->size);
	if (!rc && fsb_read_rep_finish(r->wb, start, got, r->s->csum))
		rc = ws__fail(r, -FSB_EIO, "cannot seal the reply");
	if (rc) {
		fsb_wbuf_reset(r->wb);
		return rc;
	}
	r->sealed = 1;
	return 0;
}

/* ws__get_fh for a request that changes the file: a handle opened
 * read-only is refused with EBADF, as write(2) refuses it. */
static int get_writable_fh(struct ws_req *r, uint64_t fh, struct ws_handle **out)
{
	int rc = ws__get_fh(r, fh, out);

	if (rc)
		return rc;
	if (((*out)->flags & FSB_O_ACCMODE) == FSB_O_RDONLY) {
		ws__put_fh(r, *out);
		return ws__fail(r, -FSB_EBADF, "file handle %" PRIu64 " was opened read-only", fh);
	}
	return 0;
}

int ws__op_write(struct ws_req *r)
{
	const struct fsb_io_req *q = &r->in.u.io;
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	struct ws_echo echo;
	int rc;

	rc = get_writable_fh(r, q->fh, &hd);
	if (rc)
		return rc;
	expect_written(r, &echo, hd);
	rc = be->ops->write(be, hd->bf, q->offset, q->data.ptr, q->data.len,
	                    &r->out.u.write_rep.written, &r->out.u.write_rep.attr);
	ws_echo_end(&echo, rc);
	ws__put_fh(r, hd);
	return rc;
}

int ws__op_flush(struct ws_req *r)
{
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	struct ws_echo echo;
	int rc;

	rc = ws__get_fh(r, r->in.u.fh.fh, &hd);
	if (rc)
		return rc;
	expect_written(r, &echo, hd);
	rc = be->ops->flush(be, hd->bf);
	ws_echo_end(&echo, rc);
	ws__put_fh(r, hd);
	return rc;
}

int ws__op_fsync(struct ws_req *r)
{
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	struct ws_echo echo;
	int rc;

	if (r->in.u.fh.flags & ~(uint32_t)FSB_FSYNC_DATASYNC)
		return ws__fail(r, -FSB_EINVAL, "unknown FSYNC flags 0x%x", r->in.u.fh.flags);
	rc = ws__get_fh(r, r->in.u.fh.fh, &hd);
	if (rc)
		return rc;
	expect_written(r, &echo, hd);
	rc = be->ops->fsync(be, hd->bf, !!(r->in.u.fh.flags & FSB_FSYNC_DATASYNC));
	ws_echo_end(&echo, rc);
	ws__put_fh(r, hd);
	return rc;
}

int ws__op_fallocate(struct ws_req *r)
{
	const struct fsb_fallocate_req *q = &r->in.u.fallocate;
	struct ws_backend *be = ws__be(r);
	struct ws_handle *hd;
	struct ws_echo echo;
	int rc;

	if (!be->ops->fallocate)
		return ws__fail(r, -FSB_ENOTSUP, "the %s backend cannot allocate", be->ops->name);
	if ((q->mode & FSB_FALLOC_PUNCH_HOLE) && !(q->mode & FSB_FALLOC_KEEP_SIZE))
		return ws__fail(r, -FSB_EINVAL, "PUNCH_HOLE needs KEEP_SIZE");
	if (q->offset > INT64_MAX || q->length > INT64_MAX - q->offset)
		return ws__fail(r, -FSB_EFBIG, "range %" PRIu64 "+%" PRIu64 " is too large",
		                q->offset, q->length);
	rc = get_writable_fh(r, q->fh, &hd);
	if (rc)
		return rc;
	expect_written(r, &echo, hd);
	rc = be->ops->fallocate(be, hd->bf, q->mode, q->offset, q->length, &r->out.u.attr);
	ws_echo_end(&echo, rc);
	ws__put_fh(r, hd);
	return rc;
}

int ws__op_release(struct ws_req *r)
{
	struct ws_handle *hd = ws_handles_get(&r->s->handles, r->in.u.fh.fh);
	struct ws_echo echo;
	int rc;

	ws_echo_begin(&echo, r->s);
	if (hd) {
		expect_written(r, &echo, hd);
		ws_handles_put(&r->s->handles, hd);
	}
	/* The file closes here, or when the last request using it ends. */
	rc = ws_handles_remove(&r->s->handles, r->in.u.fh.fh);
	ws_echo_end(&echo, rc);
	if (rc)
		return ws__fail(r, rc, "file handle %" PRIu64 " is not open on this connection",
		                r->in.u.fh.fh);
	return 0;
}
