/*
 * bodies.c - message bodies, see PROTOCOL.md: one encoder and one
 * decoder for each shape, and the table (fsb__op_table, codec_int.h)
 * that gives every opcode its codecs, its log name and whether its
 * requests carry the caller. The sizes of array elements on the wire
 * are here too; RESUME's bodies are in resume.c. Calls the cursor only;
 * codec.c calls the table.
 *
 * Encoders check the same limits as decoders, so a message we would reject
 * is never sent: a peer closes the connection on any bad frame, and a bug
 * of ours should fail at the sender, with a code, not at the far end.
 */
#include <stdlib.h>

#include "codec_int.h"
#include "cursor.h"

#define NSEC_PER_SEC 1000000000u
/* Free text (server banner); error details have their own published cap. */
#define BANNER_MAX FSB_ERRMSG_MAX

/* Fixed wire sizes, for the minimum-size checks on arrays. */
#define ENTRY_WIRE_SIZE (16u + FSB_ATTR_WIRE_SIZE)
#define DIRENT_FIXED_SIZE (8u + 4u + ENTRY_WIRE_SIZE)
#define EVENT_FIXED_SIZE (1u + 1u + 4u + 8u + 4u)
#define FORGET_ITEM_SIZE 16u

_Static_assert(FSB_ATTR_WIRE_SIZE == 3 * 8 + 6 * 4 + 3 * (8 + 4),
               "attr wire layout");

/* ---- shared pieces ------------------------------------------------------ */

static void put_time(struct fsb__wcur *w, const struct fsb_time *t)
{
	if (t->nsec >= NSEC_PER_SEC)
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
	fsb__put_i64(w, t->sec);
	fsb__put_u32(w, t->nsec);
}

static void get_time(struct fsb__cursor *c, struct fsb_time *t)
{
	t->sec = fsb__get_i64(c);
	t->nsec = fsb__get_u32(c);
	if (t->nsec >= NSEC_PER_SEC)
		fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
}

void fsb__put_attr(struct fsb__wcur *w, const struct fsb_attr *a)
{
	fsb__put_u64(w, a->ino);
	fsb__put_u64(w, a->size);
	fsb__put_u64(w, a->blocks);
	fsb__put_u32(w, a->mode);
	fsb__put_u32(w, a->nlink);
	fsb__put_u32(w, a->uid);
	fsb__put_u32(w, a->gid);
	fsb__put_u32(w, a->rdev);
	fsb__put_u32(w, a->blksize);
	put_time(w, &a->atime);
	put_time(w, &a->mtime);
	put_time(w, &a->ctime);
}

void fsb__get_attr(struct fsb__cursor *c, struct fsb_attr *a)
{
	a->ino = fsb__get_u64(c);
	a->size = fsb__get_u64(c);
	a->blocks = fsb__get_u64(c);
	a->mode = fsb__get_u32(c);
	a->nlink = fsb__get_u32(c);
	a->uid = fsb__get_u32(c);
	a->gid = fsb__get_u32(c);
	a->rdev = fsb__get_u32(c);
	a->blksize = fsb__get_u32(c);
	get_time(c, &a->atime);
	get_time(c, &a->mtime);
	get_time(c, &a->ctime);
}

static void put_entry_body(struct fsb__wcur *w, const struct fsb_entry *e)
{
	fsb__put_u64(w, e->node);
	fsb__put_u64(w, e->gen);
	fsb__put_attr(w, &e->attr);
}

static void get_entry_body(struct fsb__cursor *c, struct fsb_entry *e)
{
	e->node = fsb__get_u64(c);
	e->gen = fsb__get_u64(c);
	fsb__get_attr(c, &e->attr);
}

static void put_statfs_body(struct fsb__wcur *w, const struct fsb_statfs *s)
{
	fsb__put_u64(w, s->blocks);
	fsb__put_u64(w, s->bfree);
	fsb__put_u64(w, s->bavail);
	fsb__put_u64(w, s->files);
	fsb__put_u64(w, s->ffree);
	fsb__put_u32(w, s->bsize);
	fsb__put_u32(w, s->frsize);
	fsb__put_u32(w, s->namemax);
}

static void get_statfs_body(struct fsb__cursor *c, struct fsb_statfs *s)
{
	s->blocks = fsb__get_u64(c);
	s->bfree = fsb__get_u64(c);
	s->bavail = fsb__get_u64(c);
	s->files = fsb__get_u64(c);
	s->ffree = fsb__get_u64(c);
	s->bsize = fsb__get_u32(c);
	s->frsize = fsb__get_u32(c);
	s->namemax = fsb__get_u32(c);
}

