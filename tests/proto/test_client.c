/*
 * test_client.c - the blocking client against a scripted in-process server
 * on a socketpair: reply routing, error replies, pushes, timeouts, and
 * that a dropped or corrupted connection wakes every waiting caller.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "fsb_client.h"

#define TOKEN "tok-123"
#define EXPORT "/srv/export"

/* The scripted peer: what it does after answering HELLO. */
enum script {
	S_ECHO,             /* answer PINGs, LOOKUP "missing" gets ENOENT */
	S_REVERSE,          /* collect N requests, answer them last-first */
	S_DROP_AFTER,       /* read N requests, then close */
	S_CORRUPT_AFTER,    /* read N requests, then send a bad-checksum frame */
	S_SILENT_ONCE,      /* ignore the first request, answer the rest */
	S_PUSH,             /* send an EVENT push, then echo */
	S_REFUSE,           /* answer HELLO with EAUTH */
	S_WRONG_OP,         /* answer a PING with a GETATTR reply */
	S_LATE_ONCE,        /* answer the first request 500 ms late */
	S_BOGUS_ID,         /* answer with an id that was never sent */
};

struct peer {
	int fd;
	enum script script;
	int n;
	pthread_t thread;
	struct fsb_client *c;
	atomic_int events;
	uint64_t seen_forget;
	char hello_token[64];
	char hello_export[64];
};

static int send_msg(int fd, const struct fsb_msg *m)
{
	struct fsb_wbuf wb;
	int rc;

	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode(&wb, m);
	if (!rc)
		rc = fsb_net_write_all(fd, wb.data, wb.len);
	fsb_wbuf_release(&wb);
	return rc;
}

/* Reads one request; returns 0, or nonzero at EOF/error. Strings borrow
 * from *buf. */
static int recv_msg(int fd, uint8_t **buf, size_t *cap, struct fsb_msg *m)
{
	uint32_t len;
	int ferr, rc;

	rc = fsb_net_read_frame(fd, buf, cap, &len, &ferr);
	if (rc)
		return rc;
	return fsb_msg_decode(*buf, len, m);
}

