/*
 * resume.c - see resume.h. The thread, the reconnect loop, and the RESUME
 * exchange on the new socket (blocking: nothing else uses that socket
 * until it is attached).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsb_net.h"
#include "fuse_ops.h"
#include "localserver.h"
#include "log.h"
#include "resume.h"

#define BACKOFF_FIRST_MS 250u
#define BACKOFF_CAP_MS 2000u
#define RESUME_TIMEOUT_S 30     /* a whole RESUME frame's answer */

int fb_resume_init(struct fb_resume *r, struct fb_fs *fs, const char *addr,
                   const char *token, const char *export_path, uint64_t caps)
{
	memset(r, 0, sizeof(*r));
	r->fs = fs;
	r->addr = addr;
	r->token = token;
	r->export_path = export_path;
	r->caps = caps;
	r->gen = fs->server.root.gen;
	r->root_ino = fs->server.root.attr.ino;
	r->busy_fd = -1;
	if (pthread_mutex_init(&r->lock, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&r->cond, NULL)) {
		pthread_mutex_destroy(&r->lock);
		return -ENOMEM;
	}
	atomic_init(&r->nodes_resumed, 0);
	atomic_init(&r->nodes_lost, 0);
	atomic_init(&r->handles_reopened, 0);
	atomic_init(&r->handles_lost, 0);
	return 0;
}

void fb_resume_release(struct fb_resume *r)
{
	if (!r->fs)
		return;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	r->fs = NULL;
}

void fb_resume_on_down(void *arg)
{
	struct fb_resume *r = arg;

	fb_events_lost(&r->fs->events);
	pthread_mutex_lock(&r->lock);
	r->down = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void set_busy(void *arg, int fd)
{
	struct fb_resume *r = arg;

	pthread_mutex_lock(&r->lock);
	r->busy_fd = fd;
	if (fd >= 0 && r->stop)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&r->lock);
}

