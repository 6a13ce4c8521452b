/*
 * dirahead.c - listing directories ahead of a walk (dirahead.h). Replies
 * to the kernel through ops_dir.c's fill, which does for a listing read
 * ahead what it does for any other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dirahead.h"
#include "fuse_ops.h"
#include "log.h"
#include "ops_int.h"

/* Listings that reach their end this close after one another are a walk. */
#define AHEAD_WALK_NS 100000000u
/* A listing read ahead and not asked for within this is dropped. */
#define AHEAD_TTL_NS 2000000000ull
/* Subdirectories read ahead per listing, and in all. */
#define AHEAD_PER_LISTING 16u

void fb_dirahead_init(struct fb_dirahead *da)
{
	memset(da, 0, sizeof(*da));
	pthread_mutex_init(&da->lock, NULL);
}

void fb_dirahead_release(struct fb_dirahead *da)
{
	size_t i;

	for (i = 0; i < FB_AHEAD_SLOTS; i++) {
		free(da->v[i].ents);
		free(da->v[i].names);
		free(da->v[i].waiter);
	}
	pthread_mutex_destroy(&da->lock);
}

int fb_dirahead_op_changes(unsigned op)
{
	switch (op) {
	case FSB_OP_SETATTR:
	case FSB_OP_OPEN:       /* O_TRUNC, and a handle that will write */
	case FSB_OP_CREATE:
	case FSB_OP_WRITE:
	case FSB_OP_MKDIR:
	case FSB_OP_MKNOD:
	case FSB_OP_UNLINK:
	case FSB_OP_RMDIR:
	case FSB_OP_RENAME:
	case FSB_OP_SYMLINK:
	case FSB_OP_LINK:
	case FSB_OP_FALLOCATE:
		return 1;
	default:
		return 0;
	}
}

static struct fb_ahead_slot *find_locked(struct fb_dirahead *da, uint64_t node)
{
	size_t i;

	for (i = 0; i < FB_AHEAD_SLOTS; i++)
		if (da->v[i].node == node)
			return &da->v[i];
	return NULL;
}

/* Make a slot free again (what it held is the caller's). */
static void clear_locked(struct fb_dirahead *da, struct fb_ahead_slot *s)
{
	memset(s, 0, sizeof(*s));
	da->used--;
}

/* Free a slot; its entries' server references are forgotten. */
static void drop_locked(struct fb_fs *fs, struct fb_ahead_slot *s)
{
	atomic_fetch_add(&fs->dirahead.dropped, 1);
	fb__forget_dirents(fs, s->ents, s->count);
	free(s->ents);
	free(s->names);
	clear_locked(&fs->dirahead, s);
}

/* Keep a copy of the reply: its strings borrow from the receive buffer. */
static int keep_locked(struct fb_ahead_slot *s, const struct fsb_readdir_rep *r)
{
	size_t bytes = 0, pos = 0;
	uint32_t i;

	for (i = 0; i < r->count; i++)
		bytes += r->ents[i].name.len;
	s->ents = malloc((r->count ? r->count : 1) * sizeof(*s->ents));
	s->names = malloc(bytes ? bytes : 1);
	if (!s->ents || !s->names) {
		free(s->ents);
		free(s->names);
		s->ents = NULL;
		s->names = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < r->count; i++) {
		s->ents[i] = r->ents[i];
		memcpy(s->names + pos, r->ents[i].name.ptr, r->ents[i].name.len);
		s->ents[i].name.ptr = s->names + pos;
		pos += r->ents[i].name.len;
	}
	s->count = r->count;
	s->eof = r->eof;
	return 0;
}

/* Loop thread: the reply to a listing read ahead. */
static void ahead_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	struct fb_fs *fs = op->fs;
	struct fb_dirahead *da = &fs->dirahead;
	struct fb_ahead_slot *s = &da->v[op->off];
	const struct fsb_readdir_rep *r = rep ? &rep->u.readdir_rep : NULL;
	int e = fb__rep_errno(rep, err);
	struct fb_op *waiter;
	int fresh;

	pthread_mutex_lock(&da->lock);
	waiter = s->waiter;
	s->waiter = NULL;
	fresh = s->gen == atomic_load(&da->gen);
	if (e || !fresh || !waiter) {
		if (!e && fresh && keep_locked(s, r) == 0) {
			/* For the kernel's request, when it comes. */
			s->ready_ns = fb_mono_ns();
			pthread_mutex_unlock(&da->lock);
			return;
		}
		if (!e)
			fb__forget_dirents(fs, r->ents, r->count);
		atomic_fetch_add(&da->dropped, 1);
		clear_locked(da, s);
		pthread_mutex_unlock(&da->lock);
		/* Stale or failed: the kernel's request goes out as usual. */
		if (waiter)
			fb__readdir_send(waiter);
		return;
	}
	clear_locked(da, s);
	pthread_mutex_unlock(&da->lock);
	atomic_fetch_add(&da->waited, 1);
	fb__readdir_fill(waiter, r);
	free(waiter);
}