static void reply_to(int fd, const struct fsb_msg *req)
{
	struct fsb_msg r;

	memset(&r, 0, sizeof(r));
	r.op = req->op;
	r.flags = FSB_F_REPLY;
	r.id = req->id;
	if (req->op == FSB_OP_PING) {
		r.u.ping.nonce = req->u.ping.nonce;
	} else if (req->op == FSB_OP_LOOKUP) {
		r.status = FSB_ENOENT;
		r.u.error.detail.ptr = "no such name";
		r.u.error.detail.len = 12;
	} else {
		r.status = FSB_ENOSYS;
	}
	send_msg(fd, &r);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct fsb_msg m, r, held[64];
	uint8_t *buf = NULL, *hbuf[64];
	size_t cap = 0, hcap[64];
	int i, first = 1;

	if (recv_msg(p->fd, &buf, &cap, &m))
		goto out;
	snprintf(p->hello_token, sizeof(p->hello_token), "%.*s",
	         (int)m.u.hello_req.token.len, m.u.hello_req.token.ptr);
	snprintf(p->hello_export, sizeof(p->hello_export), "%.*s",
	         (int)m.u.hello_req.export_path.len, m.u.hello_req.export_path.ptr);
	memset(&r, 0, sizeof(r));
	r.op = FSB_OP_HELLO;
	r.flags = FSB_F_REPLY;
	r.id = m.id;
	fsb_msg_release(&m);
	if (p->script == S_REFUSE) {
		r.status = FSB_EAUTH;
		r.u.error.detail.ptr = "bad token";
		r.u.error.detail.len = 9;
		send_msg(p->fd, &r);
		goto out;
	}
	r.u.hello_rep.version = FSB_PROTO_VERSION;
	r.u.hello_rep.caps = FSB_CAP_SYMLINKS;
	r.u.hello_rep.max_frame = FSB_MAX_FRAME;
	r.u.hello_rep.max_io = FSB_MAX_IO;
	r.u.hello_rep.root.node = 1;
	r.u.hello_rep.root.attr.mode = FSB_S_IFDIR | 0755;
	r.u.hello_rep.fs.bsize = 4096;
	r.u.hello_rep.server.ptr = "fake 1.0";
	r.u.hello_rep.server.len = 8;
	send_msg(p->fd, &r);

	if (p->script == S_REVERSE || p->script == S_DROP_AFTER || p->script == S_CORRUPT_AFTER) {
		for (i = 0; i < p->n; i++) {
			hbuf[i] = NULL;
			hcap[i] = 0;
			if (recv_msg(p->fd, &hbuf[i], &hcap[i], &held[i]))
				goto out;
		}
		if (p->script == S_REVERSE)
			for (i = p->n - 1; i >= 0; i--)
				reply_to(p->fd, &held[i]);
		if (p->script == S_CORRUPT_AFTER) {
			struct fsb_wbuf wb;

			memset(&r, 0, sizeof(r));
			r.op = FSB_OP_PING;
			r.flags = FSB_F_REPLY;
			r.id = held[0].id;
			fsb_wbuf_init(&wb);
			if (fsb_msg_encode(&wb, &r) == 0) {
				wb.data[wb.len - 1] ^= 0x5a;
				fsb_net_write_all(p->fd, wb.data, wb.len);
			}
			fsb_wbuf_release(&wb);
		}
		for (i = 0; i < p->n; i++) {
			fsb_msg_release(&held[i]);
			free(hbuf[i]);
		}
		if (p->script != S_REVERSE)
			goto out;
	}
	if (p->script == S_PUSH) {
		struct fsb_event ev;

		memset(&r, 0, sizeof(r));
		memset(&ev, 0, sizeof(ev));
		ev.kind = FSB_EV_CREATED;
		ev.seq = 1;
		ev.path.ptr = "dir/new.txt";
		ev.path.len = 11;
		r.op = FSB_OP_EVENT;
		r.flags = FSB_F_PUSH;
		r.u.events.count = 1;
		r.u.events.events = &ev;
		send_msg(p->fd, &r);
	}
	while (!recv_msg(p->fd, &buf, &cap, &m)) {
		if (m.op == FSB_OP_FORGET) {
			p->seen_forget += m.u.forget.count;
		} else if (p->script == S_SILENT_ONCE && first) {
			first = 0;
		} else if (p->script == S_LATE_ONCE && first) {
			first = 0;
			usleep(500000);
			reply_to(p->fd, &m);
		} else if (p->script == S_BOGUS_ID) {
			m.id += 1000;
			reply_to(p->fd, &m);
		} else if (p->script == S_WRONG_OP) {
			memset(&r, 0, sizeof(r));
			r.op = FSB_OP_GETATTR;
			r.flags = FSB_F_REPLY;
			r.id = m.id;
			send_msg(p->fd, &r);
		} else {
			reply_to(p->fd, &m);
		}
		fsb_msg_release(&m);
	}
out:
	free(buf);
	shutdown(p->fd, SHUT_RDWR);
	return NULL;
}

static void on_event(void *arg, const struct fsb_msg *push)
{
	struct peer *p = arg;

	if (push->op == FSB_OP_EVENT && push->u.events.count == 1 &&
	    push->u.events.events[0].path.len == 11 &&
	    !memcmp(push->u.events.events[0].path.ptr, "dir/new.txt", 11))
		atomic_fetch_add(&p->events, 1);
}

static struct peer *peer_start(enum script s, int n, unsigned timeout_ms, int expect_rc)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct fsb_client_opts o = { .token = TOKEN, .export_path = EXPORT, .caps = FSB_CAP_EVENTS,
	                             .timeout_ms = timeout_ms };
	char err[512];
	int sv[2], rc;

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->fd = sv[1];
	p->script = s;
	p->n = n;
	o.on_event = on_event;
	o.event_arg = p;
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
	rc = fsb_client_connect_fd(sv[0], &o, &p->c, err, sizeof(err));
	if (rc != expect_rc)
		fail_msg("connect returned %d (%s), want %d", rc, err, expect_rc);
	if (rc) {
		assert_null(p->c);
		assert_non_null(strstr(err, "bad token"));
	}
	return p;
}