/* Sleep ms unless stopped: 1 when stopping. */
static int nap(struct fb_resume *r, unsigned ms)
{
	struct timespec ts;
	int stop;

	fb_deadline_in(&ts, (uint64_t)ms * 1000000u);
	pthread_mutex_lock(&r->lock);
	while (!r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
		;
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* ---- what the kernel holds, parents first ---------------------------------- */

struct known_node {
	uint64_t id, refs, ino;
	uint32_t type;
	int placed;
};

struct known_dent {
	uint64_t parent, child;
	char name[FSB_NAME_MAX + 1];
};

struct plan {
	struct known_node *nodes;
	size_t nnodes, cap_nodes;
	struct known_dent *dents;
	size_t ndents, cap_dents;
	struct fsb_resume_item *items;
	size_t nitems;
	size_t nhandles;
	int nomem;
};

static void plan_node(void *arg, uint64_t id, uint64_t refs, uint64_t gen,
                      const struct fsb_attr *a)
{
	struct plan *p = arg;

	(void)gen;
	if (id == FUSE_ROOT_ID || fb_is_ghost(id) || refs == 0)
		return;
	if (p->nnodes == p->cap_nodes) {
		size_t cap = p->cap_nodes ? p->cap_nodes * 2 : 256;
		void *v = realloc(p->nodes, cap * sizeof(*p->nodes));
		if (!v) {
			p->nomem = 1;
			return;
		}
		p->nodes = v;
		p->cap_nodes = cap;
	}
	p->nodes[p->nnodes++] = (struct known_node){
		.id = id, .refs = refs, .ino = a->ino, .type = a->mode & FSB_S_IFMT,
	};
}

static void plan_dent(void *arg, uint64_t parent, const char *name, size_t len, uint64_t child)
{
	struct plan *p = arg;
	struct known_dent *d;

	if (len > FSB_NAME_MAX || fb_is_ghost(parent) || fb_is_ghost(child))
		return;
	if (p->ndents == p->cap_dents) {
		size_t cap = p->cap_dents ? p->cap_dents * 2 : 256;
		void *v = realloc(p->dents, cap * sizeof(*p->dents));
		if (!v) {
			p->nomem = 1;
			return;
		}
		p->dents = v;
		p->cap_dents = cap;
	}
	d = &p->dents[p->ndents++];
	d->parent = parent;
	d->child = child;
	memcpy(d->name, name, len);
	d->name[len] = '\0';
}

static int node_cmp(const void *a, const void *b)
{
	const struct known_node *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int dent_cmp(const void *a, const void *b)
{
	const struct known_dent *x = a, *y = b;

	return x->parent < y->parent ? -1 : x->parent > y->parent;
}

static struct known_node *find_node(struct plan *p, uint64_t id)
{
	struct known_node key = { .id = id };

	if (!p->nnodes)
		return NULL;
	return bsearch(&key, p->nodes, p->nnodes, sizeof(*p->nodes), node_cmp);
}

/* The first dent of `parent` in the sorted array, or ndents. */
static size_t first_dent(const struct plan *p, uint64_t parent)
{
	size_t lo = 0, hi = p->ndents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->dents[mid].parent < parent)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Node items in breadth-first order from the root over the names the
 * kernel knows, one name per node, then a handle item for every open
 * handle whose node is among them. Nodes no name reaches (an open file
 * unlinked on the mount) cannot be described and are lost.
 */
static int plan_build(struct plan *p, struct fb_fs *fs)
{
	struct fb_fh_item *fhs = NULL;
	uint64_t *queue;
	size_t qh = 0, qt = 0, nfh, i;

	fb_nodes_each(&fs->nodes, plan_node, p);
	fb_dents_each(&fs->dents, plan_dent, p);
	nfh = fb_fhs_snapshot(&fs->fhs, &fhs);
	if (p->nomem)
		goto out_nomem;
	if (p->nnodes)
		qsort(p->nodes, p->nnodes, sizeof(*p->nodes), node_cmp);
	if (p->ndents)
		qsort(p->dents, p->ndents, sizeof(*p->dents), dent_cmp);
	p->items = calloc(p->nnodes + nfh + 1, sizeof(*p->items));
	queue = malloc((p->nnodes + 1) * sizeof(*queue));
	if (!p->items || !queue) {
		free(queue);
		goto out_nomem;
	}
	queue[qt++] = FUSE_ROOT_ID;
	while (qh < qt) {
		uint64_t parent = queue[qh++];

		for (i = first_dent(p, parent); i < p->ndents && p->dents[i].parent == parent; i++) {
			struct known_dent *d = &p->dents[i];
			struct known_node *k = find_node(p, d->child);
			struct fsb_resume_item *it;

			if (!k || k->placed)
				continue;
			k->placed = 1;
			it = &p->items[p->nitems++];
			it->kind = FSB_RESUME_NODE;
			it->u.node.id = k->id;
			it->u.node.parent = parent;
			it->u.node.nlookup = k->refs;
			it->u.node.ino = k->ino;
			it->u.node.type = k->type;
			it->u.node.name.ptr = d->name;
			it->u.node.name.len = (uint32_t)strlen(d->name);
			if (k->type == FSB_S_IFDIR)
				queue[qt++] = k->id;
		}
	}
	free(queue);
	for (i = 0; i < nfh; i++) {
		struct known_node *k = find_node(p, fhs[i].node);
		struct fsb_resume_item *it;

		if (fhs[i].node != FUSE_ROOT_ID && (!k || !k->placed))
			continue;   /* counted as lost by the caller */
		it = &p->items[p->nitems++];
		it->kind = FSB_RESUME_HANDLE;
		it->u.handle.fh = fhs[i].fh;
		it->u.handle.node = fhs[i].node;
		it->u.handle.flags = fhs[i].flags;
		p->nhandles++;
	}
	free(fhs);
	return (int)nfh;

out_nomem:
	free(fhs);
	return -ENOMEM;
}

static void plan_release(struct plan *p)
{
	free(p->nodes);
	free(p->dents);
	free(p->items);
}

/* ---- the exchange ------------------------------------------------------------ */

/* Answer a PING from the server while we wait; other pushes are dropped:
 * the rescan after the attach covers what they said. */
static int answer_ping(int fd, const struct fsb_msg *req, enum fsb_csum csum)
{
	struct fsb_wbuf wb;
	struct fsb_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.flags = FSB_F_REPLY;
	m.id = req->id;
	m.u.ping.nonce = req->u.ping.nonce;
	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode_mode(&wb, &m, csum);
	if (rc == 0)
		rc = fsb_net_write_all(fd, wb.data, wb.len);
	fsb_wbuf_release(&wb);
	return rc < 0 ? rc : 0;
}

/* Send one RESUME frame of items [off, off+n) and apply its answer. */
static int resume_frame(struct fb_resume *r, int fd, enum fsb_csum csum,
                        const struct fsb_resume_item *items, size_t n, uint64_t id,
                        size_t *lost_nodes, size_t *lost_handles, char *err, size_t errlen)
{
	struct fsb_wbuf wb;
	struct fsb_msg m;
	uint8_t *buf = NULL;
	size_t cap = 0, i;
	uint32_t len;
	int rc, ferr;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RESUME;
	m.id = id;
	m.u.resume.gen = r->gen;
	m.u.resume.count = (uint32_t)n;
	m.u.resume.items = (struct fsb_resume_item *)items;
	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode_mode(&wb, &m, csum);
	if (rc < 0) {
		snprintf(err, errlen, "cannot encode RESUME: %s", fsb_strerror(rc));
		fsb_wbuf_release(&wb);
		return -EINVAL;
	}
	rc = fsb_net_write_all(fd, wb.data, wb.len);
	fsb_wbuf_release(&wb);
	if (rc < 0) {
		snprintf(err, errlen, "sending RESUME: %s", strerror(-rc));
		return rc;
	}
	for (;;) {
		rc = fsb_net_read_frame_mode(fd, &buf, &cap, &len, &ferr, csum);
		if (rc != 0) {
			snprintf(err, errlen, "reading the RESUME answer: %s",
			         rc == 1 ? "the server closed the connection"
			         : rc == -EAGAIN ? "no answer in time"
			         : rc == -EBADMSG ? fsb_strerror(ferr) : strerror(-rc));
			free(buf);
			return rc == 1 ? -ECONNRESET : rc;
		}
		rc = fsb_msg_decode_mode(buf, len, &m, csum);
		if (rc < 0) {
			snprintf(err, errlen, "malformed frame during RESUME: %s", fsb_strerror(rc));
			free(buf);
			return -EPROTO;
		}
		if (!(m.flags & (FSB_F_REPLY | FSB_F_PUSH)) && m.op == FSB_OP_PING) {
			rc = answer_ping(fd, &m, csum);
			fsb_msg_release(&m);
			if (rc < 0) {
				free(buf);
				snprintf(err, errlen, "answering PING: %s", strerror(-rc));
				return rc;
			}
			continue;
		}
		if ((m.flags & FSB_F_REPLY) && m.id == id && m.op == FSB_OP_RESUME)
			break;
		fsb_msg_release(&m);
		if (!(m.flags & FSB_F_PUSH)) {
			snprintf(err, errlen, "unexpected %s frame during RESUME",
			         fsb_op_name(m.op));
			free(buf);
			return -EPROTO;
		}
	}
	rc = 0;
	if (m.status != FSB_OK) {
		snprintf(err, errlen, "the server refused RESUME: %s", fsb_strerror((int)m.status));
		rc = -EPROTO;
	} else if (m.u.resume_rep.count != n) {
		snprintf(err, errlen, "RESUME answered %u items of %zu", m.u.resume_rep.count, n);
		rc = -EPROTO;
	} else {
		for (i = 0; i < n; i++) {
			const struct fsb_resume_result *res = &m.u.resume_rep.items[i];

			/* A node's new attributes are left to the rescan, which
			 * compares them with the ones the kernel has and raises
			 * the change. */
			if (items[i].kind == FSB_RESUME_NODE) {
				if (res->status != FSB_OK)
					(*lost_nodes)++;
			} else if (res->status != FSB_OK) {
				(*lost_handles)++;
				fb_warn("an open file (node %llu) could not be reopened after the "
				        "reconnect: %s; its reads and writes now fail",
				        (unsigned long long)items[i].u.handle.node,
				        fsb_strerror((int)res->status));
			}
		}
	}
	fsb_msg_release(&m);
	free(buf);
	return rc;
}

/*
 * Resume the session on fd. 0 with the counts, or -errno with a sentence
 * (the socket is then useless: close it and try again).
 */
static int resume_session(struct fb_resume *r, int fd, enum fsb_csum csum, char *err,
                          size_t errlen)
{
	struct timeval tv = { .tv_sec = RESUME_TIMEOUT_S };
	size_t lost_nodes = 0, lost_handles = 0, off = 0, nodes;
	struct plan p;
	int nfh, rc = 0;

	memset(&p, 0, sizeof(p));
	nfh = plan_build(&p, r->fs);
	if (nfh < 0) {
		plan_release(&p);
		snprintf(err, errlen, "out of memory listing what the kernel holds");
		return nfh;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Even with nothing to describe, RESUME gives the session our gen. */
	do {
		size_t n = p.nitems - off < FSB_RESUME_MAX ? p.nitems - off : FSB_RESUME_MAX;

		rc = resume_frame(r, fd, csum, p.items + off, n, fb_conn_take_ids(r->fs->conn, 1),
		                  &lost_nodes, &lost_handles, err, errlen);
		off += n;
	} while (rc == 0 && off < p.nitems);
	tv.tv_sec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (rc == 0) {
		size_t resumed, reopened;

		/* Nodes no name reaches, and their handles, never got an item. */
		nodes = p.nitems - p.nhandles;
		resumed = nodes - lost_nodes;
		reopened = p.nhandles - lost_handles;
		atomic_fetch_add(&r->nodes_resumed, resumed);
		atomic_fetch_add(&r->nodes_lost, p.nnodes - resumed);
		atomic_fetch_add(&r->handles_reopened, reopened);
		atomic_fetch_add(&r->handles_lost, (size_t)nfh - reopened);
		fb_info("session resumed: %zu of %zu nodes and %zu of %d open files restored",
		        resumed, p.nnodes, reopened, nfh);
	}
	plan_release(&p);
	return rc;
}

/* ---- the thread ---------------------------------------------------------------- */

static int wait_down(struct fb_resume *r)
{
	int stop;

	pthread_mutex_lock(&r->lock);
	while (!r->down && !r->stop)
		pthread_cond_wait(&r->cond, &r->lock);
	r->down = 0;
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* Reconnect until it works or we stop. 0 once attached, 1 when stopping,
 * -1 when the mount gave up. */
static int reconnect(struct fb_resume *r)
{
	struct fb_fs *fs = r->fs;
	char err[1024], last[1024] = "";
	unsigned delay = 0, attempts = 0;
	uint64_t t0 = fb_mono_ms();

	for (;;) {
		struct fb_server srv;
		int fd, is_tcp = 0, rc;

		if (delay && nap(r, delay))
			return 1;
		delay = delay ? (delay * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : delay * 2)
		              : BACKOFF_FIRST_MS;
		attempts++;
		memset(&srv, 0, sizeof(srv));
		fd = fb_session_open_ex(r->addr, r->token, r->export_path, r->caps, &srv, &is_tcp,
		                        err, sizeof(err), set_busy, r);
		if (fd >= 0 && nap(r, 0)) {
			set_busy(r, -1);
			close(fd);
			return 1;
		}
		if (fd >= 0 && !(srv.caps & FSB_CAP_RESUME)) {
			snprintf(err, sizeof(err), "%s cannot resume a session (no RESUME); "
			         "waiting for a server that can", srv.name[0] ? srv.name : r->addr);
			set_busy(r, -1);
			close(fd);
			fd = -EPROTO;
		}
		if (fd >= 0 && srv.root.attr.ino != r->root_ino) {
			set_busy(r, -1);
			close(fd);
			fb_err("the export %s on %s now serves another folder (its root is inode "
			       "%llu, was %llu): this mount cannot mix the two trees and gives up; "
			       "every request fails with EIO until it is mounted again",
			       r->export_path, r->addr, (unsigned long long)srv.root.attr.ino,
			       (unsigned long long)r->root_ino);
			fb_conn_abandon(fs->conn);
			return -1;
		}
		if (fd >= 0) {
			rc = resume_session(r, fd, fb_session_csum(&srv), err, sizeof(err));
			set_busy(r, -1);
			if (rc < 0) {
				close(fd);
				fd = rc;
			}
		}
		if (fd < 0 && r->local) {
			/* Our own server: it died or froze; start another. */
			char why[512];

			fb_local_stop(r->local);
			if (fb_local_start(r->local, r->export_path, why, sizeof(why)) < 0) {
				snprintf(err, sizeof(err), "restarting the private winside: %s", why);
			} else {
				fb_info("restarted the private winside (pid %d)", (int)r->local->pid);
				delay = 0;      /* try it at once */
			}
			r->addr = r->local->addr;
			r->token = r->local->token;
		}
		if (fd < 0) {
			/* One line per change of cause, not per attempt. */
			if (strcmp(err, last)) {
				fb_warn("reconnecting to %s: %s; retrying every %.1f s at most", r->addr,
				        err, BACKOFF_CAP_MS / 1000.0);
				snprintf(last, sizeof(last), "%s", err);
			}
			continue;
		}
		rc = fb_conn_attach(fs->conn, fd, is_tcp, fb_session_csum(&srv));
		if (rc == -ESHUTDOWN)
			return 1;
		if (rc < 0) {
			/* Lost again at once; on_down has been called anew. */
			fb_warn("reconnecting to %s: the new connection failed at once", r->addr);
			return 0;
		}
		fb_info("reconnected to %s after %.1f s (%u attempt%s)", r->addr,
		        (double)(fb_mono_ms() - t0) / 1000.0, attempts, attempts == 1 ? "" : "s");
		return 0;
	}
}

static void *resume_thread(void *arg)
{
	struct fb_resume *r = arg;

	pthread_setname_np(pthread_self(), "fb-resume");
	while (!wait_down(r)) {
		int rc = reconnect(r);

		if (rc != 0)
			break;
		/* What changed while the server was away, as events. */
		fb_events_rescan(&r->fs->events);
		fb_events_write_stats(&r->fs->events);
	}
	return NULL;
}

int fb_resume_start(struct fb_resume *r)
{
	int err = pthread_create(&r->thread, NULL, resume_thread, r);

	if (err)
		return -err;
	r->started = 1;
	return 0;
}

void fb_resume_stop(struct fb_resume *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	if (r->busy_fd >= 0)
		shutdown(r->busy_fd, SHUT_RDWR);
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->started = 0;
}
