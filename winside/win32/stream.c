/*
 * stream.c - ws_stream over a connected Winsock SOCKET (TCP or AF_HYPERV).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>

#include "fsb_proto.h"
#include "ws_win32.h"

struct sock_stream {
	struct ws_stream base;
	SOCKET s;
};

static int sock_status(void)
{
	return -ws_win32_status_from_error((uint32_t)WSAGetLastError());
}

static long sock_read(struct ws_stream *st, void *buf, size_t len)
{
	struct sock_stream *s = (struct sock_stream *)st;
	int n = recv(s->s, buf, len > INT32_MAX ? INT32_MAX : (int)len, 0);

	if (n == SOCKET_ERROR)
		return sock_status();
	return n;
}

static int sock_write(struct ws_stream *st, const void *buf, size_t len)
{
	struct sock_stream *s = (struct sock_stream *)st;
	const char *p = buf;
	int n;

	/* Windows has no SIGPIPE: a vanished peer is just an error here. */
	while (len) {
		n = send(s->s, p, len > INT32_MAX ? INT32_MAX : (int)len, 0);
		if (n == SOCKET_ERROR)
			return sock_status();
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void sock_shutdown(struct ws_stream *st)
{
	struct sock_stream *s = (struct sock_stream *)st;

	/* Wakes a recv() or send() blocked in another thread; the socket
	 * stays valid until close. */
	shutdown(s->s, SD_BOTH);
}

static void sock_close(struct ws_stream *st)
{
	struct sock_stream *s = (struct sock_stream *)st;

	closesocket(s->s);
	free(s);
}

/* A Hyper-V socket carries every byte intact and in order over VMBus;
 * TCP never counts, loopback or not. */
static int has_integrity(SOCKET sock)
{
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(sock, (struct sockaddr *)&ss, &len) == SOCKET_ERROR)
		return 0;
	return ss.ss_family == AF_HYPERV;
}

static const struct ws_stream_ops sock_stream_ops = {
	.read = sock_read,
	.write = sock_write,
	.shutdown = sock_shutdown,
	.close = sock_close,
};

struct ws_stream *ws_win32_stream_new(SOCKET sock, const char *peer)
{
	struct sock_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		closesocket(sock);
		return NULL;
	}
	s->base.ops = &sock_stream_ops;
	snprintf(s->base.peer, sizeof(s->base.peer), "%s", peer ? peer : "?");
	s->s = sock;
	s->base.integrity = has_integrity(sock);
	return &s->base;
}
