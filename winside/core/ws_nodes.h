/*
 * ws_nodes.h - a session's node table: wire node ids <-> backend nodes.
 *
 * Each distinct backend identity (ws_ident) the client has been told about
 * is one node with a wire id. The root is id 1; other ids count up from 2
 * and are never reused within the table's life, so a stale id can only
 * miss, never hit another file. `gen` lets a client tell ids of one
 * session from those of another; it changes only when the session adopts
 * the ids of an earlier one (RESUME), before any entry but the root's was
 * sent. Adopted ids keep their numbers, and new ones count on above them.
 *
 * Two counts keep a node alive:
 *   nlookup  lookup references the client holds: +1 for every entry sent
 *            (LOOKUP, CREATE, MKDIR, MKNOD, SYMLINK, LINK, each READDIRPLUS
 *            entry, HELLO's root), -n for FORGET. At 0 the node is unlinked:
 *            no longer findable by id or identity.
 *   pins     the core's own uses: in-flight operations and open handles.
 * A node is freed (its backend grip dropped) once it is unlinked and
 * unpinned. The root is never unlinked.
 *
 * Locking: one mutex per table, a leaf lock. The backend is never called
 * with it held.
 */
#ifndef WS_NODES_H
#define WS_NODES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_backend.h"
#include "ws_hash.h"

#define WS_ROOT_ID 1u

struct ws_node {
	struct ws_hlink by_id;
	struct ws_hlink by_ident;
	uint64_t id;
	struct ws_ident ident;
	uint64_t nlookup;
	unsigned pins;
	int linked;
	struct ws_bnode *bnode;     /* immutable while the node exists */
};

/* What the node tables of every session on one export hold together (the
 * SIGUSR1 log line): updated by each table as it links and unlinks nodes,
 * read without its lock. */
struct ws_nodes_tally {
	_Atomic size_t sessions;
	_Atomic size_t nodes;
	_Atomic size_t bytes;       /* the nodes and the tables' buckets */
};

struct ws_nodes {
	pthread_mutex_t lock;
	struct ws_htab by_id;
	struct ws_htab by_ident;
	struct ws_backend *be;
	struct ws_node *root;
	uint64_t next_id;
	uint64_t gen;
	struct ws_nodes_tally *tally;   /* or NULL */
	size_t tallied_nodes;           /* this table's share of it */
	size_t tallied_bytes;
};

/* Set up the table around the export root; takes `root`. 0 or -FSB_ENOMEM
 * (root is then forgotten). */
int ws_nodes_init(struct ws_nodes *t, struct ws_backend *be, uint64_t gen,
                  struct ws_bnode *root, const struct ws_ident *root_ident);
/* Free every node, pinned or not: only once nothing runs on the table.
 * Its share leaves the tally. */
void ws_nodes_release(struct ws_nodes *t);
/* Count this table in `tally` from now on (once, right after init). */
void ws_nodes_set_tally(struct ws_nodes *t, struct ws_nodes_tally *tally);

/*
 * Take one lookup reference on the node for `ident`, creating it around
 * `bn` if there is none; `bn` is consumed either way (forgotten when a node
 * already existed). *id receives the wire id. With `pin` non-NULL the node
 * is also pinned for the caller. 0 or -FSB_ENOMEM.
 */
int ws_nodes_enter(struct ws_nodes *t, struct ws_bnode *bn, const struct ws_ident *ident,
                   uint64_t *id, struct ws_node **pin);
/*
 * Enter the node for `ident` under exactly `id` (RESUME), holding
 * `nlookup` (>= 1) lookup references; `bn` is consumed either way. New ids
 * count on above it. 0; -FSB_EINVAL when id is 0, the root's, in use or
 * not below FSB_RESUME_ID_END, or nlookup is 0; -FSB_EEXIST when `ident`
 * already has another id; -FSB_ENOMEM.
 */
int ws_nodes_adopt(struct ws_nodes *t, uint64_t id, struct ws_bnode *bn,
                   const struct ws_ident *ident, uint64_t nlookup);
/* Carry `gen` in every entry from now on (RESUME). */
void ws_nodes_set_gen(struct ws_nodes *t, uint64_t gen);
/* Take one lookup reference on the node for `ident` if it exists: 1 and
 * *id set, or 0. */
int ws_nodes_ref_ident(struct ws_nodes *t, const struct ws_ident *ident, uint64_t *id);
/* One lookup reference on the root (HELLO). */
void ws_nodes_ref_root(struct ws_nodes *t);

/* Pin node `id` for an operation: NULL when the id is unknown. */
struct ws_node *ws_nodes_pin(struct ws_nodes *t, uint64_t id);
/* One more pin on a node the caller already has pinned. */
void ws_nodes_repin(struct ws_nodes *t, struct ws_node *n);
void ws_nodes_unpin(struct ws_nodes *t, struct ws_node *n);

/* Drop `count` lookup references on `id`. 0; -FSB_ESTALE for an unknown
 * id; -FSB_ERANGE when count exceeded the references held (clamped). */
int ws_nodes_forget(struct ws_nodes *t, uint64_t id, uint64_t count);

/* Linked nodes, root included. */
size_t ws_nodes_count(struct ws_nodes *t);
/* Lookup references held on `id`: 0 if unknown. */
uint64_t ws_nodes_lookups(struct ws_nodes *t, uint64_t id);

#endif
