/*
 * harness.c - in-process winside for tests; see harness.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fsb_net.h"
#include "harness.h"
#include "ws_log.h"
#include "ws_posix.h"
#include "ws_server.h"

static struct th_reply last;

void th_reply_free(struct th_reply *rep)
{
	if (rep->have)
		fsb_msg_release(&rep->m);
	free(rep->buf);
	memset(rep, 0, sizeof(*rep));
}

static void set_timeout(int fd)
{
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int th_connect(struct th *t)
{
	struct ws_stream *st;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	st = ws_posix_stream_new(sv[1], "socketpair");
	assert_non_null(st);
	assert_int_equal(ws_server_add(t->srv, st), 0);
	set_timeout(sv[0]);
	return sv[0];
}

int th_send_raw(int fd, const void *buf, size_t len)
{
	return fsb_net_write_all(fd, buf, len) ? -1 : 0;
}

int th_send(struct th *t, int fd, struct fsb_msg *m)
{
	struct fsb_wbuf wb;
	int rc;

	if (!m->id)
		m->id = ++t->next_id;
	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode(&wb, m);
	if (rc) {
		fsb_wbuf_release(&wb);
		fail_msg("cannot encode %s: %s", fsb_op_name(m->op), fsb_strerror(rc));
	}
	rc = th_send_raw(fd, wb.data, wb.len);
	fsb_wbuf_release(&wb);
	return rc;
}

int th_recv(int fd, struct th_reply *rep)
{
	size_t cap = 0;
	uint32_t len;
	int rc, ferr;

	th_reply_free(rep);
	rc = fsb_net_read_frame(fd, &rep->buf, &cap, &len, &ferr);
	if (rc)
		return rc;
	rc = fsb_msg_decode(rep->buf, len, &rep->m);
	if (rc)
		fail_msg("the server sent a frame that does not decode: %s", fsb_strerror(rc));
	rep->have = 1;
	return 0;
}

int th_call(struct th *t, int fd, struct fsb_msg *m, struct th_reply *rep)
{
	m->id = 0;
	if (th_send(t, fd, m))
		return -FSB_ECONNRESET;
	if (th_recv(fd, rep))
		return -FSB_ECONNRESET;
	if (!(rep->m.flags & FSB_F_REPLY) || rep->m.id != m->id || rep->m.op != m->op)
		fail_msg("reply to %s #%llu came back as %s #%llu flags %u", fsb_op_name(m->op),
		         (unsigned long long)m->id, fsb_op_name(rep->m.op),
		         (unsigned long long)rep->m.id, rep->m.flags);
	return rep->m.status ? -(int)rep->m.status : 0;
}

const char *th_detail(const struct th_reply *rep)
{
	static char buf[FSB_ERRMSG_MAX + 1];

	buf[0] = '\0';
	if (rep->have && rep->m.status)
		snprintf(buf, sizeof(buf), "%.*s", (int)rep->m.u.error.detail.len,
		         rep->m.u.error.detail.ptr);
	return buf;
}

int th_expect_closed(int fd)
{
	struct th_reply rep = { 0 };
	int rc;

	for (;;) {
		rc = th_recv(fd, &rep);
		if (rc == 1 || rc == -ECONNRESET || rc == -EPIPE) {
			th_reply_free(&rep);
			return 1;
		}
		if (rc) {
			th_reply_free(&rep);
			return 0;       /* timeout or garbage */
		}
		if (rep.m.status == 0) {
			th_reply_free(&rep);
			return 0;
		}
	}
}

int th_hello(struct th *t, int fd, const char *token, const char *export_path, uint32_t version,
             struct th_reply *rep)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_HELLO;
	m.u.hello_req.version = version;
	m.u.hello_req.caps = FSB_CAP_RENAME_NOREPLACE | FSB_CAP_RENAME_EXCHANGE |
	                     FSB_CAP_SYMLINKS | FSB_CAP_HARDLINKS;
	m.u.hello_req.token = th_s(token);
	m.u.hello_req.export_path = th_s(export_path);
	return th_call(t, fd, &m, rep);
}

