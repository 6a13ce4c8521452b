/*
 * net_posix.c - listening, connecting and whole-buffer I/O on POSIX sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "net_internal.h"

/* Unix sockets default to ~200 KiB of buffer; a 1 MiB WRITE frame then
 * needs several wakeups of the peer. The kernel caps this at wmem_max. */
#define UNIX_SOCKBUF (4 << 20)

static socklen_t unix_sockaddr(const struct fsb_addr *a, struct sockaddr_un *sun)
{
	size_t n = strlen(a->path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (a->path[0] == '@') {
		/* Abstract names are length-delimited, not NUL-terminated: the
		 * address length must cover exactly the name. */
		memcpy(sun->sun_path + 1, a->path + 1, n - 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	memcpy(sun->sun_path, a->path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static void vsock_sockaddr(uint32_t cid, uint32_t port, struct sockaddr_vm *svm)
{
	memset(svm, 0, sizeof(*svm));
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = cid;
	svm->svm_port = port;
}

/* connect() interrupted by a signal keeps going in the background; wait for
 * the outcome instead of reporting EINTR as a failure. */
static int connect_retry(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	for (;;) {
		if (poll(&p, 1, -1) >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

/* What to do about an existing file at a Unix socket path: a socket nobody
 * answers on is a leftover of a crashed server and may go; a live socket or
 * any other kind of file is not ours to delete. */
static int unix_clear_stale(const struct fsb_addr *a, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t sl = unix_sockaddr(a, &sun);
	struct stat st;
	int fd, rc;

	if (lstat(a->path, &st) < 0)
		return fsb__net_fail(-errno, err, errlen, "listen on unix:%s: %s", a->path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fsb__net_fail(-EADDRINUSE, err, errlen,
		            "listen on unix:%s: the path exists and is not a socket; refusing to replace it", a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "listen on unix:%s: socket: %s", a->path, strerror(errno));
	rc = connect_retry(fd, (struct sockaddr *)&sun, sl);
	close(fd);
	if (rc == 0)
		return fsb__net_fail(-EADDRINUSE, err, errlen,
		            "listen on unix:%s: another server is already listening there", a->path);
	if (rc != -ECONNREFUSED)
		return fsb__net_fail(rc, err, errlen, "listen on unix:%s: cannot tell whether the existing socket is in use: %s",
		            a->path, strerror(-rc));
	if (unlink(a->path) < 0 && errno != ENOENT)
		return fsb__net_fail(-errno, err, errlen, "listen on unix:%s: removing the stale socket: %s",
		            a->path, strerror(errno));
	return 0;
}

static int listen_unix(const struct fsb_addr *a, struct fsb_addr *bound, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t sl = unix_sockaddr(a, &sun);
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "listen on unix:%s: socket: %s", a->path, strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sl) < 0) {
		rc = -errno;
		if (rc != -EADDRINUSE || a->path[0] == '@') {
			fsb__net_fail(rc, err, errlen, "listen on unix:%s: bind: %s", a->path, strerror(-rc));
			goto out_close;
		}
		rc = unix_clear_stale(a, err, errlen);
		if (rc)
			goto out_close;
		if (bind(fd, (struct sockaddr *)&sun, sl) < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on unix:%s: bind: %s", a->path, strerror(errno));
			goto out_close;
		}
	}
	if (listen(fd, SOMAXCONN) < 0) {
		rc = fsb__net_fail(-errno, err, errlen, "listen on unix:%s: listen: %s", a->path, strerror(errno));
		goto out_close;
	}
	if (bound)
		*bound = *a;
	return fd;

out_close:
	close(fd);
	return rc;
}

static void sockaddr_to_tcp(const struct sockaddr *sa, struct fsb_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = FSB_ADDR_TCP;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, out->host, sizeof(out->host));
		out->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, out->host, sizeof(out->host));
		out->port = ntohs(s4->sin_port);
	}
}

static int resolve(const struct fsb_addr *a, int passive, struct addrinfo **res,
                   char *err, size_t errlen)
{
	struct addrinfo hints;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(port, sizeof(port), "%u", (unsigned)a->port);
	rc = getaddrinfo(a->host, port, &hints, res);
	if (rc == EAI_SYSTEM)
		return fsb__net_fail(-errno, err, errlen, "tcp:%s:%s: cannot resolve host: %s", a->host, port, strerror(errno));
	if (rc)
		return fsb__net_fail(-EHOSTUNREACH, err, errlen, "tcp:%s:%s: cannot resolve host: %s", a->host, port, gai_strerror(rc));
	return 0;
}

static int listen_tcp(const struct fsb_addr *a, struct fsb_addr *bound, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = -1, rc, one = 1;

	rc = resolve(a, 1, &res, err, errlen);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on tcp:%s:%u: socket: %s", a->host, (unsigned)a->port, strerror(errno));
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on tcp:%s:%u: bind: %s", a->host, (unsigned)a->port, strerror(errno));
		} else if (listen(fd, SOMAXCONN) < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on tcp:%s:%u: listen: %s", a->host, (unsigned)a->port, strerror(errno));
		} else {
			rc = 0;
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (rc)
		return rc;
	if (bound) {
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on tcp:%s:%u: getsockname: %s", a->host, (unsigned)a->port, strerror(errno));
			close(fd);
			return rc;
		}
		sockaddr_to_tcp((struct sockaddr *)&ss, bound);
	}
	if (err && errlen)
		err[0] = '\0';
	return fd;
}

static int listen_vsock(const struct fsb_addr *a, struct fsb_addr *bound, char *err, size_t errlen)
{
	struct sockaddr_vm svm;
	socklen_t sl = sizeof(svm);
	char name[64];
	int fd, rc;

	fsb_addr_format(a, name, sizeof(name));
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "listen on %s: socket: %s (is the vsock module loaded?)", name, strerror(errno));
	vsock_sockaddr(a->cid, a->vport, &svm);
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
		rc = fsb__net_fail(-errno, err, errlen, "listen on %s: bind: %s", name, strerror(errno));
		goto out_close;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		rc = fsb__net_fail(-errno, err, errlen, "listen on %s: listen: %s", name, strerror(errno));
		goto out_close;
	}
	if (bound) {
		if (getsockname(fd, (struct sockaddr *)&svm, &sl) < 0) {
			rc = fsb__net_fail(-errno, err, errlen, "listen on %s: getsockname: %s", name, strerror(errno));
			goto out_close;
		}
		*bound = *a;
		bound->cid = svm.svm_cid;
		bound->vport = svm.svm_port;
	}
	return fd;

out_close:
	close(fd);
	return rc;
}

int fsb_net_listen(const struct fsb_addr *a, struct fsb_addr *bound, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	switch (a->kind) {
	case FSB_ADDR_UNIX:
		return listen_unix(a, bound, err, errlen);
	case FSB_ADDR_TCP:
		return listen_tcp(a, bound, err, errlen);
	case FSB_ADDR_VSOCK:
		return listen_vsock(a, bound, err, errlen);
	}
	return fsb__net_fail(-EINVAL, err, errlen, "listen: address kind %d is not unix, tcp or vsock", (int)a->kind);
}

static int connect_unix(const struct fsb_addr *a, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t sl = unix_sockaddr(a, &sun);
	int fd, rc, sz = UNIX_SOCKBUF;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "connect to unix:%s: socket: %s", a->path, strerror(errno));
	/* Best effort: a smaller buffer only costs speed. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	rc = connect_retry(fd, (struct sockaddr *)&sun, sl);
	if (rc) {
		close(fd);
		return fsb__net_fail(rc, err, errlen, "connect to unix:%s: %s", a->path, strerror(-rc));
	}
	return fd;
}

static int connect_tcp(const struct fsb_addr *a, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, rc, one = 1;

	rc = resolve(a, 0, &res, err, errlen);
	if (rc)
		return rc;
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = connect_retry(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (rc)
		return fsb__net_fail(rc, err, errlen, "connect to tcp:%s:%u: %s", a->host, (unsigned)a->port, strerror(-rc));
	/* Requests are small and latency-bound; Nagle would hold each one
	 * back waiting for the previous reply's ACK. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		rc = fsb__net_fail(-errno, err, errlen, "connect to tcp:%s:%u: TCP_NODELAY: %s", a->host, (unsigned)a->port, strerror(errno));
		close(fd);
		return rc;
	}
	if (err && errlen)
		err[0] = '\0';
	return fd;
}

static int connect_vsock(const struct fsb_addr *a, char *err, size_t errlen)
{
	struct sockaddr_vm svm;
	char name[64];
	int fd, rc;

	fsb_addr_format(a, name, sizeof(name));
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fsb__net_fail(-errno, err, errlen, "connect to %s: socket: %s (is the vsock module loaded?)", name, strerror(errno));
	vsock_sockaddr(a->cid, a->vport, &svm);
	rc = connect_retry(fd, (struct sockaddr *)&svm, sizeof(svm));
	if (rc) {
		close(fd);
		return fsb__net_fail(rc, err, errlen, "connect to %s: %s", name, strerror(-rc));
	}
	return fd;
}

int fsb_net_connect(const struct fsb_addr *a, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	switch (a->kind) {
	case FSB_ADDR_UNIX:
		return connect_unix(a, err, errlen);
	case FSB_ADDR_TCP:
		return connect_tcp(a, err, errlen);
	case FSB_ADDR_VSOCK:
		return connect_vsock(a, err, errlen);
	}
	return fsb__net_fail(-EINVAL, err, errlen, "connect: address kind %d is not unix, tcp or vsock", (int)a->kind);
}

/* EAGAIN means two different things: a non-blocking fd that is not ready
 * (wait for it), or SO_SNDTIMEO/SO_RCVTIMEO expiring on a blocking one
 * (a timeout the caller asked for, to be reported). */
static int wait_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK))
		return -EAGAIN;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int fsb_net_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int use_send = 1, rc;
	ssize_t n;

	while (len) {
		/* MSG_NOSIGNAL: a peer that went away must be an EPIPE return,
		 * not a process-killing SIGPIPE. Pipes (tests) fall back to write. */
		n = use_send ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOTSOCK && use_send) {
				use_send = 0;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = wait_ready(fd, POLLOUT);
				if (rc)
					return rc;
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Like read_all, but a clean EOF before the first byte returns 1. */
static int read_some_all(int fd, void *buf, size_t len, int eof_ok)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;
	int rc;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = wait_ready(fd, POLLIN);
				if (rc)
					return rc;
				continue;
			}
			return -errno;
		}
		if (n == 0)
			return (got == 0 && eof_ok) ? 1 : -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int fsb_net_read_all(int fd, void *buf, size_t len)
{
	return read_some_all(fd, buf, len, 0);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *nb;

	if (*buf && *cap >= need)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > FSB_MAX_FRAME)
		ncap = need > FSB_MAX_FRAME ? need : FSB_MAX_FRAME;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

