/*
 * ws_owner.h - the Linux rules that depend on who owns what: which caller
 * a request speaks for, who may give a file away, who may remove a name
 * from a sticky directory.
 *
 * The client's kernel checks permissions with `default_permissions`,
 * against the caller's whole group list. The server checks again what it
 * can decide from the uid alone, so that a client that skips the kernel's
 * checks still cannot chown a stranger's file or delete in someone
 * else's /tmp: the owner-or-root rules. Checks that need supplementary
 * groups (chgrp to a group of one's own, write permission through a group)
 * stay with the kernel, which alone knows the groups.
 */
#ifndef WS_OWNER_H
#define WS_OWNER_H

#include "ws_session.h"

/* The caller a request carries (FSB_F_CRED), or NULL for none. */
const struct fsb_cred *ws__caller(const struct ws_req *r);

/* SETATTR of uid or gid: 0, or -FSB_EPERM as chown(2) gives it. `cur` is
 * the node's attributes before the change. */
int ws__may_chown(struct ws_req *r, const struct fsb_attr *cur,
                  const struct fsb_setattr_req *q);

/* Removing or replacing `name` in `dir` (UNLINK, RMDIR, either side of a
 * RENAME): 0, or -FSB_EPERM when `dir` is sticky and the caller owns
 * neither it nor the entry nor is root. A name that does not exist is 0:
 * the operation itself then fails as it should. */
int ws__may_remove(struct ws_req *r, struct ws_node *dir, const char *name);

#endif
