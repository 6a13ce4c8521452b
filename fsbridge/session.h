/*
 * session.h - open a session with winside: connect, then HELLO, blocking,
 * before anything is mounted, so every failure reaches the terminal as one
 * sentence naming the server and the cause.
 */
#ifndef FB_SESSION_H
#define FB_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

#define FB_CLIENT_CAPS (FSB_CAP_EVENTS | FSB_CAP_RENAME_NOREPLACE | \
                        FSB_CAP_RENAME_EXCHANGE | FSB_CAP_SYMLINKS | FSB_CAP_HARDLINKS | \
                        FSB_CAP_FALLOCATE | FSB_CAP_CREDS | FSB_CAP_RESUME | \
                        FSB_CAP_EVENT_EDGES | FSB_CAP_DIRLIST | FSB_CAP_NO_CSUM)

struct fb_server {
	uint32_t version;
	uint64_t caps;              /* confirmed by the server */
	uint32_t max_frame;
	uint32_t max_io;            /* already capped at FSB_MAX_IO */
	struct fsb_entry root;
	struct fsb_statfs fs;
	char name[128];             /* "winside 0.1 (posix)" */
};

/*
 * Connect to `addr` (unix:/tcp:/vsock: text) and say HELLO with `token`
 * for `export_path`, asking for `caps` (FB_CLIENT_CAPS, or fewer; never
 * FSB_CAP_NO_CSUM on TCP, whose integrity is not ours to assume). Returns the connected socket (blocking, no timeouts
 * left set) with *out filled and *is_tcp set, or a negative errno with a
 * sentence in err.
 */
int fb_session_open(const char *addr, const char *token, const char *export_path, uint64_t caps,
                    struct fb_server *out, int *is_tcp, char *err, size_t errlen);

/* How the session's frames after HELLO are checksummed. */
static inline enum fsb_csum fb_session_csum(const struct fb_server *srv)
{
	return (srv->caps & FSB_CAP_NO_CSUM) ? FSB_CSUM_NONE : FSB_CSUM_XXH3;
}

/* The same, telling on_fd(arg, fd) the socket as soon as it is connected
 * (and on_fd(arg, -1) before it is closed on failure), so that another
 * thread may shutdown() it to cut the wait for HELLO short. */
int fb_session_open_ex(const char *addr, const char *token, const char *export_path,
                       uint64_t caps, struct fb_server *out, int *is_tcp, char *err,
                       size_t errlen, void (*on_fd)(void *arg, int fd), void *arg);

#endif
