/*
 * nodes.c - a session's node table.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_nodes.h"

static uint64_t ident_hash(const struct ws_ident *k)
{
	return ws_hash_u64(k->lo ^ ws_hash_u64(k->vol ^ ws_hash_u64(k->hi)));
}

static int ident_eq(const struct ws_ident *a, const struct ws_ident *b)
{
	return a->vol == b->vol && a->lo == b->lo && a->hi == b->hi;
}

static struct ws_node *find_id(struct ws_nodes *t, uint64_t id)
{
	uint64_t h = ws_hash_u64(id);
	struct ws_hlink *l;
	struct ws_node *n;

	for (l = ws_htab_first(&t->by_id, h); l; l = ws_htab_next(l, h)) {
		n = WS_CONTAINER_OF(l, struct ws_node, by_id);
		if (n->id == id)
			return n;
	}
	return NULL;
}

static struct ws_node *find_ident(struct ws_nodes *t, const struct ws_ident *k)
{
	uint64_t h = ident_hash(k);
	struct ws_hlink *l;
	struct ws_node *n;

	for (l = ws_htab_first(&t->by_ident, h); l; l = ws_htab_next(l, h)) {
		n = WS_CONTAINER_OF(l, struct ws_node, by_ident);
		if (ident_eq(&n->ident, k))
			return n;
	}
	return NULL;
}

/* glibc's bookkeeping per allocated block, counted with each node. */
#define MALLOC_OVERHEAD 16u

/* Caller holds the lock (or owns the table): bring the tally up to date
 * with the table's count and bucket arrays. */
static void tally_update(struct ws_nodes *t)
{
	size_t nodes = t->by_id.count;
	size_t bytes = nodes * (sizeof(struct ws_node) + MALLOC_OVERHEAD) +
	               (t->by_id.mask + 1 + t->by_ident.mask + 1) * sizeof(void *);

	if (!t->tally)
		return;
	atomic_fetch_add(&t->tally->nodes, nodes - t->tallied_nodes);
	atomic_fetch_add(&t->tally->bytes, bytes - t->tallied_bytes);
	t->tallied_nodes = nodes;
	t->tallied_bytes = bytes;
}

void ws_nodes_set_tally(struct ws_nodes *t, struct ws_nodes_tally *tally)
{
	pthread_mutex_lock(&t->lock);
	t->tally = tally;
	atomic_fetch_add(&tally->sessions, 1);
	tally_update(t);
	pthread_mutex_unlock(&t->lock);
}

static void link_node(struct ws_nodes *t, struct ws_node *n)
{
	ws_htab_insert(&t->by_id, &n->by_id, ws_hash_u64(n->id));
	ws_htab_insert(&t->by_ident, &n->by_ident, ident_hash(&n->ident));
	n->linked = 1;
	tally_update(t);
}

static void unlink_node(struct ws_nodes *t, struct ws_node *n)
{
	ws_htab_remove(&t->by_id, &n->by_id);
	ws_htab_remove(&t->by_ident, &n->by_ident);
	n->linked = 0;
	tally_update(t);
}

static void free_node(struct ws_nodes *t, struct ws_node *n)
{
	t->be->ops->forget(t->be, n->bnode);
	free(n);
}

int ws_nodes_init(struct ws_nodes *t, struct ws_backend *be, uint64_t gen,
                  struct ws_bnode *root, const struct ws_ident *root_ident)
{
	struct ws_node *n;

	memset(t, 0, sizeof(*t));
	t->be = be;
	t->gen = gen;
	t->next_id = WS_ROOT_ID + 1;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto out_forget;
	if (ws_htab_init(&t->by_id))
		goto out_free;
	if (ws_htab_init(&t->by_ident))
		goto out_id;
	if (pthread_mutex_init(&t->lock, NULL))
		goto out_ident;
	n->id = WS_ROOT_ID;
	n->ident = *root_ident;
	n->bnode = root;
	link_node(t, n);
	t->root = n;
	return 0;

out_ident:
	ws_htab_release(&t->by_ident);
out_id:
	ws_htab_release(&t->by_id);
out_free:
	free(n);
out_forget:
	be->ops->forget(be, root);
	return -FSB_ENOMEM;
}

static void drain_one(struct ws_hlink *l, void *arg)
{
	free_node(arg, WS_CONTAINER_OF(l, struct ws_node, by_id));
}

void ws_nodes_release(struct ws_nodes *t)
{
	/* Unlinked-but-pinned nodes cannot exist here: pins belong to
	 * operations and handles, which end before the table does. */
	if (t->tally) {
		atomic_fetch_sub(&t->tally->nodes, t->tallied_nodes);
		atomic_fetch_sub(&t->tally->bytes, t->tallied_bytes);
		atomic_fetch_sub(&t->tally->sessions, 1);
		t->tally = NULL;
	}
	ws_htab_drain(&t->by_id, drain_one, t);
	ws_htab_release(&t->by_id);
	ws_htab_release(&t->by_ident);
	pthread_mutex_destroy(&t->lock);
	t->root = NULL;
}

