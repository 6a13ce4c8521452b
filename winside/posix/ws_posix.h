/*
 * ws_posix.h - the POSIX (Linux) backend and stream for the winside core.
 */
#ifndef WS_POSIX_H
#define WS_POSIX_H

#include <stddef.h>

#include "ws_backend.h"
#include "ws_stream.h"

/*
 * A backend serving the directory `path`. The directory is opened once,
 * here: later renames of `path` do not change what is served. Returns 0, or
 * a negative status with the cause in err ("No such file or directory",
 * without the path, which the caller names).
 */
int ws_posix_backend_new(const char *path, struct ws_backend **out, char *err, size_t errlen);

/* Which kernel interface watches the export for changes: inotify's
 * watch per directory, or fanotify's one mark on the whole file system
 * (CAP_SYS_ADMIN, file handles, Linux 5.17), failing if it cannot. auto
 * is inotify for now: fanotify merges unread events of one thread on one
 * file, so their order can differ from inotify's (watch_fan.c). */
enum ws_posix_watcher {
	WS_WATCHER_AUTO = 0,
	WS_WATCHER_INOTIFY,
	WS_WATCHER_FANOTIFY,
};
/* "auto", "inotify" or "fanotify" to *out: 0, or -1 for anything else. */
int ws_posix_watcher_parse(const char *s, enum ws_posix_watcher *out);
/* Before the first client asks for events. */
void ws_posix_backend_set_watcher(struct ws_backend *be, enum ws_posix_watcher kind);

/* What the backend's nodes cost, for the server's log. */
struct ws_posix_stats {
	size_t nodes;           /* objects known to some client */
	size_t dirs;
	size_t fds_cached;      /* descriptors in the LRU, of fds_cap */
	size_t fds_cap;
	size_t fds_pinned;      /* the root's and files' losing their last name */
	size_t bytes;           /* allocated for the nodes */
	int handles;            /* nodes are re-opened by file handle */
	size_t watched;         /* directories the watcher knows (an inotify
	                         * watch each, or in fanotify's one mark) */
	size_t polled;          /* subtrees polled (the watch limit) */
	size_t watch_bytes;     /* allocated for them */
};
void ws_posix_backend_stats(struct ws_backend *be, struct ws_posix_stats *out);

/* Wrap a connected socket; the stream owns fd from here on (closed on
 * failure too). NULL when out of memory. */
struct ws_stream *ws_posix_stream_new(int fd, const char *peer);

/* ---- internals shared by backend.c and watch.c ---------------------- */

struct stat;

/* The export root's O_PATH descriptor, owned by the backend. */
int ws__posix_root_fd(struct ws_backend *be);
/* The backend's one conversion of a stat into identity and attributes. */
void ws__posix_fill_bstat(const struct stat *s, struct ws_bstat *st);
/* objs.c: a directory may have left the export (the watcher saw one
 * removed or renamed): descriptors proven inside it are proven again. */
void ws__posix_objs_moved(struct ws_backend *be);
/* objs.c: the watcher saw obj renamed to `name` in directory dir: the
 * known node of obj is anchored there (a hint: every re-open by anchor
 * checks the identity it finds). */
void ws__posix_objs_renamed(struct ws_backend *be, const struct ws_ident *dir, const char *name,
                            const struct ws_ident *obj);
/* watch.c: the recursive inotify watcher (ws_backend_ops watch_*). */
int ws__posix_watch_start(struct ws_backend *be, ws_change_fn fn, void *ctx,
                          struct ws_watch **out);
void ws__posix_watch_stop(struct ws_backend *be, struct ws_watch *w);
enum ws_posix_watcher ws__posix_watcher(struct ws_backend *be);
/* watch.c tells the backend what the watcher holds, for its stats. */
void ws__posix_watch_tally(struct ws_backend *be, size_t dirs, size_t polled, size_t bytes);

#endif
