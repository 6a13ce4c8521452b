/*
 * ws_handles.h - a session's open-handle table.
 *
 * A handle is an open backend file plus the node it was opened on, which
 * stays pinned until the handle is gone. Handle numbers (fh) count up from
 * 1 and are never reused, so 0 always means "no handle" and a released
 * fh can only miss. A resumed session adopts its client's old numbers
 * (RESUME); new ones count on above them. At most `max` handles exist per session (opens beyond
 * that fail with -FSB_EMFILE): a client cannot exhaust the server's
 * descriptors.
 *
 * Handles are reference-counted so that RELEASE racing a READ on the same
 * fh closes the file only after the READ: the table holds one reference,
 * each operation in flight one more.
 *
 * Locking: one mutex, a leaf lock; never held across backend calls.
 */
#ifndef WS_HANDLES_H
#define WS_HANDLES_H

#include <pthread.h>
#include <stdint.h>

#include "ws_backend.h"
#include "ws_hash.h"
#include "ws_nodes.h"

struct ws_handle {
	struct ws_hlink link;
	uint64_t fh;
	unsigned refs;
	uint32_t flags;             /* FSB_O_* as opened */
	struct ws_node *node;       /* pinned */
	struct ws_bfile *bf;
};

struct ws_handles {
	pthread_mutex_t lock;
	struct ws_htab map;
	struct ws_backend *be;
	struct ws_nodes *nodes;
	uint64_t next_fh;
	unsigned used;              /* handles in the table plus reservations */
	unsigned max;
};

int ws_handles_init(struct ws_handles *h, struct ws_backend *be, struct ws_nodes *nodes,
                    unsigned max);
/* Close every handle: only once nothing runs on the table. */
void ws_handles_release(struct ws_handles *h);

/* Reserve room for one handle before opening anything: 0 or -FSB_EMFILE. */
int ws_handles_reserve(struct ws_handles *h);
void ws_handles_unreserve(struct ws_handles *h);
/* Turn a reservation into a handle around `bf` on `node`, taking over the
 * caller's pin on the node. 0 with *fh set, or -FSB_ENOMEM (bf is then
 * released, the pin dropped, the reservation returned). */
int ws_handles_add(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf,
                   uint32_t flags, uint64_t *fh);
/* The same under exactly the number `fh` (RESUME); new numbers count on
 * above it. 0, -FSB_EINVAL when fh is 0, in use or not below
 * FSB_RESUME_ID_END, or -FSB_ENOMEM; on failure as for ws_handles_add. */
int ws_handles_adopt(struct ws_handles *h, struct ws_node *node, struct ws_bfile *bf,
                     uint32_t flags, uint64_t fh);

/* Take a reference on handle `fh`: NULL when unknown. */
struct ws_handle *ws_handles_get(struct ws_handles *h, uint64_t fh);
void ws_handles_put(struct ws_handles *h, struct ws_handle *hd);
/* Remove `fh` from the table (RELEASE): 0 or -FSB_EBADF. The file closes
 * when the last operation on it ends. */
int ws_handles_remove(struct ws_handles *h, uint64_t fh);

unsigned ws_handles_count(struct ws_handles *h);

#endif
