/*
 * client.c - blocking multiplexing client: callers wait on condition
 * variables, one reader thread routes replies to them by request id.
 *
 * Locks: `lock` guards the pending table, next_id and the dead flag;
 * `wlock` keeps frames whole on the socket. They are never held together,
 * so a caller blocked in a slow write cannot stall reply delivery.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "net_internal.h"
#include "fsb_client.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define NBUCKETS 64u
#define HELLO_ID 1u

struct fsb_reply {
	uint8_t *frame;
	struct fsb_msg msg;
};

/*
 * Lives on the calling thread's stack for the duration of one call. A call
 * that times out leaves a heap-allocated tombstone (abandoned = 1, no cond)
 * in its place: the request is still outstanding on the wire, so its late
 * reply is expected and dropped, while a reply to an id that is not
 * outstanding at all is a protocol violation (PROTOCOL.md section 9).
 */
struct pending {
	uint64_t id;
	uint16_t op;
	int done;                   /* reply stored, or connection gone */
	int abandoned;
	struct fsb_reply *rep;
	pthread_cond_t cond;
	struct pending *next;
};

struct fsb_client {
	int fd;
	unsigned timeout_ms;
	fsb_client_event_fn on_event;
	void *event_arg;
	struct fsb_client_info info;
	char *server;

	pthread_mutex_t lock;
	pthread_mutex_t wlock;
	pthread_condattr_t condattr;
	struct pending *buckets[NBUCKETS];
	uint64_t next_id;
	int dead;
	char errmsg[512];

	pthread_t reader;
	int reader_started;
};


const struct fsb_msg *fsb_reply_msg(const struct fsb_reply *rep)
{
	return &rep->msg;
}

void fsb_reply_free(struct fsb_reply *rep)
{
	if (!rep)
		return;
	fsb_msg_release(&rep->msg);
	free(rep->frame);
	free(rep);
}

/* ---- pending table (caller holds c->lock) ------------------------------ */

static struct pending **bucket(struct fsb_client *c, uint64_t id)
{
	return &c->buckets[id % NBUCKETS];
}

static struct pending *pending_find(struct fsb_client *c, uint64_t id)
{
	struct pending *p;

