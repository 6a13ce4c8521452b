/*
 * ws_server.h - the winside server core: what a platform's main program
 * (winside/main.c on POSIX) drives.
 *
 *	struct ws_export ex = { .path = "/srv", .canonical = "/srv", .be = be };
 *	struct ws_server_opts o = { .exports = &ex, .nexports = 1, .token = tok };
 *	ws_server_new(&o, &srv, err, sizeof(err));
 *	for each accepted connection:
 *		ws_server_add(srv, stream);     (the server owns the stream)
 *		ws_server_reap(srv);
 *	ws_server_free(srv);                    (ends every session)
 *
 * Threads: a shared pool of workers runs requests; each connection has a
 * reader thread (framing, HELLO, FORGET, dispatch) and a writer thread
 * (writes replies in batches, in the order they were finished).
 */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include <stddef.h>

#include "ws_backend.h"
#include "ws_stream.h"

#define WS_DEFAULT_MAX_HANDLES 4096u
#define WS_DEFAULT_WORKERS 4u

struct ws_export {
	const char *name;           /* what EXPORTS calls it ("c", "src"), or NULL */
	const char *path;           /* as given on the command line */
	const char *canonical;      /* its canonical form (realpath), or NULL */
	struct ws_backend *be;
};

struct ws_server_opts {
	const struct ws_export *exports;   /* the first is the default export */
	size_t nexports;
	const char *token;                 /* NUL-terminated, not empty */
	unsigned workers;                  /* 0: WS_DEFAULT_WORKERS */
	unsigned max_handles;              /* per session; 0: WS_DEFAULT_MAX_HANDLES */
	int readonly;                      /* every mutation fails with FSB_EROFS */
	const char *version;               /* for HELLO's server string, e.g. "0.1.0" */
};

struct ws_server;

/* Start the worker pool. The server takes over every export's backend,
 * also on failure. 0, or a negative status with a sentence in err. */
int ws_server_new(const struct ws_server_opts *o, struct ws_server **out, char *err,
                  size_t errlen);
/* Serve a connection; the server owns `st` from here on, failure included.
 * 0, or -FSB_ECONNRESET when the server is stopping, -FSB_ENOMEM. */
int ws_server_add(struct ws_server *srv, struct ws_stream *st);
/* Join the threads of sessions that have ended. */
void ws_server_reap(struct ws_server *srv);
/* Sessions being served (not yet ended). */
unsigned ws_server_sessions(struct ws_server *srv);
/* What the sessions of export number `i` (in the order given) hold: their
 * node tables' nodes and bytes. A snapshot, taken without stopping them. */
struct ws_export_stats {
	size_t sessions;
	size_t nodes;
	size_t bytes;
};
void ws_server_export_stats(struct ws_server *srv, size_t i, struct ws_export_stats *out);
/* Shut every connection, let their requests drain, close all handles and
 * nodes, stop the workers, destroy the backends, free. */
void ws_server_free(struct ws_server *srv);

#endif
