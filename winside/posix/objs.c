/*
 * objs.c - the objects clients know, for the POSIX backend: one shared,
 * counted node per identity (the registry), each re-opened on use by its
 * file handle or by its anchor (parent directory + name), an LRU of the
 * descriptors kept open, pins for files losing their last name, and the
 * proof that a descriptor still lies inside the export.
 *
 * Why: holding an O_PATH descriptor per directory a client knows stops an
 * export at the descriptor limit (20,000 here: about 9,000 directories
 * once the watcher took its share). Now the descriptors held are the LRU's
 * (a fraction of RLIMIT_NOFILE), the pins and the borrowed ones of the
 * requests running.
 *
 * Confinement. A node is only ever reached from the export root:
 *   - by its anchor: the parent's descriptor (itself proven) and one
 *     component opened below it (openat2 RESOLVE_BENEATH, no links), the
 *     identity (st_dev, st_ino, type) checked against the node's; or
 *   - by its handle, which open_by_handle_at resolves wherever the object
 *     now is, so a directory opened that way is proven before use.
 * A descriptor of a directory, or of any node without a handle, is
 * *proven* when it is seen inside the export: its anchor still names it
 * (fstatat(parent, name) gives its identity, the parent proven in turn),
 * or, for directories whose anchor is out of date (renamed behind our
 * back), walking ".." from it reaches the export root. A proof is trusted
 * for PROOF_MS and until pb->moves changes (bumped for every directory the
 * watcher sees removed or renamed, and every directory rename we make), so
 * a directory moved out of the export stops being reachable through a
 * cached descriptor or a handle within the watcher's latency, and within
 * PROOF_MS when no watcher runs. Cost: a hit in the LRU with a fresh proof
 * is a lock and a clock read; a proof is one fstatat per stale ancestor
 * (the anchors of hot directories stay fresh), or one openat + fstat per
 * level for the ".." walk.
 * Not covered, as before: a non-directory with a handle is opened by its
 * handle unproven (it has no ".." to walk, and hard links give it several
 * names), so a file moved out stays reachable through the node a client
 * already has; and a pinned file (its last name gone) is reached by its
 * descriptor, which is the point of the pin.
 *
 * Locking: pb->obj_lock, a leaf lock, guards the registry, the LRU and
 * every mutable field of every node. No system call that may block runs
 * under it (close of an O_PATH descriptor does not).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend_int.h"
#include "fsb_proto.h"
#include "ws_hash.h"
#include "ws_posix.h"

/* How long a proof that a descriptor is inside the export is trusted. */
#define PROOF_MS 1000
/* The ".." walk gives up beyond this depth (PATH_MAX / 2 components). */
#define WALK_MAX 2048
#define LRU_MIN 16u
#define LRU_MAX 1024u

static uint64_t ident_hash(dev_t dev, ino_t ino)
{
	return ws_hash_u64((uint64_t)ino ^ ((uint64_t)dev * 0x9E3779B97F4A7C15ull));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int same_ident(const struct ws_bnode *n, const struct stat *s)
{
	return s->st_dev == n->dev && s->st_ino == n->ino && (s->st_mode & S_IFMT) == n->type;
}

/* A quarter of the soft descriptor limit goes to the LRU, within bounds. */
static size_t lru_cap_for_limit(void)
{
	struct rlimit rl;
	size_t cap = LRU_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < cap)
		cap = (size_t)(rl.rlim_cur / 4);
	return cap < LRU_MIN ? LRU_MIN : cap;
}

int ws__posix_objs_init(struct posix_be *pb)
{
	if (ws_htab_init(&pb->objs))
		return -FSB_ENOMEM;
	if (pthread_mutex_init(&pb->obj_lock, NULL)) {
		ws_htab_release(&pb->objs);
		return -FSB_ENOMEM;
	}
	pb->lru_cap = lru_cap_for_limit();
	return 0;
}

void ws__posix_objs_release(struct posix_be *pb)
{
	/* Every session has ended: only the root can be left. */
	if (pb->root)
		ws__posix_obj_put(pb, pb->root);
	ws_htab_release(&pb->objs);
	pthread_mutex_destroy(&pb->obj_lock);
}

/* ---- the LRU (under obj_lock) --------------------------------------------- */

static void lru_unlink(struct posix_be *pb, struct ws_bnode *n)
{
	if (!n->in_lru)
		return;
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		pb->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		pb->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
	n->in_lru = 0;
	pb->lru_count--;
}

