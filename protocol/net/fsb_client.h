/*
 * fsb_client.h - a blocking, thread-safe, multiplexing protocol client.
 *
 * For tools, tests and benchmarks; the FUSE daemon drives its connection
 * from a libuv loop instead. One reader thread per connection routes each
 * reply to the caller waiting on its request id, so any number of threads
 * may have requests in flight on one connection at once.
 *
 *	struct fsb_client_opts o = { .token = tok, .export_path = "/srv" };
 *	struct fsb_msg req = { .op = FSB_OP_GETATTR };
 *	struct fsb_reply *rep;
 *
 *	req.u.node.node = fsb_client_info(c)->root.node;
 *	rc = fsb_client_call(c, &req, &rep);
 *	if (rep) {
 *		use(fsb_reply_msg(rep)->u.attr);   (or ->u.error.detail if rc < 0)
 *		fsb_reply_free(rep);
 *	}
 */
#ifndef FSB_CLIENT_H
#define FSB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

struct fsb_client;
struct fsb_reply;

/* Called on the reader thread for each EVENT push; `push` and everything it
 * points to is valid only during the call. The callback must not wait for
 * a reply on the same client (the reader is the one that would deliver it):
 * hand work to another thread instead. */
typedef void (*fsb_client_event_fn)(void *arg, const struct fsb_msg *push);

struct fsb_client_opts {
	const char *token;          /* NUL-terminated; required */
	const char *export_path;    /* NUL-terminated; required */
	uint64_t caps;              /* enum fsb_cap offered in HELLO */
	unsigned timeout_ms;        /* per request (and HELLO); 0 = 30000 */
	fsb_client_event_fn on_event;   /* NULL: pushes are dropped */
	void *event_arg;
};

/* What the server said in its HELLO reply. Strings are the client's own
 * NUL-terminated copies, valid until fsb_client_close(). */
struct fsb_client_info {
	uint32_t version;
	uint64_t caps;              /* agreed set */
	uint32_t max_frame;
	uint32_t max_io;
	struct fsb_entry root;      /* one lookup reference on the root node */
	struct fsb_statfs fs;
	const char *server;
};

/*
 * Connect to `addr` (any form fsb_addr_parse accepts), send HELLO and wait
 * for its reply. Returns 0 with *out set, or a negative code with a
 * sentence in err: -FSB_Exxx when the server refused HELLO (err then
 * carries the server's detail, e.g. -FSB_EAUTH for a bad token,
 * -FSB_ENOEXPORT for an unknown export), -FSB_ETIMEDOUT, -FSB_EPROTO for
 * a malformed reply, or -errno for address and socket errors.
 */
int fsb_client_connect(const char *addr, const struct fsb_client_opts *opts,
                       struct fsb_client **out, char *err, size_t errlen);
/* The same over an already connected stream socket, which the client owns
 * from then on (closed on every path, failure included). */
int fsb_client_connect_fd(int fd, const struct fsb_client_opts *opts,
                          struct fsb_client **out, char *err, size_t errlen);

const struct fsb_client_info *fsb_client_info(const struct fsb_client *c);

/*
 * Send `req` and wait for its reply. The client sets req->id (and clears
 * flags and status); fill in op and the request body. Returns:
 *   0                 reply status OK; *rep holds it
 *   -status           the server answered with an error; *rep holds it
 *                     (u.error.detail may explain)
 *   -FSB_ECONNRESET   the connection is gone (or went while waiting);
 *                     *rep is NULL, fsb_client_error() says why
 *   -FSB_ETIMEDOUT    no reply within timeout_ms; *rep is NULL. The
 *                     connection stays up and the late reply is dropped.
 *   -FSB_EINVAL       req is a HELLO (fsb_client_connect sends the only
 *                     one) or an EVENT; *rep is NULL
 *   other negative    the request could not be encoded; *rep is NULL
 * FORGET is never answered: it is sent and 0 returned with *rep NULL.
 * Safe to call from any number of threads at once. A reply that answers no
 * outstanding request, or answers it with another op, is a protocol
 * violation: the connection is closed and every waiting caller fails.
 */
int fsb_client_call(struct fsb_client *c, struct fsb_msg *req, struct fsb_reply **rep);

/* The decoded reply; strings borrow from the reply's frame buffer. */
const struct fsb_msg *fsb_reply_msg(const struct fsb_reply *rep);
void fsb_reply_free(struct fsb_reply *rep);

/* Why the connection ended ("" while it is up). */
const char *fsb_client_error(struct fsb_client *c);
/* Nonzero once the connection is gone. */
int fsb_client_dead(struct fsb_client *c);

/* Shut the connection, join the reader and free everything. No call may be
 * in progress on another thread. */
void fsb_client_close(struct fsb_client *c);

#endif
