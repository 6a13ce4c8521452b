/*
 * fuse_ops.h - the FUSE low-level operations, each mapped onto one protocol
 * request.
 *
 * Every handler runs on a FUSE worker, queues its request on the connection
 * and returns; the reply callback runs on the connection's loop thread and
 * sends exactly one fuse_reply_* (see conn.h). A handler that cannot queue
 * (dead connection, name too long for the wire) answers at once.
 *
 * Lookup references: every entry the server returns holds one server
 * reference. Entries handed to the kernel are recorded in the node table
 * and come back through forget/forget_multi; entries that never reach the
 * kernel (readdirplus overflow, plain readdir, a failed or interrupted
 * reply, an allocation failure) are forgotten here at once, so the
 * server's counts stay exact.
 */
#ifndef FB_FUSE_OPS_H
#define FB_FUSE_OPS_H

#include <fuse_lowlevel.h>

#include "conn.h"
#include "dents.h"
#include "dirahead.h"
#include "events.h"
#include "restat.h"
#include "fhs.h"
#include "nodes.h"
#include "options.h"
#include "resume.h"
#include "session.h"

/* The filesystem instance; the FUSE session's userdata. */
/* Where the kernel's latest listings ended (ops_dir.c). */
#define FB_DIR_ENDS 64
struct fb_dir_ends {
	pthread_mutex_t lock;
	struct {
		uint64_t node;          /* 0: free */
		off_t off;              /* the offset after the last entry */
	} v[FB_DIR_ENDS];
};

struct fb_fs {
	struct fb_conn *conn;
	struct fb_nodes nodes;
	struct fb_dents dents;          /* the names the kernel knows */
	struct fb_fhs fhs;              /* the server handles it holds */
	struct fb_cache_policy cache;
	struct fb_server server;
	struct fb_events events;
	struct fb_resume resume;        /* getting the server back */
	struct fb_restat restat;        /* nodes restated after the kernel invalidated them */
	struct fb_dir_ends dir_ends;    /* listings whose end the kernel has yet to ask */
	struct fb_dirahead dirahead;    /* listings read ahead of a walk */
};

extern const struct fuse_lowlevel_ops fb_fuse_ops;

#endif