void th_start(struct th *t, int readonly, unsigned max_handles)
{
	struct ws_export ex;
	struct ws_server_opts o;
	struct ws_backend *be;
	char err[256];
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	ws_log_set_level(getenv("WS_TEST_VERBOSE") ? WS_LOG_DEBUG : WS_LOG_ERROR);
	snprintf(t->base, sizeof(t->base), "/tmp/ws-test-XXXXXX");
	assert_non_null(mkdtemp(t->base));
	snprintf(t->export_dir, sizeof(t->export_dir), "%s/export", t->base);
	snprintf(t->outside, sizeof(t->outside), "%s/outside", t->base);
	assert_int_equal(mkdir(t->export_dir, 0755), 0);
	assert_int_equal(mkdir(t->outside, 0755), 0);

	rc = ws_posix_backend_new(t->export_dir, &be, err, sizeof(err));
	if (rc)
		fail_msg("backend for %s: %s", t->export_dir, err);
	memset(&ex, 0, sizeof(ex));
	ex.path = t->export_dir;
	ex.canonical = t->export_dir;
	ex.be = be;
	memset(&o, 0, sizeof(o));
	o.exports = &ex;
	o.nexports = 1;
	o.token = TH_TOKEN;
	o.workers = 4;
	o.max_handles = max_handles;
	o.readonly = readonly;
	o.version = "test";
	rc = ws_server_new(&o, &t->srv, err, sizeof(err));
	if (rc)
		fail_msg("ws_server_new: %s", err);

	t->fd = th_connect(t);
	rc = th_hello(t, t->fd, TH_TOKEN, t->export_dir, FSB_PROTO_VERSION, &last);
	if (rc)
		fail_msg("HELLO: %s: %s", fsb_strerror(rc), th_detail(&last));
	t->root = last.m.u.hello_rep.root.node;
	t->caps = last.m.u.hello_rep.caps;
	th_reply_free(&last);
}

static void rm_rf(const char *path)
{
	char cmd[200];

	if (!path[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", path);
}

void th_stop(struct th *t)
{
	th_reply_free(&last);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	ws_server_free(t->srv);
	t->srv = NULL;
	rm_rf(t->base);
}

size_t th_raw_lookup(uint8_t *buf, size_t cap, uint64_t id, uint64_t parent, const char *name,
                     size_t namelen)
{
	size_t len = FSB_HDR_SIZE + 8 + 4 + namelen, i;
	uint64_t csum;

	assert_true(len <= cap);
	memset(buf, 0, FSB_HDR_SIZE);
	for (i = 0; i < 4; i++) {
		buf[i] = (uint8_t)(len >> (8 * i));
		buf[4 + i] = (uint8_t)(FSB_MAGIC >> (8 * i));
		buf[40 + i] = (uint8_t)(namelen >> (8 * i));
	}
	buf[16] = FSB_OP_LOOKUP;
	for (i = 0; i < 8; i++) {
		buf[24 + i] = (uint8_t)(id >> (8 * i));
		buf[32 + i] = (uint8_t)(parent >> (8 * i));
	}
	memcpy(buf + 44, name, namelen);
	csum = XXH3_64bits(buf + 16, len - 16);
	for (i = 0; i < 8; i++)
		buf[8 + i] = (uint8_t)(csum >> (8 * i));
	return len;
}

/* ---- convenience ---------------------------------------------------------- */

struct fsb_str th_s(const char *s)
{
	struct fsb_str r = { s, (uint32_t)strlen(s) };

	return r;
}

struct th_reply *th_last(void)
{
	return &last;
}

int th_lookup(struct th *t, uint64_t parent, const char *name, struct fsb_entry *e)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.u.name.parent = parent;
	m.u.name.name = th_s(name);
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && e)
		*e = last.m.u.entry;
	return rc;
}

int th_forget(struct th *t, uint64_t node, uint64_t n)
{
	struct fsb_forget_item it = { node, n };
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_FORGET;
	m.u.forget.count = 1;
	m.u.forget.items = &it;
	return th_send(t, t->fd, &m);
}

int th_open(struct th *t, uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_OPEN;
	m.u.open.node = node;
	m.u.open.flags = flags;
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && fh)
		*fh = last.m.u.open_rep.fh;
	return rc;
}