static void lru_push(struct posix_be *pb, struct ws_bnode *n)
{
	n->lru_prev = NULL;
	n->lru_next = pb->lru_head;
	if (pb->lru_head)
		pb->lru_head->lru_prev = n;
	else
		pb->lru_tail = n;
	pb->lru_head = n;
	n->in_lru = 1;
	pb->lru_count++;
}

static void lru_touch(struct posix_be *pb, struct ws_bnode *n)
{
	if (n->in_lru && pb->lru_head != n) {
		lru_unlink(pb, n);
		lru_push(pb, n);
	}
}

/* Close the least recently used descriptors nobody borrows, down to the
 * cap. Borrowed ones stay: the cap is exceeded by at most the requests
 * running. */
static void lru_trim(struct posix_be *pb)
{
	struct ws_bnode *n = pb->lru_tail, *prev;

	while (pb->lru_count > pb->lru_cap && n) {
		prev = n->lru_prev;
		if (!n->users) {
			lru_unlink(pb, n);
			close(n->fd);
			n->fd = -1;
		}
		n = prev;
	}
}

/* ---- the registry ---------------------------------------------------------- */

static struct ws_bnode *find_locked(struct posix_be *pb, dev_t dev, ino_t ino)
{
	uint64_t h = ident_hash(dev, ino);
	struct ws_hlink *l;
	struct ws_bnode *n;

	for (l = ws_htab_first(&pb->objs, h); l; l = ws_htab_next(l, h)) {
		n = WS_CONTAINER_OF(l, struct ws_bnode, by_ident);
		if (n->dev == dev && n->ino == ino)
			return n;
	}
	return NULL;
}

static int cacheable(const struct ws_bnode *n)
{
	return n->type == S_IFDIR || !n->fh;
}

/* Whether a descriptor of n must be proven inside the export. */
static int needs_proof(const struct ws_bnode *n)
{
	return !n->is_root && !n->pinned && cacheable(n);
}

static int fresh(struct posix_be *pb, const struct ws_bnode *n)
{
	return n->checked_gen == atomic_load(&pb->moves) && now_ms() - n->checked_ms < PROOF_MS;
}

static void mark_fresh(struct ws_bnode *n, uint64_t gen)
{
	n->checked_gen = gen;
	n->checked_ms = now_ms();
}

/* Drop one reference; a node freed drops its parent's, and so on up. */
void ws__posix_obj_put(struct posix_be *pb, struct ws_bnode *n)
{
	struct ws_bnode *parent;

	pthread_mutex_lock(&pb->obj_lock);
	while (n && !--n->refs) {
		if (n->registered)
			ws_htab_remove(&pb->objs, &n->by_ident);
		lru_unlink(pb, n);
		pb->nodes--;
		if (n->type == S_IFDIR)
			pb->dirs--;
		if (n->fd >= 0)
			close(n->fd);
		if (n->pinned)
			pb->pinned--;
		if (n == pb->root)
			pb->root = NULL;
		if (n->name)
			pb->name_bytes -= strlen(n->name) + 1;
		if (n->fh)
			pb->handle_bytes -= sizeof(*n->fh) + n->fh->handle_bytes;
		parent = n->parent;
		free(n->name);
		free(n->fh);
		free(n);
		n = parent;
	}
	pthread_mutex_unlock(&pb->obj_lock);
}

/* Whether `top` is `n` or one of n's anchors above it (under obj_lock). */
static int anchored_below(const struct ws_bnode *n, const struct ws_bnode *top)
{
	for (; n; n = n->parent)
		if (n == top)
			return 1;
	return 0;
}

/*
 * Anchor n at (parent, name), which a lookup just found true. Under
 * obj_lock; returns the old parent, whose reference the caller drops
 * (after unlocking), or NULL. An anchor that would make a loop is not
 * taken: it means an anchor above parent is out of date (a directory
 * moved below one of its former descendants), and n keeps its own.
 */
static struct ws_bnode *anchor_locked(struct posix_be *pb, struct ws_bnode *n,
                                      struct ws_bnode *parent, const char *name, char **spare)
{
	struct ws_bnode *old = n->parent;

	if (!parent || !*spare)
		return NULL;
	if (old == parent && n->name && !strcmp(n->name, name))
		return NULL;
	if (anchored_below(parent, n))
		return NULL;
	if (n->name)
		pb->name_bytes -= strlen(n->name) + 1;
	free(n->name);
	n->name = *spare;
	*spare = NULL;
	pb->name_bytes += strlen(n->name) + 1;
	parent->refs++;
	n->parent = parent;
	return old;
}