static void peer_stop(struct peer *p)
{
	fsb_client_close(p->c);
	pthread_join(p->thread, NULL);
	close(p->fd);
	free(p);
}

static int ping(struct fsb_client *c, uint64_t nonce)
{
	struct fsb_msg m = { .op = FSB_OP_PING };
	struct fsb_reply *rep;
	int rc;

	m.u.ping.nonce = nonce;
	rc = fsb_client_call(c, &m, &rep);
	if (rc == 0 && fsb_reply_msg(rep)->u.ping.nonce != nonce)
		rc = -9999;
	fsb_reply_free(rep);
	return rc;
}

static void test_hello_and_call(void **state)
{
	struct peer *p = peer_start(S_ECHO, 0, 0, 0);
	const struct fsb_client_info *info = fsb_client_info(p->c);
	struct fsb_msg m = { .op = FSB_OP_LOOKUP };
	struct fsb_reply *rep;

	assert_string_equal(p->hello_token, TOKEN);
	assert_string_equal(p->hello_export, EXPORT);
	assert_string_equal(info->server, "fake 1.0");
	assert_int_equal(info->root.node, 1);
	assert_int_equal(info->caps, FSB_CAP_SYMLINKS);
	assert_int_equal(info->fs.bsize, 4096);

	assert_int_equal(ping(p->c, 42), 0);

	m.u.name.parent = 1;
	m.u.name.name.ptr = "missing";
	m.u.name.name.len = 7;
	assert_int_equal(fsb_client_call(p->c, &m, &rep), -FSB_ENOENT);
	assert_non_null(rep);
	assert_int_equal(fsb_reply_msg(rep)->u.error.detail.len, 12);
	assert_memory_equal(fsb_reply_msg(rep)->u.error.detail.ptr, "no such name", 12);
	fsb_reply_free(rep);
	assert_string_equal(fsb_client_error(p->c), "");
	peer_stop(p);
	(void)state;
}

static void test_hello_refused(void **state)
{
	struct peer *p = peer_start(S_REFUSE, 0, 0, -FSB_EAUTH);

	pthread_join(p->thread, NULL);
	close(p->fd);
	free(p);
	(void)state;
}

struct caller {
	struct fsb_client *c;
	uint64_t nonce;
	int rc;
};

static void *caller_main(void *arg)
{
	struct caller *k = arg;

	k->rc = ping(k->c, k->nonce);
	return NULL;
}

