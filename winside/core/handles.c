/*
 * handles.c - a session's open-handle table.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_handles.h"

int ws_handles_init(struct ws_handles *h, struct ws_backend *be, struct ws_nodes *nodes,
                    unsigned max)
{
	memset(h, 0, sizeof(*h));
	if (ws_htab_init(&h->map))
		return -FSB_ENOMEM;
	if (pthread_mutex_init(&h->lock, NULL)) {
		ws_htab_release(&h->map);
		return -FSB_ENOMEM;
	}
	h->be = be;
	h->nodes = nodes;
	h->next_fh = 1;
	h->max = max;
	return 0;
}

static void destroy(struct ws_handles *h, struct ws_handle *hd)
{
	h->be->ops->release(h->be, hd->bf);
	ws_nodes_unpin(h->nodes, hd->node);
	free(hd);
}

static void drain_one(struct ws_hlink *l, void *arg)
{
	destroy(arg, WS_CONTAINER_OF(l, struct ws_handle, link));
}

void ws_handles_release(struct ws_handles *h)
{
	ws_htab_drain(&h->map, drain_one, h);
	ws_htab_release(&h->map);
	pthread_mutex_destroy(&h->lock);
}

int ws_handles_reserve(struct ws_handles *h)
{
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	if (h->used >= h->max)
		rc = -FSB_EMFILE;
	else
		h->used++;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void ws_handles_unreserve(struct ws_handles *h)
{
	pthread_mutex_lock(&h->lock);
	h->used--;
	pthread_mutex_unlock(&h->lock);
}

static struct ws_handle *find(struct ws_handles *h, uint64_t fh)
{
	uint64_t hash = ws_hash_u64(fh);
	struct ws_hlink *l;
	struct ws_handle *hd;

	for (l = ws_htab_first(&h->map, hash); l; l = ws_htab_next(l, hash)) {
		hd = WS_CONTAINER_OF(l, struct ws_handle, link);
		if (hd->fh == fh)
			return hd;
	}
	return NULL;
}

/* Undo a reservation made for `bf` on `node`: close it, drop the pin. */
static void discard(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf)
{
	h->be->ops->release(h->be, bf);
	ws_nodes_unpin(h->nodes, node);
	ws_handles_unreserve(h);
}

/* Insert a handle numbered `want`, or the next number when want is 0. */
static int insert(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf,
                  uint32_t flags, uint64_t want, uint64_t *fh)
{
	struct ws_handle *hd = calloc(1, sizeof(*hd));
	int rc = 0;

	if (!hd) {
		discard(h, node, bf);
		return -FSB_ENOMEM;
	}
	hd->refs = 1;
	hd->flags = flags;
	hd->node = node;
	hd->bf = bf;
	pthread_mutex_lock(&h->lock);
	if (!want) {
		hd->fh = h->next_fh++;
	} else if (want >= FSB_RESUME_ID_END || find(h, want)) {
		rc = -FSB_EINVAL;
	} else {
		hd->fh = want;
		if (h->next_fh <= want)
			h->next_fh = want + 1;
	}
	if (!rc)
		ws_htab_insert(&h->map, &hd->link, ws_hash_u64(hd->fh));
	pthread_mutex_unlock(&h->lock);
	if (rc) {
		free(hd);
		discard(h, node, bf);
		return rc;
	}
	*fh = hd->fh;
	return 0;
}

int ws_handles_add(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf,
                   uint32_t flags, uint64_t *fh)
{
	return insert(h, node, bf, flags, 0, fh);
}

int ws_handles_adopt(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf,
                     uint32_t flags, uint64_t fh)
{
	uint64_t got;

	if (!fh) {
		discard(h, node, bf);
		return -FSB_EINVAL;
	}
	return insert(h, node, bf, flags, fh, &got);
}

struct ws_handle *ws_handles_get(struct ws_handles *h, uint64_t fh)
{
	struct ws_handle *hd;

	if (!fh)
		return NULL;
	pthread_mutex_lock(&h->lock);
	hd = find(h, fh);
	if (hd)
		hd->refs++;
	pthread_mutex_unlock(&h->lock);
	return hd;
}

void ws_handles_put(struct ws_handles *h, struct ws_handle *hd)
{
	int last;

	pthread_mutex_lock(&h->lock);
	last = --hd->refs == 0;
	pthread_mutex_unlock(&h->lock);
	if (last)
		destroy(h, hd);
}

int ws_handles_remove(struct ws_handles *h, uint64_t fh)
{
	struct ws_handle *hd;

	pthread_mutex_lock(&h->lock);
	hd = fh ? find(h, fh) : NULL;
	if (hd) {
		ws_htab_remove(&h->map, &hd->link);
		/* The slot frees at once: the client may open again right
		 * after RELEASE even while a straggling READ holds the file. */
		h->used--;
	}
	pthread_mutex_unlock(&h->lock);
	if (!hd)
		return -FSB_EBADF;
	ws_handles_put(h, hd);
	return 0;
}

unsigned ws_handles_count(struct ws_handles *h)
{
	unsigned n;

	pthread_mutex_lock(&h->lock);
	n = (unsigned)h->map.count;
	pthread_mutex_unlock(&h->lock);
	return n;
}
