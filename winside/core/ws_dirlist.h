/*
 * ws_dirlist.h - listings by node (FSB_CAP_DIRLIST).
 *
 * A client whose kernel caches directory listings across opens never
 * OPENs a directory: it sends READDIRPLUS with fh 0 and the directory's
 * node. The server then opens the directory itself, in the session's
 * handle table like any handle, and keeps that handle between the batches
 * of one listing so that a continuation costs no re-open. It is given
 * back at the end of the listing; a client that stops halfway leaves it
 * here, and the oldest of at most WS_DIRLIST_SLOTS kept handles makes room
 * for the next, so abandoned listings cost a bounded number of
 * descriptors. A continuation whose handle was given back is served from
 * a new one: the backends resume at any cookie.
 *
 * Locking: one mutex, a leaf lock. The table only remembers handle
 * numbers; closing them is the caller's (ws_handles_remove).
 */
#ifndef WS_DIRLIST_H
#define WS_DIRLIST_H

#include <pthread.h>
#include <stdint.h>

#define WS_DIRLIST_SLOTS 16

struct ws_dirlist_slot {
	uint64_t node;          /* 0: free */
	uint64_t fh;
	uint64_t next;          /* the cookie the listing continues from */
	uint64_t used;          /* when it was kept, for the oldest-first choice */
};

struct ws_dirlists {
	pthread_mutex_t lock;
	uint64_t clock;
	struct ws_dirlist_slot slot[WS_DIRLIST_SLOTS];
};

int ws_dirlists_init(struct ws_dirlists *d);
void ws_dirlists_release(struct ws_dirlists *d);
/* The handle kept for continuing node's listing at `cookie`, taken out of
 * the table (the caller keeps it again or removes it), or 0. */
uint64_t ws_dirlists_take(struct ws_dirlists *d, uint64_t node, uint64_t cookie);
/* Keep `fh` for node's listing, to continue at `next`. Returns a handle
 * that had to make room (the caller removes it from the handle table), or
 * 0. */
uint64_t ws_dirlists_keep(struct ws_dirlists *d, uint64_t node, uint64_t fh, uint64_t next);

#endif
