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
 * thread's stack, so wait for its release, not just its answer. */
struct sync_call {
	struct fb_call call;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int released;
	int err;
	struct fsb_entry entry;
};

static void sync_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct sync_call *sc = (struct sync_call *)call;

	if (err < 0)
		sc->err = err;
	else if (rep->status != FSB_OK)
		sc->err = -fsb_status_to_errno((int)rep->status);
	else
		sc->entry = rep->u.entry;
}

static void sync_release(struct fb_call *call)
{
	struct sync_call *sc = (struct sync_call *)call;

	pthread_mutex_lock(&sc->lock);
	sc->released = 1;
	pthread_cond_signal(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
}

/* LOOKUP `name` in `parent` on the server; the reference it takes is
 * given back at once. 0 with *out filled, or -errno. */
int fb__sync_lookup(struct fb_events *ev, uint64_t parent, const char *name,
                    struct fsb_entry *out)
{
	struct sync_call sc;
	struct fsb_msg m;
	int err;

	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.lock, NULL);
	pthread_cond_init(&sc.cond, NULL);
	sc.call.cb = sync_done;
	sc.call.release = sync_release;
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.u.name.parent = parent;
	m.u.name.name.ptr = name;
	m.u.name.name.len = (uint32_t)strlen(name);
	err = fb_conn_submit(ev->fs->conn, &sc.call, &m);
	if (err == 0) {
		pthread_mutex_lock(&sc.lock);
		while (!sc.released)
			pthread_cond_wait(&sc.cond, &sc.lock);
		pthread_mutex_unlock(&sc.lock);
		err = sc.err;
		if (!err) {
			*out = sc.entry;
			fb_conn_forget(ev->fs->conn, sc.entry.node, 1);
		}
	}
	pthread_cond_destroy(&sc.cond);
	pthread_mutex_destroy(&sc.lock);
	return err;
}

/* Handle a change found by the rescan as if the server had sent it. */
static void emit(struct fb_events *ev, uint8_t kind, const char *path,
                 const struct fsb_attr *attr, int is_dir, unsigned *count)
{
	size_t len = strlen(path);
	struct fb_rev *r = calloc(1, sizeof(*r) + len + 1);
	int consumed;

	if (!r)
		return;
	r->kind = kind;
	r->flags = is_dir ? FSB_EVF_DIR : 0;
	if (attr) {
		r->attr = *attr;
		r->flags |= FSB_EVF_ATTR;
	}
	r->pathlen = len;
	memcpy(r->path, path, len + 1);
	fb__handle_event(ev, r, NULL, &consumed);
	free(r);
	(*count)++;
}

/*
 * Events were lost (the server's watcher overflowed, or our queue did).
 * Diff what the kernel caches against the server: every name the kernel
 * knows is looked up again, deepest first, and what changed is handled as
 * the event that would have said so (removed, replaced, modified,
 * attributes). Directory listings are invalidated, so names created in the
 * meantime show up at the next listing; watchers get no IN_CREATE for
 * those, since nothing recorded that they are new.
 */
void fb__rescan(struct fb_events *ev)
{
	struct fb_fs *fs = ev->fs;
	struct name_snap sn = { .dents = &fs->dents };
	char path[FSB_PATH_MAX + 1];
	unsigned changes = 0;
	size_t i;

	atomic_fetch_add(&ev->rescans, 1);
	fb_nodes_mark_all_stale(&fs->nodes);
	fb_dents_each(&fs->dents, snap_one, &sn);
	for (i = 0; i < sn.n; i++) {
		int len = fb_dents_path(&fs->dents, sn.v[i].child, path, sizeof(path));
		size_t k;

		if (len <= 0)
			continue;
		sn.v[i].path = strdup(path);
		for (k = 0, sn.v[i].depth = 1; k < (size_t)len; k++)
			sn.v[i].depth += path[k] == '/';
	}
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
	for (i = 0; i < sn.n; i++) {
		if (!fb_is_ghost(sn.v[i].parent))
			fuse_lowlevel_notify_inval_inode(ev->se, sn.v[i].parent, 0, 0);
		free(sn.v[i].path);
	}
	fuse_lowlevel_notify_inval_inode(ev->se, FUSE_ROOT_ID, 0, 0);
	fb_info("change events were lost: rescanned %zu cached names, %u changed", sn.n,
	        changes);
	free(sn.v);
}
