/*
 * rescan.c - recovery after lost change events: every name the kernel
 * caches is looked up on the server again and each difference is handled
 * (fb__handle_event, replay.c) as the event that would have told of it.
 * Also the event thread's one waited-for request, fb__sync_lookup, which
 * replay.c uses too. Calls replay.c and the connection, node and name
 * tables.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "events.h"
#include "events_int.h"
#include "fuse_ops.h"
#include "log.h"

struct known_name {
	uint64_t parent;
	uint64_t child;
	char *path;
	size_t depth;
};

struct name_snap {
	struct fb_dents *dents;
	struct known_name *v;
	size_t n, cap;
};

static void snap_one(void *arg, uint64_t parent, const char *name, size_t len, uint64_t child)
{
	struct name_snap *sn = arg;

	(void)name;
	(void)len;
	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? sn->cap * 2 : 256;
		void *v = realloc(sn->v, cap * sizeof(*sn->v));
		if (!v)
			return;
		sn->v = v;
		sn->cap = cap;
	}
	sn->v[sn->n].parent = parent;
	sn->v[sn->n].child = child;
	sn->v[sn->n].path = NULL;
	sn->n++;
}

static int deeper_first(const void *a, const void *b)
{
	const struct known_name *x = a, *y = b;

	return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* One request from the event thread, waited for. The call lives on this
 * thread's stack, so wait for its release, not just its answer. `take`
 * copies what the caller needs out of a successful reply, which is gone
 * once the callback returns. */
struct sync_call {
	struct fb_call call;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int released;
	int err;
	void (*take)(struct sync_call *sc, const struct fsb_msg *rep);
	void *arg;
};

static void sync_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct sync_call *sc = (struct sync_call *)call;

	if (err < 0)
		sc->err = err;
	else if (rep->status != FSB_OK)
		sc->err = -fsb_status_to_errno((int)rep->status);
	else if (sc->take)
		sc->take(sc, rep);
}

static void sync_release(struct fb_call *call)
{
	struct sync_call *sc = (struct sync_call *)call;

	pthread_mutex_lock(&sc->lock);
	sc->released = 1;
	pthread_cond_signal(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
}

/* Send m and wait for its answer; 0 or -errno. */
static int sync_request(struct fb_events *ev, struct fsb_msg *m,
                        void (*take)(struct sync_call *, const struct fsb_msg *), void *arg)
{
	struct sync_call sc;
	int err;

	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.lock, NULL);
	pthread_cond_init(&sc.cond, NULL);
	sc.call.cb = sync_done;
	sc.call.release = sync_release;
	sc.take = take;
	sc.arg = arg;
	err = fb_conn_submit(ev->fs->conn, &sc.call, m);
	if (err == 0) {
		pthread_mutex_lock(&sc.lock);
		while (!sc.released)
			pthread_cond_wait(&sc.cond, &sc.lock);
		pthread_mutex_unlock(&sc.lock);
		err = sc.err;
	}
	pthread_cond_destroy(&sc.cond);
	pthread_mutex_destroy(&sc.lock);
	return err;
}

static void take_entry(struct sync_call *sc, const struct fsb_msg *rep)
{
	*(struct fsb_entry *)sc->arg = rep->u.entry;
}

/* LOOKUP `name` in `parent` on the server; the reference it takes is
 * given back at once. 0 with *out filled, or -errno. */
int fb__sync_lookup(struct fb_events *ev, uint64_t parent, const char *name,
                    struct fsb_entry *out)
{
	struct fsb_entry e;
	struct fsb_msg m;
	int err;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.u.name.parent = parent;
	m.u.name.name.ptr = name;
	m.u.name.name.len = (uint32_t)strlen(name);
	err = sync_request(ev, &m, take_entry, &e);
	if (!err) {
		*out = e;
		fb_conn_forget(ev->fs->conn, e.node, 1);
	}
	return err;
}

