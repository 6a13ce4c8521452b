/*
 * ws_hash.h - an intrusive chained hash table keyed by a 64-bit hash.
 *
 * The table stores links embedded in the caller's objects and compares
 * nothing but hashes: callers walk the entries with a given hash
 * (ws_htab_first/next) and compare their full keys themselves, so a hash
 * collision can never make two objects one. Not thread-safe.
 */
#ifndef WS_HASH_H
#define WS_HASH_H

#include <stddef.h>
#include <stdint.h>

struct ws_hlink {
	struct ws_hlink *next;
	uint64_t hash;
};

struct ws_htab {
	struct ws_hlink **buckets;
	size_t mask;            /* bucket count - 1; a power of two */
	size_t count;
};

#define WS_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* 0 or -FSB_ENOMEM. */
int ws_htab_init(struct ws_htab *t);
/* Frees the buckets, not the objects. */
void ws_htab_release(struct ws_htab *t);
/* Never fails: when growing cannot allocate, chains just get longer. */
void ws_htab_insert(struct ws_htab *t, struct ws_hlink *l, uint64_t hash);
void ws_htab_remove(struct ws_htab *t, struct ws_hlink *l);
struct ws_hlink *ws_htab_first(const struct ws_htab *t, uint64_t hash);
struct ws_hlink *ws_htab_next(const struct ws_hlink *l, uint64_t hash);
/* Empty the table, handing each entry to fn (which may free it). For
 * teardown: fn must not touch the table. */
void ws_htab_drain(struct ws_htab *t, void (*fn)(struct ws_hlink *l, void *arg), void *arg);

/* A 64-bit mixer (splitmix64's finaliser). */
uint64_t ws_hash_u64(uint64_t x);

/* ---- keys, shared with the backends' watchers ------------------------ */

struct ws_ident;

/* FNV-1a over s[0..len), seeded, then mixed: keys built from names. */
uint64_t ws__hash_bytes(uint64_t seed, const char *s, size_t len);
uint64_t ws__hash_ident(const struct ws_ident *id);
int ws__ident_eq(const struct ws_ident *a, const struct ws_ident *b);

#endif