/* ---- empty bodies (FLUSH, FSYNC, RELEASE replies) ------------------------ */

static void enc_empty(struct fsb__wcur *w, const struct fsb_msg *m)
{
	(void)w;
	(void)m;
}

static void dec_empty(struct fsb__cursor *c, struct fsb_msg *m)
{
	(void)c;
	(void)m;
}

/* ---- HELLO -------------------------------------------------------------- */

static void enc_hello_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_hello_req *r = &m->u.hello_req;

	fsb__put_u32(w, r->version);
	fsb__put_u64(w, r->caps);
	fsb__put_str(w, r->token, FSB_TOKEN_MAX);
	fsb__put_str(w, r->export_path, FSB_PATH_MAX);
}

static void dec_hello_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_hello_req *r = &m->u.hello_req;

	r->version = fsb__get_u32(c);
	r->caps = fsb__get_u64(c);
	fsb__get_str(c, &r->token, FSB_TOKEN_MAX);
	fsb__get_str(c, &r->export_path, FSB_PATH_MAX);
}

static void enc_hello_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_hello_rep *r = &m->u.hello_rep;

	fsb__put_u32(w, r->version);
	fsb__put_u64(w, r->caps);
	fsb__put_u32(w, r->max_frame);
	fsb__put_u32(w, r->max_io);
	put_entry_body(w, &r->root);
	put_statfs_body(w, &r->fs);
	fsb__put_str(w, r->server, BANNER_MAX);
}

static void dec_hello_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_hello_rep *r = &m->u.hello_rep;

	r->version = fsb__get_u32(c);
	r->caps = fsb__get_u64(c);
	r->max_frame = fsb__get_u32(c);
	r->max_io = fsb__get_u32(c);
	get_entry_body(c, &r->root);
	get_statfs_body(c, &r->fs);
	fsb__get_str(c, &r->server, BANNER_MAX);
}

/* ---- simple requests ---------------------------------------------------- */

static void enc_name_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.name.parent);
	fsb__put_str(w, m->u.name.name, FSB_NAME_MAX);
}

static void dec_name_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.name.parent = fsb__get_u64(c);
	fsb__get_str(c, &m->u.name.name, FSB_NAME_MAX);
}

static void enc_node_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.node.node);
	fsb__put_u64(w, m->u.node.fh);
}

static void dec_node_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.node.node = fsb__get_u64(c);
	m->u.node.fh = fsb__get_u64(c);
}

static void enc_forget_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_forget_req *r = &m->u.forget;
	uint32_t i;

	if (r->count && !r->items) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		fsb__put_u64(w, r->items[i].node);
		fsb__put_u64(w, r->items[i].nlookup);
	}
}

static void dec_forget_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_forget_req *r = &m->u.forget;
	uint32_t i, n;

	n = fsb__get_count(c, FORGET_ITEM_SIZE);
	r->items = fsb__alloc_array(c, n, sizeof(*r->items));
	if (!r->items)
		return;
	r->count = n;
	for (i = 0; i < n; i++) {
		r->items[i].node = fsb__get_u64(c);
		r->items[i].nlookup = fsb__get_u64(c);
	}
}

static void enc_setattr_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_setattr_req *r = &m->u.setattr;

	fsb__put_u64(w, r->node);
	fsb__put_u64(w, r->fh);
	fsb__put_u32(w, r->valid);
	fsb__put_u32(w, r->mode);
	fsb__put_u32(w, r->uid);
	fsb__put_u32(w, r->gid);
	fsb__put_u64(w, r->size);
	put_time(w, &r->atime);
	put_time(w, &r->mtime);
}

static void dec_setattr_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_setattr_req *r = &m->u.setattr;

	r->node = fsb__get_u64(c);
	r->fh = fsb__get_u64(c);
	r->valid = fsb__get_u32(c);
	r->mode = fsb__get_u32(c);
	r->uid = fsb__get_u32(c);
	r->gid = fsb__get_u32(c);
	r->size = fsb__get_u64(c);
	get_time(c, &r->atime);
	get_time(c, &r->mtime);
}

static void enc_readdir_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_readdir_req *r = &m->u.readdir;

	fsb__put_u64(w, r->node);
	fsb__put_u64(w, r->fh);
	fsb__put_u64(w, r->cookie);
	fsb__put_u32(w, r->max_bytes);
}