/* One more reference on a known node n just found again (fd in hand). Under
 * obj_lock; returns the old anchor to drop, and takes fd or leaves it in
 * *fd for the caller to close. */
static struct ws_bnode *hit_locked(struct posix_be *pb, struct ws_bnode *n, int *fd,
                                   struct ws_bnode *parent, const char *name, char **spare)
{
	struct ws_bnode *old;

	n->refs++;
	old = anchor_locked(pb, n, parent, name, spare);
	/* The descriptor in hand saves the next re-open; it was just found
	 * below a proven parent. */
	if (n->fd < 0 && cacheable(n)) {
		n->fd = *fd;
		*fd = -1;
		lru_push(pb, n);
		lru_trim(pb);
	}
	if (parent && n->fd >= 0 && needs_proof(n))
		mark_fresh(n, atomic_load(&pb->moves));
	return old;
}

int ws__posix_obj_enter(struct posix_be *pb, int fd, const struct stat *s,
                        struct ws_bnode *parent, const char *name, struct ws_bnode **out)
{
	struct ws_bnode *n, *known, *old = NULL;
	mode_t type = s->st_mode & S_IFMT;
	char *spare = NULL;

	if (name) {
		spare = strdup(name);
		if (!spare) {
			close(fd);
			return -FSB_ENOMEM;
		}
	}
	pthread_mutex_lock(&pb->obj_lock);
	known = find_locked(pb, s->st_dev, s->st_ino);
	if (known && known->type == type) {
		old = hit_locked(pb, known, &fd, parent, name, &spare);
		pthread_mutex_unlock(&pb->obj_lock);
		goto out_hit;
	}
	pthread_mutex_unlock(&pb->obj_lock);

	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		free(spare);
		return -FSB_ENOMEM;
	}
	n->type = type;
	n->dev = s->st_dev;
	n->ino = s->st_ino;
	n->refs = 1;
	n->fd = -1;
	n->is_root = !parent;
	if (pb->handles && n->dev == pb->root_dev && !n->is_root)
		n->fh = ws__posix_handle_of(fd);

	pthread_mutex_lock(&pb->obj_lock);
	known = find_locked(pb, n->dev, n->ino);
	if (known && known->type == type) {
		/* Another request entered it meanwhile. */
		old = hit_locked(pb, known, &fd, parent, name, &spare);
		pthread_mutex_unlock(&pb->obj_lock);
		free(n->fh);
		free(n);
		goto out_hit;
	}
	if (known) {
		/* Same inode number, another type: the known object is gone
		 * and its number reused. Its node lives on, unregistered,
		 * until forgotten; it can only fail the identity check. */
		ws_htab_remove(&pb->objs, &known->by_ident);
		known->registered = 0;
	}
	ws_htab_insert(&pb->objs, &n->by_ident, ident_hash(n->dev, n->ino));
	n->registered = 1;
	if (n->fh)
		pb->handle_bytes += sizeof(*n->fh) + n->fh->handle_bytes;
	if (parent) {
		n->name = spare;
		spare = NULL;
		pb->name_bytes += strlen(n->name) + 1;
		parent->refs++;
		n->parent = parent;
	}
	pb->nodes++;
	if (n->type == S_IFDIR)
		pb->dirs++;
	if (n->is_root) {
		n->fd = fd;
		n->pinned = 1;
		pb->pinned++;
		pb->root = n;
		n->refs++;              /* the backend's own */
	} else if (cacheable(n)) {
		n->fd = fd;
		lru_push(pb, n);
		mark_fresh(n, atomic_load(&pb->moves));
		lru_trim(pb);
	} else {
		close(fd);
	}
	fd = -1;
	pthread_mutex_unlock(&pb->obj_lock);
	*out = n;
	return 0;

out_hit:
	if (fd >= 0)
		close(fd);
	free(spare);
	if (old)
		ws__posix_obj_put(pb, old);
	*out = known;
	return 0;
}

/* ---- descriptors ----------------------------------------------------------- */

/* n's anchor with a reference and its name copied, or NULL. */
static struct ws_bnode *anchor_get(struct posix_be *pb, struct ws_bnode *n, char name[NAME_MAX + 1])
{
	struct ws_bnode *p;