int ws_nodes_enter(struct ws_nodes *t, struct ws_bnode *bn, const struct ws_ident *ident,
                   uint64_t *id, struct ws_node **pin)
{
	struct ws_node *n, *fresh;

	/* Allocate before locking; most lookups of a warm tree hit an
	 * existing node and free it again, which is cheaper than holding the
	 * lock across malloc. */
	fresh = malloc(sizeof(*fresh));
	pthread_mutex_lock(&t->lock);
	n = find_ident(t, ident);
	if (n) {
		n->nlookup++;
		if (pin) {
			n->pins++;
			*pin = n;
		}
		*id = n->id;
		pthread_mutex_unlock(&t->lock);
		free(fresh);
		t->be->ops->forget(t->be, bn);
		return 0;
	}
	if (!fresh) {
		pthread_mutex_unlock(&t->lock);
		t->be->ops->forget(t->be, bn);
		return -FSB_ENOMEM;
	}
	memset(fresh, 0, sizeof(*fresh));
	fresh->id = t->next_id++;
	fresh->ident = *ident;
	fresh->bnode = bn;
	fresh->nlookup = 1;
	fresh->pins = pin ? 1 : 0;
	link_node(t, fresh);
	*id = fresh->id;
	pthread_mutex_unlock(&t->lock);
	if (pin)
		*pin = fresh;
	return 0;
}

int ws_nodes_adopt(struct ws_nodes *t, uint64_t id, struct ws_bnode *bn,
                   const struct ws_ident *ident, uint64_t nlookup)
{
	struct ws_node *n;
	int rc;

	n = calloc(1, sizeof(*n));
	pthread_mutex_lock(&t->lock);
	if (id <= WS_ROOT_ID || id >= FSB_RESUME_ID_END || !nlookup || find_id(t, id))
		rc = -FSB_EINVAL;
	else if (find_ident(t, ident))
		rc = -FSB_EEXIST;
	else if (!n)
		rc = -FSB_ENOMEM;
	else
		rc = 0;
	if (!rc) {
		n->id = id;
		n->ident = *ident;
		n->bnode = bn;
		n->nlookup = nlookup;
		link_node(t, n);
		if (t->next_id <= id)
			t->next_id = id + 1;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc) {
		free(n);
		t->be->ops->forget(t->be, bn);
	}
	return rc;
}

void ws_nodes_set_gen(struct ws_nodes *t, uint64_t gen)
{
	pthread_mutex_lock(&t->lock);
	t->gen = gen;
	pthread_mutex_unlock(&t->lock);
}

int ws_nodes_ref_ident(struct ws_nodes *t, const struct ws_ident *ident, uint64_t *id)
{
	struct ws_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_ident(t, ident);
	if (n) {
		n->nlookup++;
		*id = n->id;
	}
	pthread_mutex_unlock(&t->lock);
	return n != NULL;
}

void ws_nodes_ref_root(struct ws_nodes *t)
{
	pthread_mutex_lock(&t->lock);
	t->root->nlookup++;
	pthread_mutex_unlock(&t->lock);
}

struct ws_node *ws_nodes_pin(struct ws_nodes *t, uint64_t id)
{
	struct ws_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_id(t, id);
	if (n)
		n->pins++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void ws_nodes_repin(struct ws_nodes *t, struct ws_node *n)
{
	pthread_mutex_lock(&t->lock);
	n->pins++;
	pthread_mutex_unlock(&t->lock);
}

void ws_nodes_unpin(struct ws_nodes *t, struct ws_node *n)
{
	int dead;

	pthread_mutex_lock(&t->lock);
	dead = --n->pins == 0 && !n->linked;
	pthread_mutex_unlock(&t->lock);
	if (dead)
		free_node(t, n);
}

int ws_nodes_forget(struct ws_nodes *t, uint64_t id, uint64_t count)
{
	struct ws_node *n;
	int rc = 0, dead = 0;

	pthread_mutex_lock(&t->lock);
	n = find_id(t, id);
	if (!n) {
		pthread_mutex_unlock(&t->lock);
		return -FSB_ESTALE;
	}
	if (count > n->nlookup) {
		count = n->nlookup;
		rc = -FSB_ERANGE;
	}
	n->nlookup -= count;
	if (n->nlookup == 0 && n != t->root) {
		unlink_node(t, n);
		dead = n->pins == 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (dead)
		free_node(t, n);
	return rc;
}

size_t ws_nodes_count(struct ws_nodes *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->by_id.count;
	pthread_mutex_unlock(&t->lock);
	return c;
}

uint64_t ws_nodes_lookups(struct ws_nodes *t, uint64_t id)
{
	struct ws_node *n;
	uint64_t c = 0;

	pthread_mutex_lock(&t->lock);
	n = find_id(t, id);
	if (n)
		c = n->nlookup;
	pthread_mutex_unlock(&t->lock);
	return c;
}