int fb_dirahead_serve(struct fb_fs *fs, struct fb_op *op)
{
	struct fb_dirahead *da = &fs->dirahead;
	struct fb_ahead_slot *s;
	struct fsb_readdir_rep r;
	char *names;

	if (!da->enabled || op->off != 0 || !op->plus)
		return 0;
	pthread_mutex_lock(&da->lock);
	s = da->used ? find_locked(da, op->node) : NULL;
	if (!s || s->waiter) {
		pthread_mutex_unlock(&da->lock);
		return 0;
	}
	if (s->gen != atomic_load(&da->gen)) {
		/* One still on its way is dropped when it comes. */
		if (s->ready_ns)
			drop_locked(fs, s);
		pthread_mutex_unlock(&da->lock);
		return 0;
	}
	if (!s->ready_ns) {
		s->waiter = op;
		pthread_mutex_unlock(&da->lock);
		return 1;
	}
	r.eof = s->eof;
	r.count = s->count;
	r.ents = s->ents;
	names = s->names;
	clear_locked(da, s);
	pthread_mutex_unlock(&da->lock);
	atomic_fetch_add(&da->ready, 1);
	fb__readdir_fill(op, &r);
	free(r.ents);
	free(names);
	free(op);
	return 1;
}

void fb_dirahead_listed(struct fb_fs *fs, const struct fsb_readdir_rep *r, uint32_t want)
{
	struct fb_dirahead *da = &fs->dirahead;
	struct {
		uint64_t node;
		size_t slot;
	} go[AHEAD_PER_LISTING];
	unsigned n = 0, k;
	uint64_t now = fb_mono_ns(), gen;
	size_t i, free_at = 0;
	uint32_t j;
	int walk;

	if (!da->enabled)
		return;
	pthread_mutex_lock(&da->lock);
	walk = now - da->last_listed_ns < AHEAD_WALK_NS;
	da->last_listed_ns = now;
	if (!walk) {
		pthread_mutex_unlock(&da->lock);
		return;
	}
	gen = atomic_load(&da->gen);
	/* What waited too long, or can no longer be used, goes. */
	for (i = 0; i < FB_AHEAD_SLOTS && da->used; i++) {
		struct fb_ahead_slot *s = &da->v[i];

		if (s->node && s->ready_ns && !s->waiter &&
		    (now - s->ready_ns > AHEAD_TTL_NS || s->gen != gen))
			drop_locked(fs, s);
	}
	for (j = 0; j < r->count && n < AHEAD_PER_LISTING; j++) {
		const struct fsb_dirent *d = &r->ents[j];

		if ((d->entry.attr.mode & 0170000u) != FSB_S_IFDIR || !d->entry.node ||
		    find_locked(da, d->entry.node))
			continue;
		while (free_at < FB_AHEAD_SLOTS && da->v[free_at].node)
			free_at++;
		if (free_at == FB_AHEAD_SLOTS)
			break;
		da->v[free_at].node = d->entry.node;
		da->v[free_at].gen = gen;
		da->used++;
		go[n].node = d->entry.node;
		go[n].slot = free_at;
		n++;
	}
	pthread_mutex_unlock(&da->lock);

	for (k = 0; k < n; k++) {
		struct fb_op *op = fb__op_new(fs, NULL, ahead_done), *waiter;
		struct fsb_msg m;

		if (op) {
			op->node = go[k].node;
			op->off = (off_t)go[k].slot;
			op->plus = 1;
			fb__msg_init(&m, FSB_OP_READDIRPLUS);
			m.u.readdir.node = go[k].node;
			m.u.readdir.fh = 0;
			m.u.readdir.cookie = 0;
			m.u.readdir.max_bytes = want;
			if (fb_conn_submit(fs->conn, &op->call, &m) == 0) {
				atomic_fetch_add(&da->asked, 1);
				continue;
			}
			free(op);
		}
		pthread_mutex_lock(&da->lock);
		waiter = da->v[go[k].slot].waiter;
		clear_locked(da, &da->v[go[k].slot]);
		pthread_mutex_unlock(&da->lock);
		/* The kernel's request came meanwhile: it goes as usual. */
		if (waiter)
			fb__readdir_send(waiter);
	}
}