static void dec_readdir_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_readdir_req *r = &m->u.readdir;

	r->node = fsb__get_u64(c);
	r->fh = fsb__get_u64(c);
	r->cookie = fsb__get_u64(c);
	r->max_bytes = fsb__get_u32(c);
}

static void enc_open_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.open.node);
	fsb__put_u32(w, m->u.open.flags);
}

static void dec_open_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.open.node = fsb__get_u64(c);
	m->u.open.flags = fsb__get_u32(c);
}

static void enc_create_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_create_req *r = &m->u.create;

	fsb__put_u64(w, r->parent);
	fsb__put_str(w, r->name, FSB_NAME_MAX);
	fsb__put_u32(w, r->flags);
	fsb__put_u32(w, r->mode);
	fsb__put_u32(w, r->rdev);
}

static void dec_create_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_create_req *r = &m->u.create;

	r->parent = fsb__get_u64(c);
	fsb__get_str(c, &r->name, FSB_NAME_MAX);
	r->flags = fsb__get_u32(c);
	r->mode = fsb__get_u32(c);
	r->rdev = fsb__get_u32(c);
}

static void enc_read_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_io_req *r = &m->u.io;

	if (r->size > FSB_MAX_IO)
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
	fsb__put_u64(w, r->fh);
	fsb__put_u64(w, r->offset);
	fsb__put_u32(w, r->size);
}

static void dec_read_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_io_req *r = &m->u.io;

	r->fh = fsb__get_u64(c);
	r->offset = fsb__get_u64(c);
	r->size = fsb__get_u32(c);
	if (r->size > FSB_MAX_IO)
		fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
}

/* WRITE carries no separate size: the data's length prefix is the size.
 * A caller may leave `size` 0 or set it to data.len; anything else is a
 * contradiction we refuse to guess about. */
static void enc_write_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_io_req *r = &m->u.io;

	if (r->size && r->size != r->data.len)
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
	fsb__put_u64(w, r->fh);
	fsb__put_u64(w, r->offset);
	fsb__put_bytes(w, r->data, FSB_MAX_IO);
}

static void dec_write_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_io_req *r = &m->u.io;

	r->fh = fsb__get_u64(c);
	r->offset = fsb__get_u64(c);
	fsb__get_bytes(c, &r->data, FSB_MAX_IO);
	r->size = r->data.len;
}

static void enc_fallocate_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_fallocate_req *r = &m->u.fallocate;

	if (r->length == 0 || (r->mode & ~FSB_FALLOC_ALL))
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
	fsb__put_u64(w, r->fh);
	fsb__put_u64(w, r->offset);
	fsb__put_u64(w, r->length);
	fsb__put_u32(w, r->mode);
}

static void dec_fallocate_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_fallocate_req *r = &m->u.fallocate;

	r->fh = fsb__get_u64(c);
	r->offset = fsb__get_u64(c);
	r->length = fsb__get_u64(c);
	r->mode = fsb__get_u32(c);
	if (r->length == 0 || (r->mode & ~FSB_FALLOC_ALL))
		fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
}

static void enc_fh_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.fh.fh);
	fsb__put_u32(w, m->u.fh.flags);
}

static void dec_fh_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.fh.fh = fsb__get_u64(c);
	m->u.fh.flags = fsb__get_u32(c);
}

static void enc_rename_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_rename_req *r = &m->u.rename;

	fsb__put_u64(w, r->olddir);
	fsb__put_str(w, r->oldname, FSB_NAME_MAX);
	fsb__put_u64(w, r->newdir);
	fsb__put_str(w, r->newname, FSB_NAME_MAX);
	fsb__put_u32(w, r->flags);
}

static void dec_rename_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_rename_req *r = &m->u.rename;

	r->olddir = fsb__get_u64(c);
	fsb__get_str(c, &r->oldname, FSB_NAME_MAX);
	r->newdir = fsb__get_u64(c);
	fsb__get_str(c, &r->newname, FSB_NAME_MAX);
	r->flags = fsb__get_u32(c);
}

static void enc_symlink_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_symlink_req *r = &m->u.symlink;

	fsb__put_u64(w, r->parent);
	fsb__put_str(w, r->name, FSB_NAME_MAX);
	fsb__put_str(w, r->target, FSB_PATH_MAX);
}

static void dec_symlink_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_symlink_req *r = &m->u.symlink;

	r->parent = fsb__get_u64(c);
	fsb__get_str(c, &r->name, FSB_NAME_MAX);
	fsb__get_str(c, &r->target, FSB_PATH_MAX);
}

