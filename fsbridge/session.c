/*
 * session.c - see session.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsb_net.h"
#include "session.h"

/* A server that accepts but never answers must not hang the mount. */
#define HELLO_TIMEOUT_S 10

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	/* Best effort: without them HELLO is merely less patient-proof. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static const char *detail_or(const struct fsb_msg *m, char *buf, size_t len)
{
	const struct fsb_str *d = &m->u.error.detail;

	if (d->len)
		snprintf(buf, len, "%.*s", (int)d->len, d->ptr);
	else
		snprintf(buf, len, "%s", fsb_strerror((int)m->status));
	return buf;
}

static int hello_error(const struct fsb_msg *m, const char *addr, const char *export_path,
                       char *err, size_t errlen)
{
	char detail[FSB_ERRMSG_MAX + 1];

	detail_or(m, detail, sizeof(detail));
	switch (m->status) {
	case FSB_EAUTH:
		snprintf(err, errlen, "server %s rejected the token: %s", addr, detail);
		return -EACCES;
	case FSB_ENOEXPORT:
		snprintf(err, errlen, "server %s has no export '%s': %s", addr, export_path,
		         detail);
		return -ENOENT;
	case FSB_EVERSION:
		snprintf(err, errlen, "server %s speaks no protocol version we know: %s",
		         addr, detail);
		return -EPROTO;
	default:
		snprintf(err, errlen, "server %s refused the session: %s", addr, detail);
		return -fsb_status_to_errno((int)m->status);
	}
}

static int hello_check(const struct fsb_hello_rep *h, const char *addr, char *err,
                       size_t errlen)
{
	if (h->version == 0 || h->version > FSB_PROTO_VERSION) {
		snprintf(err, errlen, "server %s answered HELLO with protocol version %u",
		         addr, h->version);
		return -EPROTO;
	}
	/* FUSE's root is node 1; mapping FUSE ids 1:1 onto server ids needs the
	 * server's root to be 1 as well. */
	if (h->root.node != 1) {
		snprintf(err, errlen, "server %s gave root node %llu, expected 1", addr,
		         (unsigned long long)h->root.node);
		return -EPROTO;
	}
	if ((h->root.attr.mode & FSB_S_IFMT) != FSB_S_IFDIR) {
		snprintf(err, errlen, "server %s: the export root is not a directory", addr);
		return -ENOTDIR;
	}
	if (h->max_io < 4096) {
		snprintf(err, errlen, "server %s offers max_io %u, too small", addr, h->max_io);
		return -EPROTO;
	}
	return 0;
}

int fb_session_open(const char *addr, const char *token, const char *export_path, uint64_t caps,
                    struct fb_server *out, int *is_tcp, char *err, size_t errlen)
{
	return fb_session_open_ex(addr, token, export_path, caps, out, is_tcp, err, errlen, NULL,
	                          NULL);
}

