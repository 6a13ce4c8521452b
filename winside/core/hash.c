/*
 * hash.c - intrusive chained hash table, and the hashes of names and
 * identities that the core and the backends' watchers key it with.
 */
#include <stdlib.h>

#include "fsb_proto.h"
#include "ws_backend.h"
#include "ws_hash.h"

#define INITIAL_BUCKETS 64u

uint64_t ws_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t ws__hash_bytes(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return ws_hash_u64(h);
}

uint64_t ws__hash_ident(const struct ws_ident *id)
{
	return ws_hash_u64(id->lo ^ ws_hash_u64(id->vol ^ ws_hash_u64(id->hi)));
}

int ws__ident_eq(const struct ws_ident *a, const struct ws_ident *b)
{
	return a->vol == b->vol && a->lo == b->lo && a->hi == b->hi;
}

int ws_htab_init(struct ws_htab *t)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -FSB_ENOMEM;
	t->mask = INITIAL_BUCKETS - 1;
	t->count = 0;
	return 0;
}

void ws_htab_release(struct ws_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->mask = 0;
	t->count = 0;
}

static void grow(struct ws_htab *t)
{
	size_t n = (t->mask + 1) * 2, i;
	struct ws_hlink **nb, *l, *next;

	if (n > SIZE_MAX / sizeof(*nb))
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (i = 0; i <= t->mask; i++) {
		for (l = t->buckets[i]; l; l = next) {
			next = l->next;
			l->next = nb[l->hash & (n - 1)];
			nb[l->hash & (n - 1)] = l;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->mask = n - 1;
}

void ws_htab_insert(struct ws_htab *t, struct ws_hlink *l, uint64_t hash)
{
	struct ws_hlink **b;

	if (t->count >= 2 * (t->mask + 1))
		grow(t);
	b = &t->buckets[hash & t->mask];
	l->hash = hash;
	l->next = *b;
	*b = l;
	t->count++;
}

void ws_htab_remove(struct ws_htab *t, struct ws_hlink *l)
{
	struct ws_hlink **p = &t->buckets[l->hash & t->mask];

	for (; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			l->next = NULL;
			t->count--;
			return;
		}
	}
}

struct ws_hlink *ws_htab_first(const struct ws_htab *t, uint64_t hash)
{
	struct ws_hlink *l = t->buckets[hash & t->mask];

	while (l && l->hash != hash)
		l = l->next;
	return l;
}

struct ws_hlink *ws_htab_next(const struct ws_hlink *l, uint64_t hash)
{
	struct ws_hlink *n = l->next;

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

void ws_htab_drain(struct ws_htab *t, void (*fn)(struct ws_hlink *l, void *arg), void *arg)
{
	struct ws_hlink *l, *next;
	size_t i;

	for (i = 0; i <= t->mask && t->count; i++) {
		l = t->buckets[i];
		t->buckets[i] = NULL;
		for (; l; l = next) {
			next = l->next;
			l->next = NULL;
			t->count--;
			fn(l, arg);
		}
	}
}