static void enc_link_req(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_link_req *r = &m->u.link;

	fsb__put_u64(w, r->node);
	fsb__put_u64(w, r->newparent);
	fsb__put_str(w, r->newname, FSB_NAME_MAX);
}

static void dec_link_req(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_link_req *r = &m->u.link;

	r->node = fsb__get_u64(c);
	r->newparent = fsb__get_u64(c);
	fsb__get_str(c, &r->newname, FSB_NAME_MAX);
}

static void enc_ping(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.ping.nonce);
}

static void dec_ping(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.ping.nonce = fsb__get_u64(c);
}

/* ---- replies ------------------------------------------------------------ */

static void enc_entry(struct fsb__wcur *w, const struct fsb_msg *m)
{
	put_entry_body(w, &m->u.entry);
}

static void dec_entry(struct fsb__cursor *c, struct fsb_msg *m)
{
	get_entry_body(c, &m->u.entry);
}

static void enc_attr(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_attr(w, &m->u.attr);
}

static void dec_attr(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_attr(c, &m->u.attr);
}

static void enc_readdir_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_readdir_rep *r = &m->u.readdir_rep;
	uint32_t i;

	if (r->count && !r->ents) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u8(w, r->eof);
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		fsb__put_u64(w, r->ents[i].cookie);
		fsb__put_str(w, r->ents[i].name, FSB_NAME_MAX);
		put_entry_body(w, &r->ents[i].entry);
	}
}

static void dec_readdir_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_readdir_rep *r = &m->u.readdir_rep;
	uint32_t i, n;

	r->eof = fsb__get_u8(c);
	n = fsb__get_count(c, DIRENT_FIXED_SIZE);
	r->ents = fsb__alloc_array(c, n, sizeof(*r->ents));
	if (!r->ents)
		return;
	r->count = n;
	for (i = 0; i < n && !c->err; i++) {
		r->ents[i].cookie = fsb__get_u64(c);
		fsb__get_str(c, &r->ents[i].name, FSB_NAME_MAX);
		get_entry_body(c, &r->ents[i].entry);
	}
}

/* EXPORTS: u32 count, then per export str name, str path. */
#define EXPORT_FIXED_SIZE 8u

static void enc_exports_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_exports_rep *r = &m->u.exports_rep;
	uint32_t i;

	if (r->count > FSB_EXPORTS_MAX || (r->count && !r->items)) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		fsb__put_str(w, r->items[i].name, FSB_NAME_MAX);
		fsb__put_str(w, r->items[i].path, FSB_PATH_MAX);
	}
}

static void dec_exports_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_exports_rep *r = &m->u.exports_rep;
	uint32_t i, n;

	r->items = fsb__get_array(c, EXPORT_FIXED_SIZE, FSB_EXPORTS_MAX, sizeof(*r->items),
	                          &r->count);
	n = r->count;
	for (i = 0; i < n && !c->err; i++) {
		fsb__get_str(c, &r->items[i].name, FSB_NAME_MAX);
		fsb__get_str(c, &r->items[i].path, FSB_PATH_MAX);
	}
}

static void enc_open_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u64(w, m->u.open_rep.fh);
	fsb__put_attr(w, &m->u.open_rep.attr);
}

static void dec_open_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.open_rep.fh = fsb__get_u64(c);
	fsb__get_attr(c, &m->u.open_rep.attr);
}

static void enc_entry_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	put_entry_body(w, &m->u.entry_rep.entry);
	fsb__put_attr(w, &m->u.entry_rep.dir_attr);
	fsb__put_u64(w, m->u.entry_rep.fh);
}

static void dec_entry_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	get_entry_body(c, &m->u.entry_rep.entry);
	fsb__get_attr(c, &m->u.entry_rep.dir_attr);
	m->u.entry_rep.fh = fsb__get_u64(c);
}

static void enc_dir_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_attr(w, &m->u.dir_rep.dir_attr);
}

static void dec_dir_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_attr(c, &m->u.dir_rep.dir_attr);
}

static void enc_read_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_bytes(w, m->u.read_rep.data, FSB_MAX_IO);
}

static void dec_read_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_bytes(c, &m->u.read_rep.data, FSB_MAX_IO);
}

static void enc_write_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_u32(w, m->u.write_rep.written);
	fsb__put_attr(w, &m->u.write_rep.attr);
}

