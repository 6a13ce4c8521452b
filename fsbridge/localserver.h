/*
 * localserver.h - the private winside behind `fsbridge mount --local DIR`.
 *
 * The server listens on a Unix socket inside a fresh 0700 directory, with a
 * random token in a 0600 file next to it, so only this user can reach it.
 * It is our child, in its own process group (a terminal ^C reaches only
 * the daemon, which then unmounts and stops it in order), and it gets
 * SIGTERM if the daemon dies without cleaning up (PR_SET_PDEATHSIG).
 * Its output is relayed into our log, one line per line.
 */
#ifndef FB_LOCALSERVER_H
#define FB_LOCALSERVER_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "fsb_proto.h"

struct fb_local {
	pid_t pid;
	int out_fd;                     /* winside's stdout+stderr */
	pthread_t relay;
	int relay_started;
	char dir[PATH_MAX];
	char sock[PATH_MAX];
	char token_path[PATH_MAX];
	char addr[PATH_MAX + 8];        /* "unix:<sock>" */
	char token[FSB_TOKEN_MAX + 1];
};

/* Start winside serving `export_dir` (an absolute path) and wait until it
 * listens. Returns 0, or -errno with a sentence in err. */
int fb_local_start(struct fb_local *l, const char *export_dir, char *err, size_t errlen);
/* Stop and reap the server, remove the private directory. Idempotent. */
void fb_local_stop(struct fb_local *l);

#endif