	for (p = *bucket(c, id); p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void pending_remove(struct fsb_client *c, struct pending *p)
{
	struct pending **pp;

	for (pp = bucket(c, p->id); *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

/*
 * Mark the connection dead and wake every waiter; the first reason wins.
 * shutdown() rather than close(): the reader may be inside read() on this
 * fd, and the number must stay ours until fsb_client_close() has joined it.
 */
__attribute__((format(printf, 2, 3)))
static void client_kill(struct fsb_client *c, const char *fmt, ...)
{
	struct pending *p, *next;
	va_list ap;
	unsigned i;

	pthread_mutex_lock(&c->lock);
	if (!c->dead) {
		va_start(ap, fmt);
		vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
		va_end(ap);
		c->dead = 1;
	}
	for (i = 0; i < NBUCKETS; i++) {
		for (p = c->buckets[i]; p; p = next) {
			next = p->next;
			p->next = NULL;
			if (p->abandoned) {
				free(p);
				continue;
			}
			p->done = 1;
			pthread_cond_signal(&p->cond);
		}
		c->buckets[i] = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	shutdown(c->fd, SHUT_RDWR);
}

/* ---- reader thread ------------------------------------------------------ */

static void *reader_main(void *arg)
{
	struct fsb_client *c = arg;
	struct fsb_reply *rep;
	struct fsb_msg msg;
	struct pending *p;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint32_t len;
	int rc, ferr;

	for (;;) {
		rc = fsb_net_read_frame(c->fd, &buf, &cap, &len, &ferr);
		if (rc == 1) {
			client_kill(c, "the server closed the connection");
			break;
		}
		if (rc == -EBADMSG) {
			client_kill(c, "the server sent a corrupt frame (%s); connection closed", fsb_strerror(ferr));
			break;
		}
		if (rc < 0) {
			client_kill(c, "reading from the server failed: %s", strerror(-rc));
			break;
		}
		rc = fsb_msg_decode(buf, len, &msg);
		if (rc) {
			client_kill(c, "the server sent an undecodable %s frame (%s); connection closed",
			            fsb_op_name((unsigned)buf[16] | (unsigned)buf[17] << 8), fsb_strerror(rc));
			break;
		}
		if (msg.flags & FSB_F_PUSH) {
			if (c->on_event)
				c->on_event(c->event_arg, &msg);
			fsb_msg_release(&msg);
			continue;
		}
		if (!(msg.flags & FSB_F_REPLY)) {
			client_kill(c, "the server sent a %s request, which servers never do; connection closed",
			            fsb_op_name(msg.op));
			fsb_msg_release(&msg);
			break;
		}

		pthread_mutex_lock(&c->lock);
		p = pending_find(c, msg.id);
		if (!p) {
			pthread_mutex_unlock(&c->lock);
			fsb_msg_release(&msg);
			client_kill(c, "the server replied to request id %llu, which is not outstanding; connection closed",
			            (unsigned long long)msg.id);
			break;
		}
		if (p->op != msg.op) {
			uint16_t want = p->op;

			pthread_mutex_unlock(&c->lock);
			fsb_msg_release(&msg);
			client_kill(c, "the server answered %s request %llu with a %s reply; connection closed",
			            fsb_op_name(want), (unsigned long long)msg.id, fsb_op_name(msg.op));
			break;
		}
		if (p->abandoned) {
			pending_remove(c, p);
			pthread_mutex_unlock(&c->lock);
			free(p);
			fsb_msg_release(&msg);
			continue;
		}
		rep = malloc(sizeof(*rep));
		if (!rep) {
			pthread_mutex_unlock(&c->lock);
			fsb_msg_release(&msg);
			client_kill(c, "out of memory for a reply; connection closed");
			break;
		}
		/* The reply keeps the frame its strings point into; the next
		 * frame gets a fresh buffer. */
		rep->frame = buf;
		rep->msg = msg;
		buf = NULL;
		cap = 0;
		pending_remove(c, p);
		p->rep = rep;
		p->done = 1;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&c->lock);
	}
	free(buf);
	return NULL;
}

/* ---- calls -------------------------------------------------------------- */

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Encode and write one frame. A failed or partial write leaves the stream
 * unframed, so the connection is killed rather than reused. */
static int send_frame(struct fsb_client *c, const struct fsb_msg *m)
{
	struct fsb_wbuf wb;
	int rc;

	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode(&wb, m);
	if (rc) {
		fsb_wbuf_release(&wb);
		return rc;
	}
	pthread_mutex_lock(&c->wlock);
	rc = fsb_net_write_all(c->fd, wb.data, wb.len);
	pthread_mutex_unlock(&c->wlock);
	fsb_wbuf_release(&wb);
	if (rc == -EAGAIN) {
		client_kill(c, "writing a %s request timed out after %u ms; connection closed",
		            fsb_op_name(m->op), c->timeout_ms);
		return -FSB_ETIMEDOUT;
	}
	if (rc) {
		client_kill(c, "writing a %s request failed: %s", fsb_op_name(m->op), strerror(-rc));
		return -FSB_ECONNRESET;
	}
	return 0;
}

int fsb_client_call(struct fsb_client *c, struct fsb_msg *req, struct fsb_reply **rep)
{
	struct pending p, *tomb;
	struct timespec deadline;
	int rc, waited;

	*rep = NULL;
	/* HELLO belongs to fsb_client_connect; a second one is a protocol
	 * violation the server answers by closing. */
	if (req->op == FSB_OP_HELLO || req->op == FSB_OP_EVENT)
		return -FSB_EINVAL;
	req->flags &= FSB_F_CRED;     /* a request, with its caller if it says so */
	req->status = 0;

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		return -FSB_ECONNRESET;
	}
	req->id = c->next_id++;
	if (req->op == FSB_OP_FORGET) {
		pthread_mutex_unlock(&c->lock);
		return send_frame(c, req);
	}
	memset(&p, 0, sizeof(p));
	p.id = req->id;
	p.op = req->op;
	pthread_cond_init(&p.cond, &c->condattr);
	/* Registered before the write: the reply may beat us back. */
	p.next = *bucket(c, p.id);
	*bucket(c, p.id) = &p;
	pthread_mutex_unlock(&c->lock);

	rc = send_frame(c, req);

	pthread_mutex_lock(&c->lock);
	if (rc) {
		if (!p.done)
			pending_remove(c, &p);
		fsb_reply_free(p.rep);
		p.rep = NULL;
		goto out_unlock;
	}
	deadline_after(&deadline, c->timeout_ms);
	while (!p.done) {
		waited = pthread_cond_timedwait(&p.cond, &c->lock, &deadline);
		if (waited == ETIMEDOUT && !p.done) {
			pending_remove(c, &p);
			tomb = calloc(1, sizeof(*tomb));
			/* Without a tombstone the late reply ends the connection,
			 * which is still correct, only less forgiving. */
			if (tomb) {
				tomb->id = p.id;
				tomb->op = p.op;
				tomb->abandoned = 1;
				tomb->next = *bucket(c, tomb->id);
				*bucket(c, tomb->id) = tomb;
			}
			rc = -FSB_ETIMEDOUT;
			goto out_unlock;
		}
	}
	if (!p.rep) {
		rc = -FSB_ECONNRESET;
		goto out_unlock;
	}
	*rep = p.rep;
	rc = p.rep->msg.status ? -(int)p.rep->msg.status : 0;

out_unlock:
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&p.cond);
	return rc;
}

const char *fsb_client_error(struct fsb_client *c)
{
	const char *s;

	/* errmsg is written once, before dead is set, and never again. */
	pthread_mutex_lock(&c->lock);
	s = c->dead ? c->errmsg : "";
	pthread_mutex_unlock(&c->lock);
	return s;
}

int fsb_client_dead(struct fsb_client *c)
{
	int d;

	pthread_mutex_lock(&c->lock);
	d = c->dead;
	pthread_mutex_unlock(&c->lock);
	return d;
}

const struct fsb_client_info *fsb_client_info(const struct fsb_client *c)
{
	return &c->info;
}

/* ---- setup and teardown ------------------------------------------------- */

static void set_timeo(int fd, int opt, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static int str_of(const char *s, struct fsb_str *out)
{
	size_t n = strlen(s);

	if (n > UINT32_MAX)
		return -1;
	out->ptr = s;
	out->len = (uint32_t)n;
	return 0;
}

/* Send HELLO and read its reply before the reader thread exists, so that
 * refusals come back to the caller as a plain return value. */
static int hello(struct fsb_client *c, const struct fsb_client_opts *o, char *err, size_t errlen)
{
	struct fsb_msg m;
	struct fsb_hello_rep *h;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint32_t len;
	int rc, ferr;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_HELLO;
	m.id = HELLO_ID;
	m.u.hello_req.version = FSB_PROTO_VERSION;
	m.u.hello_req.caps = o->caps;
	if (str_of(o->token, &m.u.hello_req.token) || str_of(o->export_path, &m.u.hello_req.export_path))
		return fsb__net_fail(-FSB_EINVAL, err, errlen, "HELLO: token or export path too long");
	rc = send_frame(c, &m);
	if (rc == -FSB_ETIMEDOUT || rc == -FSB_ECONNRESET)
		return fsb__net_fail(rc, err, errlen, "HELLO: %s", c->errmsg);
	if (rc)
		return fsb__net_fail(rc, err, errlen, "HELLO: cannot encode the request: %s", fsb_strerror(rc));

	for (;;) {
		rc = fsb_net_read_frame(c->fd, &buf, &cap, &len, &ferr);
		if (rc == -EAGAIN) {
			rc = fsb__net_fail(-FSB_ETIMEDOUT, err, errlen, "HELLO: no reply from the server within %u ms", c->timeout_ms);
			goto out_free;
		}
		if (rc == 1 || rc == -ECONNRESET) {
			rc = fsb__net_fail(-FSB_ECONNRESET, err, errlen, "HELLO: the server closed the connection without replying");
			goto out_free;
		}
		if (rc == -EBADMSG) {
			rc = fsb__net_fail(-FSB_EPROTO, err, errlen, "HELLO: the server sent a corrupt frame (%s)", fsb_strerror(ferr));
			goto out_free;
		}
		if (rc < 0) {
			rc = fsb__net_fail(rc, err, errlen, "HELLO: reading the reply failed: %s", strerror(-rc));
			goto out_free;
		}
		rc = fsb_msg_decode(buf, len, &m);
		if (rc) {
			rc = fsb__net_fail(-FSB_EPROTO, err, errlen, "HELLO: the server's reply does not decode (%s)", fsb_strerror(rc));
			goto out_free;
		}
		if (!(m.flags & FSB_F_PUSH))
			break;
		fsb_msg_release(&m);
	}
	if (m.op != FSB_OP_HELLO || !(m.flags & FSB_F_REPLY) || m.id != HELLO_ID) {
		rc = fsb__net_fail(-FSB_EPROTO, err, errlen, "HELLO: the server answered with a %s frame (id %llu)",
		          fsb_op_name(m.op), (unsigned long long)m.id);
		goto out_release;
	}
	if (m.status) {
		if (m.u.error.detail.len)
			fsb__net_fail(-(int)m.status, err, errlen, "server refused HELLO: %.*s (%s)",
			     (int)m.u.error.detail.len, m.u.error.detail.ptr, fsb_strerror((int)m.status));
		else
			fsb__net_fail(-(int)m.status, err, errlen, "server refused HELLO: %s", fsb_strerror((int)m.status));
		rc = -(int)m.status;
		goto out_release;
	}
	h = &m.u.hello_rep;
	if (h->version != FSB_PROTO_VERSION) {
		rc = fsb__net_fail(-FSB_EVERSION, err, errlen, "HELLO: the server chose protocol version %u; this client speaks %u",
		          (unsigned)h->version, FSB_PROTO_VERSION);
		goto out_release;
	}
	c->server = malloc((size_t)h->server.len + 1);
	if (!c->server) {
		rc = fsb__net_fail(-FSB_ENOMEM, err, errlen, "HELLO: out of memory");
		goto out_release;
	}
	memcpy(c->server, h->server.ptr, h->server.len);
	c->server[h->server.len] = '\0';
	c->info.version = h->version;
	c->info.caps = h->caps;
	c->info.max_frame = h->max_frame;
	c->info.max_io = h->max_io;
	c->info.root = h->root;
	c->info.fs = h->fs;
	c->info.server = c->server;
	rc = 0;

out_release:
	fsb_msg_release(&m);
out_free:
	free(buf);
	return rc;
}

int fsb_client_connect_fd(int fd, const struct fsb_client_opts *opts,
                          struct fsb_client **out, char *err, size_t errlen)
{
	struct fsb_client *c;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!opts || !opts->token || !opts->export_path) {
		close(fd);
		return fsb__net_fail(-FSB_EINVAL, err, errlen, "fsb_client_connect: a token and an export path are required");
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return fsb__net_fail(-FSB_ENOMEM, err, errlen, "fsb_client_connect: out of memory");
	}
	c->fd = fd;
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->on_event = opts->on_event;
	c->event_arg = opts->event_arg;
	c->next_id = HELLO_ID + 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_condattr_init(&c->condattr);
	/* Waits measure elapsed time; wall-clock jumps must not shorten or
	 * stretch them. */
	pthread_condattr_setclock(&c->condattr, CLOCK_MONOTONIC);

	/* A stuck server must not block a writer forever either; the reader
	 * waits without limit once HELLO is done (idle is legitimate). */
	set_timeo(fd, SO_SNDTIMEO, c->timeout_ms);
	set_timeo(fd, SO_RCVTIMEO, c->timeout_ms);
	rc = hello(c, opts, err, errlen);
	if (rc)
		goto out_free;
	set_timeo(fd, SO_RCVTIMEO, 0);

	rc = pthread_create(&c->reader, NULL, reader_main, c);
	if (rc) {
		rc = fsb__net_fail(-FSB_ENOMEM, err, errlen, "fsb_client_connect: cannot start the reader thread: %s", strerror(rc));
		goto out_free;
	}
	c->reader_started = 1;
	*out = c;
	return 0;

out_free:
	fsb_client_close(c);
	return rc;
}

int fsb_client_connect(const char *addr, const struct fsb_client_opts *opts,
                       struct fsb_client **out, char *err, size_t errlen)
{
	struct fsb_addr a;
	int fd, rc;

	*out = NULL;
	rc = fsb_addr_parse(addr, &a, err, errlen);
	if (rc)
		return rc;
	fd = fsb_net_connect(&a, err, errlen);
	if (fd < 0)
		return fd;
	return fsb_client_connect_fd(fd, opts, out, err, errlen);
}

void fsb_client_close(struct fsb_client *c)
{
	if (!c)
		return;
	if (c->reader_started) {
		client_kill(c, "the client closed the connection");
		pthread_join(c->reader, NULL);
	}
	close(c->fd);
	pthread_condattr_destroy(&c->condattr);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->lock);
	free(c->server);
	free(c);
}
