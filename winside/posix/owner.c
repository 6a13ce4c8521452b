/*
 * owner.c - new objects owned by the client's caller.
 *
 * Running as root, winside makes each object *as* the caller: the worker
 * thread's file system uid and gid are switched to the caller's around the
 * one system call that creates it. The kernel then gives the object its
 * owner atomically (no moment in which it belongs to root, no chown racing
 * a rename of the name) and applies its own rule for set-group-ID
 * directories (the group and, for directories, the bit are inherited).
 *
 * The thread keeps its capabilities meanwhile (SECBIT_NO_SETUID_FIXUP):
 * the client's kernel already checked permission against the caller's
 * whole group list, which the server does not know, so the server must
 * not refuse what the client allowed. Credentials are per thread on Linux,
 * and glibc's setfsuid/setfsgid, unlike setuid, are not broadcast to the
 * other threads, so requests running at the same time are not affected.
 * The securebit is set on each worker thread the first time it is needed
 * (it too is per thread).
 *
 * Calls nothing of the core but the log.
 */
#include <errno.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ws_log.h"
#include "ws_posix_owner.h"

#ifndef SECBIT_NO_SETUID_FIXUP
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#endif

/* 0: not tried on this thread; 1: the securebit is set; -1: refused. */
static __thread int keep_caps;

static int keep_caps_on_switch(void)
{
	static int warned;
	int bits;

	if (keep_caps)
		return keep_caps > 0;
	bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (bits >= 0 && ((bits & SECBIT_NO_SETUID_FIXUP) ||
	                  prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) == 0)) {
		keep_caps = 1;
		return 1;
	}
	keep_caps = -1;
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		ws_log(WS_LOG_WARN, "new files belong to the server, not to the client's user: "
		       "cannot keep capabilities across a uid switch (%s; CAP_SETPCAP needed)",
		       strerror(errno));
	return 0;
}

void ws__posix_as_begin(struct ws_posix_as *as, const struct fsb_cred *owner)
{
	as->active = 0;
	if (!owner || geteuid() != 0)
		return;
	as->uid = (uid_t)setfsuid((uid_t)-1);
	as->gid = (gid_t)setfsgid((gid_t)-1);
	if (owner->uid == (uint32_t)as->uid && owner->gid == (uint32_t)as->gid)
		return;
	if (!keep_caps_on_switch())
		return;
	as->active = 1;
	setfsgid((gid_t)owner->gid);
	setfsuid((uid_t)owner->uid);
	/* setfsuid reports no errors: read back what is in force. An id the
	 * kernel refuses (unmapped, -1) leaves the object to the server. */
	if ((uint32_t)setfsuid((uid_t)-1) != owner->uid ||
	    (uint32_t)setfsgid((gid_t)-1) != owner->gid)
		ws__posix_as_end(as);
}

void ws__posix_as_end(struct ws_posix_as *as)
{
	if (!as->active)
		return;
	setfsuid(as->uid);
	setfsgid(as->gid);
	as->active = 0;
}