static void dec_write_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	m->u.write_rep.written = fsb__get_u32(c);
	fsb__get_attr(c, &m->u.write_rep.attr);
}

static void enc_rename_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_attr(w, &m->u.rename_rep.olddir_attr);
	fsb__put_attr(w, &m->u.rename_rep.newdir_attr);
}

static void dec_rename_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_attr(c, &m->u.rename_rep.olddir_attr);
	fsb__get_attr(c, &m->u.rename_rep.newdir_attr);
}

static void enc_readlink_rep(struct fsb__wcur *w, const struct fsb_msg *m)
{
	fsb__put_str(w, m->u.readlink_rep.target, FSB_PATH_MAX);
}

static void dec_readlink_rep(struct fsb__cursor *c, struct fsb_msg *m)
{
	fsb__get_str(c, &m->u.readlink_rep.target, FSB_PATH_MAX);
}

static void enc_statfs(struct fsb__wcur *w, const struct fsb_msg *m)
{
	put_statfs_body(w, &m->u.statfs);
}

static void dec_statfs(struct fsb__cursor *c, struct fsb_msg *m)
{
	get_statfs_body(c, &m->u.statfs);
}

/* ---- EVENT push ----------------------------------------------------------- */

static int event_kind_ok(uint8_t kind)
{
	return kind >= FSB_EV_CREATED && kind < FSB_EV__COUNT;
}

/* Known flags only, and the edge flags only on the kinds they describe. */
static int event_flags_ok(uint8_t kind, uint8_t flags)
{
	if (flags & ~FSB_EVF_ALL)
		return 0;
	if ((flags & FSB_EVF_OUTSIDE) && kind != FSB_EV_CREATED && kind != FSB_EV_REMOVED)
		return 0;
	if ((flags & FSB_EVF_CLOSE_WRITE) && kind != FSB_EV_ATTRIB)
		return 0;
	return 1;
}

static void enc_events(struct fsb__wcur *w, const struct fsb_msg *m)
{
	const struct fsb_event_push *r = &m->u.events;
	const struct fsb_event *ev;
	uint32_t i;

	if (r->count && !r->events) {
		fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		return;
	}
	fsb__put_u32(w, r->count);
	for (i = 0; i < r->count && !w->err; i++) {
		ev = &r->events[i];
		if (!event_kind_ok(ev->kind) || !event_flags_ok(ev->kind, ev->flags))
			fsb__wcur_fail(w, -FSB_EFRAME_VALUE);
		fsb__put_u8(w, ev->kind);
		fsb__put_u8(w, ev->flags);
		fsb__put_u32(w, ev->cookie);
		fsb__put_u64(w, ev->seq);
		fsb__put_str(w, ev->path, FSB_PATH_MAX);
		if (ev->flags & FSB_EVF_ATTR)
			fsb__put_attr(w, &ev->attr);
	}
}

static void dec_events(struct fsb__cursor *c, struct fsb_msg *m)
{
	struct fsb_event_push *r = &m->u.events;
	struct fsb_event *ev;
	uint32_t i, n;

	n = fsb__get_count(c, EVENT_FIXED_SIZE);
	r->events = fsb__alloc_array(c, n, sizeof(*r->events));
	if (!r->events)
		return;
	r->count = n;
	for (i = 0; i < n && !c->err; i++) {
		ev = &r->events[i];
		ev->kind = fsb__get_u8(c);
		if (!c->err && !event_kind_ok(ev->kind))
			fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
		ev->flags = fsb__get_u8(c);
		if (!c->err && !event_flags_ok(ev->kind, ev->flags))
			fsb__cursor_fail(c, -FSB_EFRAME_VALUE);
		ev->cookie = fsb__get_u32(c);
		ev->seq = fsb__get_u64(c);
		fsb__get_str(c, &ev->path, FSB_PATH_MAX);
		if (ev->flags & FSB_EVF_ATTR)
			fsb__get_attr(c, &ev->attr);
	}
}

/* ---- dispatch ------------------------------------------------------------- */

