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

#endif