/* A rescan's event, with no sequence number or cookie. */
static struct fb_rev *rev_new(uint8_t kind, const char *path, size_t len,
                              const struct fsb_attr *attr, int is_dir)
{
	struct fb_rev *r = calloc(1, sizeof(*r) + len + 1);

	if (!r)
		return NULL;
	r->kind = kind;
	r->flags = is_dir ? FSB_EVF_DIR : 0;
	if (attr) {
		r->attr = *attr;
		r->flags |= FSB_EVF_ATTR;
	}
	r->pathlen = len;
	memcpy(r->path, path, len + 1);
	return r;
}

/* Handle a change found by the rescan as if the server had sent it. A
 * file found new with data in it was, as far as anyone can tell, created
 * and written: it comes with its MODIFIED, as from a watcher. */
static void emit(struct fb_events *ev, uint8_t kind, const char *path,
                 const struct fsb_attr *attr, int is_dir, unsigned *count)
{
	size_t len = strlen(path);
	struct fb_rev *r = rev_new(kind, path, len, attr, is_dir), *w = NULL;
	int consumed;

	if (!r)
		return;
	if (kind == FSB_EV_CREATED && attr && S_ISREG(attr->mode) && attr->size > 0)
		w = rev_new(FSB_EV_MODIFIED, path, len, attr, 0);
	fb__handle_event(ev, r, w, &consumed);
	if (w && !consumed)
		fb__handle_event(ev, w, NULL, &consumed);
	free(w);
	free(r);
	(*count)++;
}

/* ---- names new on the server --------------------------------------------- */

struct name_ent {
	char *name;
	uint64_t child;                 /* known names: 0 if only seen */
	struct fsb_attr attr;           /* server names */
};

struct name_list {
	struct fb_conn *conn;
	struct name_ent *v;
	size_t n, cap;
	uint64_t cookie;
	int eof;
	int oom;
};

static void list_add(struct name_list *l, const char *name, size_t len, uint64_t child,
                     const struct fsb_attr *attr)
{
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	copy = strndup(name, len);
	if (!copy) {
		l->oom = 1;
		return;
	}
	l->v[l->n].name = copy;
	l->v[l->n].child = child;
	if (attr)
		l->v[l->n].attr = *attr;
	l->n++;
}

static void list_release(struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct name_ent *)a)->name, ((const struct name_ent *)b)->name);
}

static void known_one(void *arg, const char *name, size_t len, uint64_t child)
{
	list_add(arg, name, len, child, NULL);
}

static void take_fh(struct sync_call *sc, const struct fsb_msg *rep)
{
	*(uint64_t *)sc->arg = rep->u.open_rep.fh;
}

/* Runs on the loop thread: every entry's reference is given back here. */
static void take_page(struct sync_call *sc, const struct fsb_msg *rep)
{
	const struct fsb_readdir_rep *r = &rep->u.readdir_rep;
	struct name_list *l = sc->arg;
	uint32_t i;

	for (i = 0; i < r->count; i++) {
		const struct fsb_dirent *d = &r->ents[i];

		if (d->entry.node)
			fb_conn_forget(l->conn, d->entry.node, 1);
		if (d->name.len == 0 || d->name.len > FSB_NAME_MAX)
			continue;
		list_add(l, d->name.ptr, d->name.len, 0, &d->entry.attr);
		l->cookie = d->cookie;
	}
	l->eof = r->eof || r->count == 0;
}

/* The names `dir` holds on the server now, with their attributes, into l.
 * 0 or -errno. */