int fb_session_open_ex(const char *addr, const char *token, const char *export_path,
                       uint64_t caps, struct fb_server *out, int *is_tcp, char *err,
                       size_t errlen, void (*on_fd)(void *arg, int fd), void *arg)
{
	struct fsb_addr a;
	struct fsb_wbuf wb;
	struct fsb_msg m;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint32_t len = 0;
	int fd, rc, ferr = 0;
	char why[256];

	rc = fsb_addr_parse(addr, &a, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "bad server address: %s", why);
		return rc;
	}
	*is_tcp = a.kind == FSB_ADDR_TCP;
	/* Only a Unix socket or vsock delivers every byte as sent; over TCP
	 * the checksum is the one guard against corruption in transit. */
	if (a.kind != FSB_ADDR_UNIX && a.kind != FSB_ADDR_VSOCK)
		caps &= ~(uint64_t)FSB_CAP_NO_CSUM;

	fd = fsb_net_connect(&a, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s \xe2\x80\x94 is winside running?",
		         addr, strerror(-fd));
		return fd;
	}
	if (on_fd)
		on_fd(arg, fd);
	set_timeouts(fd, HELLO_TIMEOUT_S);

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_HELLO;
	m.id = 1;
	m.u.hello_req.version = FSB_PROTO_VERSION;
	m.u.hello_req.caps = caps;
	m.u.hello_req.token.ptr = token;
	m.u.hello_req.token.len = (uint32_t)strlen(token);
	m.u.hello_req.export_path.ptr = export_path;
	m.u.hello_req.export_path.len = (uint32_t)strlen(export_path);
	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode(&wb, &m);
	if (rc < 0) {
		snprintf(err, errlen, "cannot encode HELLO: %s", fsb_strerror(rc));
		rc = -EINVAL;
		goto out_wb;
	}
	rc = fsb_net_write_all(fd, wb.data, wb.len);
	if (rc < 0) {
		snprintf(err, errlen, "cannot send HELLO to %s: %s", addr, strerror(-rc));
		goto out_wb;
	}

	rc = fsb_net_read_frame(fd, &buf, &cap, &len, &ferr);
	if (rc == 1 || rc == -ECONNRESET) {
		snprintf(err, errlen, "server %s closed the connection during HELLO", addr);
		rc = -ECONNRESET;
		goto out_buf;
	}
	if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
		snprintf(err, errlen, "server %s did not answer HELLO within %d s", addr,
		         HELLO_TIMEOUT_S);
		rc = -ETIMEDOUT;
		goto out_buf;
	}
	if (rc == -EBADMSG) {
		snprintf(err, errlen, "server %s sent a corrupt frame: %s", addr,
		         fsb_strerror(ferr));
		rc = -EPROTO;
		goto out_buf;
	}
	if (rc < 0) {
		snprintf(err, errlen, "reading HELLO reply from %s: %s", addr, strerror(-rc));
		goto out_buf;
	}
	rc = fsb_msg_decode(buf, len, &m);
	if (rc < 0) {
		snprintf(err, errlen, "server %s sent a malformed HELLO reply: %s", addr,
		         fsb_strerror(rc));
		rc = -EPROTO;
		goto out_buf;
	}
	if (m.op != FSB_OP_HELLO || !(m.flags & FSB_F_REPLY) || m.id != 1) {
		snprintf(err, errlen, "server %s answered HELLO with %s", addr,
		         fsb_op_name(m.op));
		rc = -EPROTO;
		goto out_msg;
	}
	if (m.status != FSB_OK) {
		rc = hello_error(&m, addr, export_path, err, errlen);
		goto out_msg;
	}
	rc = hello_check(&m.u.hello_rep, addr, err, errlen);
	if (rc < 0)
		goto out_msg;
	if ((m.u.hello_rep.caps & FSB_CAP_NO_CSUM) && !(caps & FSB_CAP_NO_CSUM)) {
		snprintf(err, errlen, "server %s turned checksums off without being asked", addr);
		rc = -EPROTO;
		goto out_msg;
	}

	out->version = m.u.hello_rep.version;
	out->caps = m.u.hello_rep.caps;
	out->max_frame = m.u.hello_rep.max_frame;
	out->max_io = m.u.hello_rep.max_io < FSB_MAX_IO ? m.u.hello_rep.max_io : FSB_MAX_IO;
	out->root = m.u.hello_rep.root;
	out->fs = m.u.hello_rep.fs;
	snprintf(out->name, sizeof(out->name), "%.*s", (int)m.u.hello_rep.server.len,
	         m.u.hello_rep.server.ptr ? m.u.hello_rep.server.ptr : "");
	set_timeouts(fd, 0);
	fsb_msg_release(&m);
	free(buf);
	fsb_wbuf_release(&wb);
	return fd;

out_msg:
	fsb_msg_release(&m);
out_buf:
	free(buf);
out_wb:
	fsb_wbuf_release(&wb);
	if (on_fd)
		on_fd(arg, -1);
	close(fd);
	return rc;
}