	pthread_mutex_lock(&pb->obj_lock);
	p = n->parent;
	if (p) {
		p->refs++;
		strncpy(name, n->name, NAME_MAX);
		name[NAME_MAX] = '\0';
	}
	pthread_mutex_unlock(&pb->obj_lock);
	return p;
}

/* Whether walking ".." up from directory fd reaches the export root. */
static int walk_reaches_root(struct posix_be *pb, int fd)
{
	struct stat s;
	dev_t dev = 0;
	ino_t ino = 0;
	int cur = fd, up, i, ok = 0;

	for (i = 0; i < WALK_MAX; i++) {
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cur != fd)
			close(cur);
		if (up < 0)
			return 0;
		if (fstat(up, &s) < 0)
			break;
		if (s.st_dev == pb->root_dev && s.st_ino == pb->root_ino) {
			ok = 1;
			break;
		}
		/* ".." of "/" (or of the root of a chroot) is itself. */
		if (i && s.st_dev == dev && s.st_ino == ino)
			break;
		dev = s.st_dev;
		ino = s.st_ino;
		cur = up;
	}
	close(up);
	return ok;
}

/* Prove that fd, a descriptor of n, lies inside the export (see the top of
 * this file). 0 or -FSB_ESTALE. */
static int prove(struct posix_be *pb, struct ws_bnode *n, int fd)
{
	char name[NAME_MAX + 1];
	struct ws_bnode *p;
	struct stat s;
	int pfd, ok = 0;

	p = anchor_get(pb, n, name);
	if (p) {
		pfd = ws__posix_dir_fd(pb, p);
		if (pfd >= 0) {
			ok = fstatat(pfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && same_ident(n, &s);
			ws__posix_node_fd_put(pb, p, pfd);
		}
		ws__posix_obj_put(pb, p);
	}
	if (!ok && n->type == S_IFDIR)
		ok = walk_reaches_root(pb, fd);
	return ok ? 0 : -FSB_ESTALE;
}

/* A new descriptor of n: by handle, else by anchor. *proven says whether
 * it needs no further proof. The fd or a negative status. */
static int reopen(struct posix_be *pb, struct ws_bnode *n, int *proven)
{
	char name[NAME_MAX + 1];
	struct ws_bnode *p;
	struct stat s;
	int fd = -1, pfd, err = -FSB_ESTALE;

	*proven = 0;
	if (n->fh) {
		fd = open_by_handle_at(pb->mount_fd, n->fh, O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &s) == 0 && same_ident(n, &s))
				return fd;
			close(fd);
		} else if (errno != ESTALE) {
			return ws__posix_status(errno);
		}
		/* Gone, or its number reused: what the anchor names now may
		 * still be this node (the core knows nodes by identity). */
	}
	p = anchor_get(pb, n, name);
	if (!p)
		return -FSB_ESTALE;
	pfd = ws__posix_dir_fd(pb, p);
	if (pfd < 0) {
		err = pfd;
		goto out_put;
	}
	fd = ws__posix_open_below(pb, pfd, name);
	ws__posix_node_fd_put(pb, p, pfd);
	if (fd < 0) {
		err = fd == -ENOENT ? -FSB_ESTALE : ws__posix_status(-fd);
		goto out_put;
	}
	if (fstat(fd, &s) < 0 || !same_ident(n, &s)) {
		close(fd);
		fd = -1;
		goto out_put;
	}
	*proven = 1;
	err = 0;
out_put:
	ws__posix_obj_put(pb, p);
	return err ? err : fd;
}