static int list_server(struct fb_events *ev, uint64_t dir, struct name_list *l)
{
	struct fsb_msg m;
	uint64_t fh = 0;
	int err;

	/* A server that lists by node needs no OPEN and RELEASE around it. */
	if (!(ev->fs->server.caps & FSB_CAP_DIRLIST)) {
		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_OPEN;
		m.u.open.node = dir;
		m.u.open.flags = FSB_O_RDONLY | FSB_O_DIRECTORY;
		err = sync_request(ev, &m, take_fh, &fh);
		if (err)
			return err;
	}
	l->conn = ev->fs->conn;
	while (!l->eof && !l->oom) {
		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_READDIRPLUS;
		m.u.readdir.node = dir;
		m.u.readdir.fh = fh;
		m.u.readdir.cookie = l->cookie;
		m.u.readdir.max_bytes = FSB_MAX_IO;
		err = sync_request(ev, &m, take_page, l);
		if (err)
			break;
	}
	if (fh) {
		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_RELEASE;
		m.u.fh.fh = fh;
		sync_request(ev, &m, NULL, NULL);
	}
	if (!err && l->oom)
		err = -ENOMEM;
	return err;
}

/*
 * A directory whose whole listing the kernel has seen (dents.h): the names
 * the server has that the client never saw are new, raised as creations;
 * names seen there once, no longer cached, and gone from the server were
 * removed. Cached names are the main loop's business.
 */
static void rescan_listing(struct fb_events *ev, uint64_t dir, unsigned *count)
{
	struct fb_fs *fs = ev->fs;
	struct name_list known = { 0 }, now = { 0 };
	char path[FSB_PATH_MAX + 1];
	size_t i = 0, j = 0;
	int len;

	len = fb_dents_path(&fs->dents, dir, path, sizeof(path));
	if (len < 0 || !fb_dents_names(&fs->dents, dir, known_one, &known))
		goto out;
	if (known.oom || list_server(ev, dir, &now) < 0)
		goto out;
	if (known.n)
		qsort(known.v, known.n, sizeof(*known.v), by_name);
	if (now.n)
		qsort(now.v, now.n, sizeof(*now.v), by_name);
	while (i < known.n || j < now.n) {
		int c = i == known.n ? 1 : j == now.n ? -1 : strcmp(known.v[i].name, now.v[j].name);
		const struct name_ent *e = c < 0 ? &known.v[i] : &now.v[j];
		char full[FSB_PATH_MAX + 1];
		int n;

		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (c < 0)
			i++;
		else
			j++;
		if (c < 0 && e->child)
			continue;       /* cached: the main loop saw to it */
		n = snprintf(full, sizeof(full), "%s%s%s", path, len ? "/" : "", e->name);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue;
		if (c < 0) {
			/* What it was is not known; a file is the likely case. */
			emit(ev, FSB_EV_REMOVED, full, NULL, 0, count);
			fb_dents_remove(&fs->dents, dir, e->name, strlen(e->name));
		} else {
			emit(ev, FSB_EV_CREATED, full, &e->attr, S_ISDIR(e->attr.mode), count);
			/* Seen now, whether or not the replay made it cached. */
			fb_dents_seen(&fs->dents, dir, e->name, strlen(e->name));
		}
	}
out:
	list_release(&known);
	list_release(&now);
}

/*
 * Events were lost (the server's watcher overflowed, or our queue did, or
 * the connection was down). Diff what the client has cached against the
 * server: every name the kernel knows is looked up again, deepest first,
 * and what changed is handled as the event that would have said so
 * (removed, replaced, modified, attributes); then every directory whose
 * whole listing the kernel has seen is listed again, parents first, and
 * the names it did not have are handled as creations. Directory listings
 * are invalidated at the end. With a non-empty `prefix`, only that path
 * and what is under it (a server's RESCAN of one directory: a part of the
 * tree its watcher polls). Event thread only (see events_int.h).
 */
static int under(const char *path, const char *prefix, size_t plen)
{
	return plen == 0 ||
	       (!strncmp(path, prefix, plen) && (path[plen] == '\0' || path[plen] == '/'));
}