int fsb_net_read_frame(int fd, uint8_t **buf, size_t *cap, uint32_t *len, int *ferr)
{
	return fsb_net_read_frame_mode(fd, buf, cap, len, ferr, FSB_CSUM_XXH3);
}

int fsb_net_read_frame_mode(int fd, uint8_t **buf, size_t *cap, uint32_t *len, int *ferr,
                            enum fsb_csum mode)
{
	uint32_t flen = 0;
	int rc;

	*ferr = 0;
	*len = 0;
	rc = grow(buf, cap, 8);
	if (rc)
		return rc;
	rc = read_some_all(fd, *buf, 8, 1);
	if (rc)
		return rc;
	/* Judge magic and length from the prefix alone, before allocating or
	 * waiting for bytes a garbage length promises. */
	rc = fsb_frame_check(*buf, 8, &flen);
	if (rc != -FSB_EFRAME_SHORT) {
		*ferr = rc ? rc : -FSB_EFRAME_UNDERSIZE;
		return -EBADMSG;
	}
	if (flen < FSB_HDR_SIZE || flen > FSB_MAX_FRAME) {
		*ferr = flen < FSB_HDR_SIZE ? -FSB_EFRAME_UNDERSIZE : -FSB_EFRAME_TOOBIG;
		return -EBADMSG;
	}
	rc = grow(buf, cap, flen);
	if (rc)
		return rc;
	rc = fsb_net_read_all(fd, *buf + 8, flen - 8);
	if (rc)
		return rc;
	rc = fsb_frame_check_mode(*buf, flen, &flen, mode);
	if (rc) {
		*ferr = rc;
		return -EBADMSG;
	}
	*len = flen;
	return 0;
}
