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

/* Wrap a connected socket; the stream owns fd from here on (closed on
 * failure too). NULL when out of memory. */
struct ws_stream *ws_posix_stream_new(int fd, const char *peer);

/* ---- internals shared by backend.c and watch.c ---------------------- */

struct stat;

/* The export root's O_PATH descriptor, owned by the backend. */
int ws__posix_root_fd(struct ws_backend *be);
/* The backend's one conversion of a stat into identity and attributes. */
void ws__posix_fill_bstat(const struct stat *s, struct ws_bstat *st);
/* watch.c: the recursive inotify watcher (ws_backend_ops watch_*). */
int ws__posix_watch_start(struct ws_backend *be, ws_change_fn fn, void *ctx,
                          struct ws_watch **out);
void ws__posix_watch_stop(struct ws_backend *be, struct ws_watch *w);

#endif
