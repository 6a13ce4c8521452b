/*
 * ws_posix_owner.h - making objects as the client's caller (owner.c).
 */
#ifndef WS_POSIX_OWNER_H
#define WS_POSIX_OWNER_H

#include <sys/types.h>

#include "fsb_proto.h"

/* The calling thread's own file system identity, while switched. */
struct ws_posix_as {
	int active;
	uid_t uid;
	gid_t gid;
};

/* Until the matching end, objects this thread creates belong to `owner`
 * (NULL: to the server). A no-op when the server cannot give objects
 * away (not root): they then belong to the server's user, as with any
 * unprivileged file server. */
void ws__posix_as_begin(struct ws_posix_as *as, const struct fsb_cred *owner);
void ws__posix_as_end(struct ws_posix_as *as);

#endif