void fb__rescan(struct fb_events *ev, const char *prefix, size_t plen)
{
	struct fb_fs *fs = ev->fs;
	struct name_snap sn = { .dents = &fs->dents };
	char path[FSB_PATH_MAX + 1];
	unsigned changes = 0;
	size_t i, kept = 0;

	atomic_fetch_add(&ev->rescans, 1);
	fb_dirahead_changed(&fs->dirahead);
	fb_nodes_mark_all_stale(&fs->nodes);
	fb_dents_each(&fs->dents, snap_one, &sn);
	for (i = 0; i < sn.n; i++) {
		int len = fb_dents_path(&fs->dents, sn.v[i].child, path, sizeof(path));
		size_t k;

		if (len <= 0 || !under(path, prefix, plen))
			continue;
		sn.v[i].path = strdup(path);
		for (k = 0, sn.v[i].depth = 1; k < (size_t)len; k++)
			sn.v[i].depth += path[k] == '/';
	}
	if (sn.n)
		qsort(sn.v, sn.n, sizeof(*sn.v), deeper_first);

	for (i = 0; i < sn.n && !fb_conn_is_dead(fs->conn); i++) {
		struct known_name *k = &sn.v[i];
		const char *name;
		struct fsb_attr old;
		struct fsb_entry now;
		int err, had, is_dir;

		if (!k->path || fb_is_ghost(k->parent) || fb_is_ghost(k->child))
			continue;
		name = strrchr(k->path, '/');
		name = name ? name + 1 : k->path;
		had = fb_nodes_get_attr(&fs->nodes, k->child, &old) == 0;
		is_dir = had && S_ISDIR(old.mode);
		err = fb__sync_lookup(ev, k->parent, name, &now);
		if (err == -ENOENT) {
			emit(ev, FSB_EV_REMOVED, k->path, NULL, is_dir, &changes);
		} else if (err == 0 && now.node != k->child) {
			emit(ev, FSB_EV_REMOVED, k->path, NULL, is_dir, &changes);
			emit(ev, FSB_EV_CREATED, k->path, &now.attr, S_ISDIR(now.attr.mode), &changes);
		} else if (err == 0 && had && !S_ISDIR(old.mode) &&
		           (old.size != now.attr.size || old.mtime.sec != now.attr.mtime.sec ||
		            old.mtime.nsec != now.attr.mtime.nsec)) {
			emit(ev, FSB_EV_MODIFIED, k->path, &now.attr, 0, &changes);
		} else if (err == 0 && had &&
		           (old.mode != now.attr.mode || old.uid != now.attr.uid ||
		            old.gid != now.attr.gid)) {
			emit(ev, FSB_EV_ATTRIB, k->path, &now.attr, is_dir, &changes);
		}
	}
	/* Creations, parents first: the root, then shallowest first. */
	if (plen == 0)
		rescan_listing(ev, FUSE_ROOT_ID, &changes);
	for (i = sn.n; i-- > 0 && !fb_conn_is_dead(fs->conn);) {
		struct fsb_attr a;

		if (sn.v[i].path && !fb_is_ghost(sn.v[i].child) &&
		    fb_nodes_get_attr(&fs->nodes, sn.v[i].child, &a) == 0 && S_ISDIR(a.mode))
			rescan_listing(ev, sn.v[i].child, &changes);
	}
	for (i = 0; i < sn.n; i++) {
		if (sn.v[i].path && !fb_is_ghost(sn.v[i].parent))
			fuse_lowlevel_notify_inval_inode(ev->se, sn.v[i].parent, 0, 0);
		kept += sn.v[i].path != NULL;
		free(sn.v[i].path);
	}
	if (plen == 0) {
		fuse_lowlevel_notify_inval_inode(ev->se, FUSE_ROOT_ID, 0, 0);
		fb_info("change events were lost: rescanned %zu cached names, %u changed", kept,
		        changes);
	} else {
		fb_dbg("rescanned %.*s: %zu cached names, %u changed", (int)plen, prefix, kept,
		       changes);
	}
	free(sn.v);
}