static void run_callers(struct fsb_client *c, int n, struct caller *k, pthread_t *t)
{
	int i;

	for (i = 0; i < n; i++) {
		k[i].c = c;
		k[i].nonce = 1000 + (uint64_t)i;
		k[i].rc = 1;
		assert_int_equal(pthread_create(&t[i], NULL, caller_main, &k[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void test_out_of_order(void **state)
{
	struct caller k[16];
	pthread_t t[16];
	struct peer *p = peer_start(S_REVERSE, 16, 0, 0);
	int i;

	run_callers(p->c, 16, k, t);
	for (i = 0; i < 16; i++)
		assert_int_equal(k[i].rc, 0);
	assert_int_equal(ping(p->c, 7), 0);
	peer_stop(p);
	(void)state;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_drop_wakes_everyone(void **state)
{
	struct caller k[8];
	pthread_t t[8];
	struct peer *p = peer_start(S_DROP_AFTER, 8, 20000, 0);
	double t0 = now_s();
	int i;

	run_callers(p->c, 8, k, t);
	/* Far below the 20 s call timeout: waking is prompt, not a timeout. */
	assert_true(now_s() - t0 < 5.0);
	for (i = 0; i < 8; i++)
		assert_int_equal(k[i].rc, -FSB_ECONNRESET);
	assert_true(fsb_client_dead(p->c));
	assert_non_null(strstr(fsb_client_error(p->c), "closed the connection"));
	assert_int_equal(ping(p->c, 1), -FSB_ECONNRESET);
	peer_stop(p);
	(void)state;
}

static void test_corrupt_reply(void **state)
{
	struct caller k[4];
	pthread_t t[4];
	struct peer *p = peer_start(S_CORRUPT_AFTER, 4, 20000, 0);
	int i;

	run_callers(p->c, 4, k, t);
	for (i = 0; i < 4; i++)
		assert_int_equal(k[i].rc, -FSB_ECONNRESET);
	if (!strstr(fsb_client_error(p->c), "corrupt frame"))
		fail_msg("error is \"%s\"", fsb_client_error(p->c));
	peer_stop(p);
	(void)state;
}

static void test_wrong_reply_op(void **state)
{
	struct peer *p = peer_start(S_WRONG_OP, 0, 5000, 0);

	assert_int_equal(ping(p->c, 3), -FSB_ECONNRESET);
	if (!strstr(fsb_client_error(p->c), "answered PING request"))
		fail_msg("error is \"%s\"", fsb_client_error(p->c));
	peer_stop(p);
	(void)state;
}

static void test_timeout_then_recover(void **state)
{
	struct peer *p = peer_start(S_SILENT_ONCE, 0, 300, 0);
	double t0 = now_s();

	assert_int_equal(ping(p->c, 5), -FSB_ETIMEDOUT);
	assert_true(now_s() - t0 >= 0.25);
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(ping(p->c, 6), 0);
	assert_int_equal(fsb_client_dead(p->c), 0);
	peer_stop(p);
	(void)state;
}

/* A reply arriving after its caller gave up is expected and dropped; the
 * connection stays usable. */
static void test_late_reply(void **state)
{
	struct peer *p = peer_start(S_LATE_ONCE, 0, 200, 0);

	assert_int_equal(ping(p->c, 5), -FSB_ETIMEDOUT);
	usleep(400000);
	assert_int_equal(ping(p->c, 6), 0);
	assert_int_equal(ping(p->c, 7), 0);
	assert_int_equal(fsb_client_dead(p->c), 0);
	peer_stop(p);
	(void)state;
}

/* A reply to an id that is not outstanding ends the connection. */
static void test_bogus_id(void **state)
{
	struct peer *p = peer_start(S_BOGUS_ID, 0, 5000, 0);
	struct fsb_msg hello = { .op = FSB_OP_HELLO };
	struct fsb_reply *rep;

	assert_int_equal(fsb_client_call(p->c, &hello, &rep), -FSB_EINVAL);
	assert_null(rep);
	assert_int_equal(ping(p->c, 5), -FSB_ECONNRESET);
	if (!strstr(fsb_client_error(p->c), "not outstanding"))
		fail_msg("error is \"%s\"", fsb_client_error(p->c));
	peer_stop(p);
	(void)state;
}

static void test_push_and_forget(void **state)
{
	struct peer *p = peer_start(S_PUSH, 0, 0, 0);
	struct fsb_forget_item items[3] = { { 5, 1 }, { 6, 2 }, { 7, 3 } };
	struct fsb_msg m = { .op = FSB_OP_FORGET };
	struct fsb_reply *rep = (struct fsb_reply *)&m;

	m.u.forget.count = 3;
	m.u.forget.items = items;
	assert_int_equal(fsb_client_call(p->c, &m, &rep), 0);
	assert_null(rep);
	/* The PING reply comes after the push and after FORGET was read. */
	assert_int_equal(ping(p->c, 8), 0);
	assert_int_equal(atomic_load(&p->events), 1);
	assert_int_equal(p->seen_forget, 3);
	peer_stop(p);
	(void)state;
}

static void test_connect_errors(void **state)
{
	struct fsb_client_opts o = { .token = TOKEN, .export_path = EXPORT };
	struct fsb_client *c = (struct fsb_client *)&o;
	char err[512];

	assert_int_equal(fsb_client_connect("bogus", &o, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "no scheme"));
	assert_int_equal(fsb_client_connect("unix:/nonexistent/fsb.sock", &o, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/fsb.sock"));
	o.token = NULL;
	assert_int_equal(fsb_client_connect_fd(dup(0), &o, &c, err, sizeof(err)), -FSB_EINVAL);
	(void)state;
}

static void test_hello_closed(void **state)
{
	struct fsb_client_opts o = { .token = TOKEN, .export_path = EXPORT, .timeout_ms = 2000 };
	struct fsb_client *c;
	char err[512];
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(fsb_client_connect_fd(sv[0], &o, &c, err, sizeof(err)), -FSB_ECONNRESET);
	assert_non_null(strstr(err, "HELLO"));

	/* A peer that never answers: HELLO times out. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	o.timeout_ms = 200;
	assert_int_equal(fsb_client_connect_fd(sv[0], &o, &c, err, sizeof(err)), -FSB_ETIMEDOUT);
	assert_non_null(strstr(err, "no reply"));
	close(sv[1]);
	(void)state;
}

static void put_le32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

/* read_frame judges the 8-byte prefix before waiting for the rest, reports
 * EOF at a frame boundary apart from EOF inside one, and write_all to a
 * vanished peer is an error return, not SIGPIPE. */
static void test_read_frame_verdicts(void **state)
{
	struct fsb_msg m = { .op = FSB_OP_PING, .id = 9 };
	struct fsb_wbuf wb;
	uint8_t pre[8], *buf = NULL;
	size_t cap = 0;
	uint32_t len;
	int sv[2], ferr;

	fsb_wbuf_init(&wb);
	m.u.ping.nonce = 77;
	assert_int_equal(fsb_msg_encode(&wb, &m), 0);

	/* A whole frame, then a clean EOF. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fsb_net_write_all(sv[1], wb.data, wb.len), 0);
	close(sv[1]);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), 0);
	assert_int_equal(len, wb.len);
	assert_memory_equal(buf, wb.data, wb.len);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), 1);
	close(sv[0]);

	/* Half a frame, then EOF. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fsb_net_write_all(sv[1], wb.data, wb.len / 2), 0);
	close(sv[1]);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), -ECONNRESET);
	close(sv[0]);

	/* Garbage magic and an oversized length are refused from the prefix
	 * alone: the writer keeps its end open, so waiting would hang. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fsb_net_write_all(sv[1], "GET / HTTP/1.1\r\n", 16), 0);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), -EBADMSG);
	assert_int_equal(ferr, -FSB_EFRAME_MAGIC);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	put_le32(pre, FSB_MAX_FRAME + 1);
	put_le32(pre + 4, FSB_MAGIC);
	assert_int_equal(fsb_net_write_all(sv[1], pre, 8), 0);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), -EBADMSG);
	assert_int_equal(ferr, -FSB_EFRAME_TOOBIG);
	assert_true(cap < 1024 * 1024);
	close(sv[0]);
	close(sv[1]);

	/* A flipped payload byte fails the checksum. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	wb.data[wb.len - 1] ^= 1;
	assert_int_equal(fsb_net_write_all(sv[1], wb.data, wb.len), 0);
	assert_int_equal(fsb_net_read_frame(sv[0], &buf, &cap, &len, &ferr), -EBADMSG);
	assert_int_equal(ferr, -FSB_EFRAME_CSUM);
	close(sv[1]);

	/* Peer gone: EPIPE, and the process is still alive to see it. */
	assert_int_equal(fsb_net_write_all(sv[0], wb.data, wb.len), -EPIPE);
	close(sv[0]);

	free(buf);
	fsb_wbuf_release(&wb);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_and_call),
		cmocka_unit_test(test_hello_refused),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_drop_wakes_everyone),
		cmocka_unit_test(test_corrupt_reply),
		cmocka_unit_test(test_wrong_reply_op),
		cmocka_unit_test(test_timeout_then_recover),
		cmocka_unit_test(test_late_reply),
		cmocka_unit_test(test_bogus_id),
		cmocka_unit_test(test_push_and_forget),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_hello_closed),
		cmocka_unit_test(test_read_frame_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
