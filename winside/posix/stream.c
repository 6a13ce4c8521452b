/*
 * stream.c - ws_stream over a connected socket descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "ws_posix.h"

struct fd_stream {
	struct ws_stream base;
	int fd;
};

static long fd_read(struct ws_stream *st, void *buf, size_t len)
{
	struct fd_stream *s = (struct fd_stream *)st;
	ssize_t n;

	for (;;) {
		n = recv(s->fd, buf, len, 0);
		if (n < 0 && errno == ENOTSOCK)
			n = read(s->fd, buf, len);
		if (n >= 0)
			return (long)n;
		if (errno != EINTR)
			return -fsb_status_from_errno(errno);
	}
}

static int fd_write(struct ws_stream *st, const void *buf, size_t len)
{
	struct fd_stream *s = (struct fd_stream *)st;
	const char *p = buf;
	ssize_t n;

	while (len) {
		/* MSG_NOSIGNAL: a client that vanished must cost an EPIPE,
		 * not the whole server. */
		n = send(s->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(s->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -fsb_status_from_errno(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fd_shutdown(struct ws_stream *st)
{
	struct fd_stream *s = (struct fd_stream *)st;

	/* Wakes a recv() or send() blocked in another thread; the fd itself
	 * stays valid until close. */
	shutdown(s->fd, SHUT_RDWR);
}

static void fd_close(struct ws_stream *st)
{
	struct fd_stream *s = (struct fd_stream *)st;

	close(s->fd);
	free(s);
}

/* Unix sockets and vsock hand over every byte intact and in order; TCP
 * leaves that to checksums that can miss errors, so it never counts. */
static int has_integrity(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return 0;
	return domain == AF_UNIX || domain == AF_VSOCK;
}

static const struct ws_stream_ops fd_stream_ops = {
	.read = fd_read,
	.write = fd_write,
	.shutdown = fd_shutdown,
	.close = fd_close,
};

struct ws_stream *ws_posix_stream_new(int fd, const char *peer)
{
	struct fd_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->base.ops = &fd_stream_ops;
	snprintf(s->base.peer, sizeof(s->base.peer), "%s", peer ? peer : "?");
	s->fd = fd;
	s->base.integrity = has_integrity(fd);
	return &s->base;
}