const struct fsb__op_codec fsb__op_table[FSB_OP__COUNT] = {
	[FSB_OP_HELLO] = { enc_hello_req, dec_hello_req, enc_hello_rep, dec_hello_rep, "HELLO" },
	[FSB_OP_LOOKUP] = { enc_name_req, dec_name_req, enc_entry, dec_entry, "LOOKUP" },
	[FSB_OP_FORGET] = { enc_forget_req, dec_forget_req, NULL, NULL, "FORGET" },
	[FSB_OP_GETATTR] = { enc_node_req, dec_node_req, enc_attr, dec_attr, "GETATTR" },
	[FSB_OP_SETATTR] = { enc_setattr_req, dec_setattr_req, enc_attr, dec_attr, "SETATTR", 1 },
	[FSB_OP_READDIRPLUS] = { enc_readdir_req, dec_readdir_req, enc_readdir_rep, dec_readdir_rep, "READDIRPLUS" },
	[FSB_OP_OPEN] = { enc_open_req, dec_open_req, enc_open_rep, dec_open_rep, "OPEN" },
	[FSB_OP_CREATE] = { enc_create_req, dec_create_req, enc_entry_rep, dec_entry_rep, "CREATE", 1 },
	[FSB_OP_READ] = { enc_read_req, dec_read_req, enc_read_rep, dec_read_rep, "READ" },
	[FSB_OP_WRITE] = { enc_write_req, dec_write_req, enc_write_rep, dec_write_rep, "WRITE" },
	[FSB_OP_FLUSH] = { enc_fh_req, dec_fh_req, enc_empty, dec_empty, "FLUSH" },
	[FSB_OP_FSYNC] = { enc_fh_req, dec_fh_req, enc_empty, dec_empty, "FSYNC" },
	[FSB_OP_RELEASE] = { enc_fh_req, dec_fh_req, enc_empty, dec_empty, "RELEASE" },
	[FSB_OP_MKDIR] = { enc_create_req, dec_create_req, enc_entry_rep, dec_entry_rep, "MKDIR", 1 },
	[FSB_OP_MKNOD] = { enc_create_req, dec_create_req, enc_entry_rep, dec_entry_rep, "MKNOD", 1 },
	[FSB_OP_UNLINK] = { enc_name_req, dec_name_req, enc_dir_rep, dec_dir_rep, "UNLINK", 1 },
	[FSB_OP_RMDIR] = { enc_name_req, dec_name_req, enc_dir_rep, dec_dir_rep, "RMDIR", 1 },
	[FSB_OP_RENAME] = { enc_rename_req, dec_rename_req, enc_rename_rep, dec_rename_rep, "RENAME", 1 },
	[FSB_OP_SYMLINK] = { enc_symlink_req, dec_symlink_req, enc_entry_rep, dec_entry_rep, "SYMLINK", 1 },
	[FSB_OP_READLINK] = { enc_node_req, dec_node_req, enc_readlink_rep, dec_readlink_rep, "READLINK" },
	[FSB_OP_LINK] = { enc_link_req, dec_link_req, enc_entry_rep, dec_entry_rep, "LINK", 1 },
	[FSB_OP_STATFS] = { enc_node_req, dec_node_req, enc_statfs, dec_statfs, "STATFS" },
	[FSB_OP_PING] = { enc_ping, dec_ping, enc_ping, dec_ping, "PING" },
	[FSB_OP_EVENT] = { enc_events, dec_events, NULL, NULL, "EVENT" },
	[FSB_OP_EXPORTS] = { enc_empty, dec_empty, enc_exports_rep, dec_exports_rep, "EXPORTS" },
	[FSB_OP_FALLOCATE] = { enc_fallocate_req, dec_fallocate_req, enc_attr, dec_attr, "FALLOCATE" },
	[FSB_OP_RESUME] = { fsb__enc_resume_req, fsb__dec_resume_req, fsb__enc_resume_rep, fsb__dec_resume_rep, "RESUME" },
};

int fsb_op_takes_cred(unsigned op)
{
	return op < FSB_OP__COUNT && fsb__op_table[op].cred;
}

const char *fsb__codec_op_name(unsigned op)
{
	return op < FSB_OP__COUNT ? fsb__op_table[op].name : NULL;
}

/* ---- sizes ------------------------------------------------------------------ */

size_t fsb_dirent_wire_size(size_t namelen)
{
	if (namelen > SIZE_MAX - DIRENT_FIXED_SIZE)
		return SIZE_MAX;
	return DIRENT_FIXED_SIZE + namelen;
}

size_t fsb_event_wire_size(size_t pathlen, uint8_t flags)
{
	size_t fixed = EVENT_FIXED_SIZE;

	if (flags & FSB_EVF_ATTR)
		fixed += FSB_ATTR_WIRE_SIZE;
	if (pathlen > SIZE_MAX - fixed)
		return SIZE_MAX;
	return fixed + pathlen;
}
