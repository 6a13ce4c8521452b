/*
 * ws_stream.h - a connected byte stream, as the server core sees it.
 *
 * The core never touches sockets: each platform wraps whatever it accepted
 * (a Unix, TCP or vsock socket; on Windows an AF_HYPERV or TCP SOCKET) in
 * a ws_stream. One thread reads while another writes; shutdown() may be
 * called from any thread at any time and must wake both.
 */
#ifndef WS_STREAM_H
#define WS_STREAM_H

#include <stddef.h>

struct ws_stream;

struct ws_stream_ops {
	/* Read up to len bytes: > 0 bytes read, 0 at end of stream, or a
	 * negative protocol status (-FSB_ECONNRESET, ...). */
	long (*read)(struct ws_stream *st, void *buf, size_t len);
	/* Write all len bytes: 0, or a negative protocol status. Must never
	 * raise a signal when the peer has gone. */
	int (*write)(struct ws_stream *st, const void *buf, size_t len);
	/* Make blocked and future reads and writes fail or see EOF. Safe to
	 * call more than once and concurrently with read/write. */
	void (*shutdown)(struct ws_stream *st);
	/* Close and free. Called once, after every read and write returned. */
	void (*close)(struct ws_stream *st);
};

struct ws_stream {
	const struct ws_stream_ops *ops;
	char peer[128];         /* for logs: "unix:/run/ws.sock", "tcp:127.0.0.1:5123" */
	/* 1 when the transport itself delivers every byte intact and in
	 * order (a Unix socket, AF_VSOCK, AF_HYPERV): the session may then
	 * agree to FSB_CAP_NO_CSUM. Never on TCP. */
	int integrity;
};

#endif