int th_release(struct th *t, uint64_t fh)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RELEASE;
	m.u.fh.fh = fh;
	return th_call(t, t->fd, &m, &last);
}

int th_getattr(struct th *t, uint64_t node, struct fsb_attr *a)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_GETATTR;
	m.u.node.node = node;
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && a)
		*a = last.m.u.attr;
	return rc;
}

int th_create_op(struct th *t, uint16_t op, uint64_t parent, const char *name, uint32_t flags,
                 uint32_t mode, struct fsb_entry_rep *er)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.u.create.parent = parent;
	m.u.create.name = th_s(name);
	m.u.create.flags = flags;
	m.u.create.mode = mode;
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && er)
		*er = last.m.u.entry_rep;
	return rc;
}

int th_name_op(struct th *t, uint16_t op, uint64_t parent, const char *name)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.u.name.parent = parent;
	m.u.name.name = th_s(name);
	return th_call(t, t->fd, &m, &last);
}

int th_rename(struct th *t, uint64_t od, const char *on, uint64_t nd, const char *nn)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RENAME;
	m.u.rename.olddir = od;
	m.u.rename.oldname = th_s(on);
	m.u.rename.newdir = nd;
	m.u.rename.newname = th_s(nn);
	return th_call(t, t->fd, &m, &last);
}

int th_symlink(struct th *t, uint64_t parent, const char *name, const char *target,
               struct fsb_entry_rep *er)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_SYMLINK;
	m.u.symlink.parent = parent;
	m.u.symlink.name = th_s(name);
	m.u.symlink.target = th_s(target);
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && er)
		*er = last.m.u.entry_rep;
	return rc;
}

int th_link(struct th *t, uint64_t node, uint64_t newparent, const char *newname,
            struct fsb_entry_rep *er)
{
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LINK;
	m.u.link.node = node;
	m.u.link.newparent = newparent;
	m.u.link.newname = th_s(newname);
	rc = th_call(t, t->fd, &m, &last);
	if (!rc && er)
		*er = last.m.u.entry_rep;
	return rc;
}

int th_count_entries(const char *path)
{
	struct dirent *d;
	DIR *dp = opendir(path);
	int n = 0;

	if (!dp)
		return -1;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

int th_count_fds(void)
{
	return th_count_entries("/proc/self/fd") - 1;   /* the DIR's own fd */
}

int th_wait_sessions(struct th *t, unsigned n)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (ws_server_sessions(t->srv) <= n) {
			ws_server_reap(t->srv);
			return 0;
		}
		usleep(10000);
	}
	return -1;
}

int th_setup_with(void **state, int readonly, unsigned max_handles)
{
	struct th *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	th_start(t, readonly, max_handles);
	*state = t;
	return 0;
}

int th_teardown(void **state)
{
	struct th *t = *state;

	th_stop(t);
	free(t);
	return 0;
}

int th_ping(struct th *t, int fd, uint64_t nonce)
{
	struct fsb_msg m;
	struct th_reply rep = { 0 };
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.u.ping.nonce = nonce;
	rc = th_call(t, fd, &m, &rep);
	if (!rc && rep.m.u.ping.nonce != nonce)
		fail_msg("PING echoed %llu, want %llu", (unsigned long long)rep.m.u.ping.nonce,
		         (unsigned long long)nonce);
	th_reply_free(&rep);
	return rc;
}

int th_readdir(struct th *t, uint64_t node, uint64_t fh, uint64_t cookie, uint32_t max)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_READDIRPLUS;
	m.u.readdir.node = node;
	m.u.readdir.fh = fh;
	m.u.readdir.cookie = cookie;
	m.u.readdir.max_bytes = max;
	return th_call(t, t->fd, &m, th_last());
}

void th_expect_rc(const char *what, int rc, int want)
{
	if (rc == want)
		return;
	fail_msg("%s: got %d (%s) \"%s\", want %d (%s)", what, rc, rc ? fsb_strerror(rc) : "OK",
	         th_detail(th_last()), want, want ? fsb_strerror(want) : "OK");
}