int ws__posix_node_fd(struct posix_be *pb, struct ws_bnode *n)
{
	uint64_t gen;
	int fd, proven, rc;

	pthread_mutex_lock(&pb->obj_lock);
	fd = n->fd;
	if (fd >= 0) {
		n->users++;
		lru_touch(pb, n);
		if (!needs_proof(n) || fresh(pb, n)) {
			pthread_mutex_unlock(&pb->obj_lock);
			return fd;
		}
		pthread_mutex_unlock(&pb->obj_lock);
		gen = atomic_load(&pb->moves);
		rc = prove(pb, n, fd);
		pthread_mutex_lock(&pb->obj_lock);
		if (!rc) {
			mark_fresh(n, gen);
			pthread_mutex_unlock(&pb->obj_lock);
			return fd;
		}
		/* Out of the export, or no longer where its anchor says:
		 * drop the descriptor (unless another request holds it). */
		if (!--n->users && n->in_lru) {
			lru_unlink(pb, n);
			close(n->fd);
			n->fd = -1;
		}
		pthread_mutex_unlock(&pb->obj_lock);
		return rc;
	}
	pthread_mutex_unlock(&pb->obj_lock);

	gen = atomic_load(&pb->moves);
	fd = reopen(pb, n, &proven);
	if (fd < 0)
		return fd;
	if (!proven && needs_proof(n)) {
		rc = prove(pb, n, fd);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	if (!cacheable(n))
		return fd;      /* closed by node_fd_put */
	pthread_mutex_lock(&pb->obj_lock);
	if (n->fd >= 0) {
		/* Another request re-opened it meanwhile: use theirs. */
		close(fd);
		fd = n->fd;
	} else {
		n->fd = fd;
		lru_push(pb, n);
		mark_fresh(n, gen);
	}
	n->users++;
	lru_trim(pb);
	pthread_mutex_unlock(&pb->obj_lock);
	return fd;
}

void ws__posix_node_fd_put(struct posix_be *pb, struct ws_bnode *n, int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&pb->obj_lock);
	if (fd == n->fd) {
		n->users--;
		fd = -1;
		lru_trim(pb);
	}
	pthread_mutex_unlock(&pb->obj_lock);
	/* A descriptor opened for the occasion (a handle node's). */
	if (fd >= 0)
		close(fd);
}

int ws__posix_dir_fd(struct posix_be *pb, struct ws_bnode *dir)
{
	if (dir->type != S_IFDIR)
		return -FSB_ENOTDIR;
	return ws__posix_node_fd(pb, dir);
}

void ws__posix_obj_pin(struct posix_be *pb, dev_t dev, ino_t ino)
{
	struct ws_bnode *n;
	int fd;

	pthread_mutex_lock(&pb->obj_lock);
	n = find_locked(pb, dev, ino);
	if (!n || n->type == S_IFDIR || n->pinned) {
		pthread_mutex_unlock(&pb->obj_lock);
		return;
	}
	n->refs++;
	pthread_mutex_unlock(&pb->obj_lock);
	fd = ws__posix_node_fd(pb, n);
	if (fd >= 0) {
		pthread_mutex_lock(&pb->obj_lock);
		if (fd == n->fd) {
			n->users--;
			lru_unlink(pb, n);
			fd = -1;
		} else if (n->fd < 0) {
			n->fd = fd;
			fd = -1;
		}
		if (!n->pinned && n->fd >= 0) {
			n->pinned = 1;
			pb->pinned++;
		}
		pthread_mutex_unlock(&pb->obj_lock);
		if (fd >= 0)
			close(fd);
	}
	ws__posix_obj_put(pb, n);
}

void ws__posix_obj_reanchor(struct posix_be *pb, struct ws_bnode *dir, int dfd, const char *name)
{
	struct ws_bnode *n, *old = NULL;
	struct stat s;
	char *spare;

	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	spare = strdup(name);
	if (!spare)
		return;
	pthread_mutex_lock(&pb->obj_lock);
	n = find_locked(pb, s.st_dev, s.st_ino);
	if (n && n->type == (s.st_mode & S_IFMT))
		old = anchor_locked(pb, n, dir, name, &spare);
	pthread_mutex_unlock(&pb->obj_lock);
	free(spare);
	if (old)
		ws__posix_obj_put(pb, old);
}

void ws__posix_objs_renamed(struct ws_backend *be, const struct ws_ident *dir, const char *name,
                            const struct ws_ident *obj)
{
	struct posix_be *pb = (struct posix_be *)be;
	struct ws_bnode *n, *p, *old = NULL;
	char *spare = strdup(name);

	if (!spare)
		return;
	pthread_mutex_lock(&pb->obj_lock);
	n = find_locked(pb, (dev_t)obj->vol, (ino_t)obj->lo);
	p = find_locked(pb, (dev_t)dir->vol, (ino_t)dir->lo);
	if (n && p && p->type == S_IFDIR)
		old = anchor_locked(pb, n, p, name, &spare);
	pthread_mutex_unlock(&pb->obj_lock);
	free(spare);
	if (old)
		ws__posix_obj_put(pb, old);
}

void ws__posix_objs_moved(struct ws_backend *be)
{
	atomic_fetch_add(&((struct posix_be *)be)->moves, 1);
}
