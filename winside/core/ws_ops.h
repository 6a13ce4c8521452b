/*
 * ws_ops.h - request handlers and the helpers they share.
 *
 * A handler reads r->in, fills r->out (the reply body) and returns 0, or
 * returns a negative status, optionally after explaining it in r->cause;
 * dispatch.c then sends exactly one reply, success or error. Handlers
 * never send anything themselves.
 */
#ifndef WS_OPS_H
#define WS_OPS_H

#include "ws_events.h"
#include "ws_session.h"

static inline struct ws_backend *ws__be(const struct ws_req *r)
{
	return r->s->exp->be;
}

/* Set r->cause and return rc. */
int ws__fail(struct ws_req *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Pin node `id`, or -FSB_ESTALE naming it. */
int ws__pin(struct ws_req *r, uint64_t id, struct ws_node **out);
void ws__unpin(struct ws_req *r, struct ws_node *n);
/* Take handle `fh`, or -FSB_EBADF naming it. */
int ws__get_fh(struct ws_req *r, uint64_t fh, struct ws_handle **out);
void ws__put_fh(struct ws_req *r, struct ws_handle *hd);
/* Validate a client name into `out` (r->name or r->name2). */
int ws__check_name(struct ws_req *r, struct fsb_str name, char *out);
/* Turn a backend node into an entry with one lookup reference. Consumes bn. */
int ws__enter(struct ws_req *r, struct ws_bnode *bn, const struct ws_bstat *st,
              struct fsb_entry *e, struct ws_node **pin);

/* ops_node.c */
/* Resolve `name` in node `parent` as LOOKUP does (name checks included):
 * 0 with a new backend node in *bn (the caller's to enter or forget). */
int ws__lookup_at(struct ws_req *r, uint64_t parent, struct fsb_str name, struct ws_bnode **bn,
                  struct ws_bstat *st);
int ws__op_lookup(struct ws_req *r);
int ws__op_getattr(struct ws_req *r);
int ws__op_setattr(struct ws_req *r);
int ws__op_readlink(struct ws_req *r);
int ws__op_statfs(struct ws_req *r);
int ws__op_ping(struct ws_req *r);

/* ops_file.c */
/* Whether OPEN may use `flags` on this export: 0, -FSB_EINVAL, -FSB_EROFS. */
int ws__check_open(struct ws_req *r, uint32_t flags);
/* Open the pinned node `n` with checked `flags` (without CREAT and EXCL)
 * under the handle number `want`, or a new one when want is 0; *fh gets
 * the number. The pin passes to the handle, or is dropped on failure. */
int ws__open_pinned(struct ws_req *r, struct ws_node *n, uint32_t flags, uint64_t want,
                    uint64_t *fh, struct fsb_attr *attr);
int ws__op_open(struct ws_req *r);
int ws__op_create(struct ws_req *r);
int ws__op_read(struct ws_req *r);
int ws__op_write(struct ws_req *r);
int ws__op_flush(struct ws_req *r);
int ws__op_fsync(struct ws_req *r);
int ws__op_fallocate(struct ws_req *r);
int ws__op_release(struct ws_req *r);

/* ops_server.c */
int ws__op_exports(struct ws_req *r);

/* ops_resume.c */
int ws__op_resume(struct ws_req *r);

/* ops_dir.c */
int ws__op_readdirplus(struct ws_req *r);
int ws__op_mkdir(struct ws_req *r);
int ws__op_mknod(struct ws_req *r);
int ws__op_symlink(struct ws_req *r);
int ws__op_link(struct ws_req *r);
int ws__op_unlink(struct ws_req *r);
int ws__op_rmdir(struct ws_req *r);
int ws__op_rename(struct ws_req *r);

#endif
