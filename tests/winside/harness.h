/*
 * harness.h - an in-process winside (core + POSIX backend) on one end of a
 * socketpair, and a raw frame client on the other, for the winside tests.
 */
#ifndef WS_TEST_HARNESS_H
#define WS_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

struct ws_server;

#define TH_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct th {
	char base[64];          /* temporary directory holding the two below */
	char export_dir[128];   /* what is served */
	char outside[128];      /* next to the export; must stay empty */
	struct ws_server *srv;
	int fd;                 /* the client end of the HELLO'd connection */
	uint64_t root;
	uint64_t caps;
	uint64_t next_id;
};

/* A decoded reply; strings borrow from buf. */
struct th_reply {
	uint8_t *buf;
	struct fsb_msg m;
	int have;
};

/* Make the directories, start a server (0: default max_handles) and
 * connect with HELLO. */
void th_start(struct th *t, int readonly, unsigned max_handles);
/* Close the connection, free the server (every session ends), remove the
 * directories. */
void th_stop(struct th *t);
/* cmocka fixtures: a started harness in *state, and its teardown. */
int th_setup_with(void **state, int readonly, unsigned max_handles);
int th_teardown(void **state);

/* A new connection to t's server, nothing sent yet. */
int th_connect(struct th *t);
/* HELLO on fd; returns 0 or -status, reply in rep. */
int th_hello(struct th *t, int fd, const char *token, const char *export_path, uint32_t version,
             struct th_reply *rep);

/* Encode and send m (id assigned from t unless m->id is set). 0 or -1. */
int th_send(struct th *t, int fd, struct fsb_msg *m);
int th_send_raw(int fd, const void *buf, size_t len);
/* Read one reply: 0, 1 on EOF, negative on error (incl. timeout). */
int th_recv(int fd, struct th_reply *rep);
/* Send and wait for the reply: 0, -status, or -FSB_ECONNRESET. */
int th_call(struct th *t, int fd, struct fsb_msg *m, struct th_reply *rep);
void th_reply_free(struct th_reply *rep);
/* The reply's error detail, NUL-terminated (static buffer). */
const char *th_detail(const struct th_reply *rep);
/* 1 if the server closes fd (an error reply first is allowed), 0 if a
 * success reply comes or nothing happens within the timeout. */
int th_expect_closed(int fd);

/* Build a LOOKUP frame by hand so that names the encoder refuses (NUL
 * bytes, too long) can be sent. Returns the frame length. */
size_t th_raw_lookup(uint8_t *buf, size_t cap, uint64_t id, uint64_t parent, const char *name,
                     size_t namelen);

/* Convenience requests on t->fd; reply kept in t's last reply. */
struct fsb_str th_s(const char *s);
int th_lookup(struct th *t, uint64_t parent, const char *name, struct fsb_entry *e);
int th_forget(struct th *t, uint64_t node, uint64_t n);
int th_open(struct th *t, uint64_t node, uint32_t flags, uint64_t *fh);
int th_release(struct th *t, uint64_t fh);
int th_getattr(struct th *t, uint64_t node, struct fsb_attr *a);
int th_create_op(struct th *t, uint16_t op, uint64_t parent, const char *name, uint32_t flags,
                 uint32_t mode, struct fsb_entry_rep *er);
int th_name_op(struct th *t, uint16_t op, uint64_t parent, const char *name);
int th_rename(struct th *t, uint64_t od, const char *on, uint64_t nd, const char *nn);
int th_symlink(struct th *t, uint64_t parent, const char *name, const char *target,
               struct fsb_entry_rep *er);
int th_link(struct th *t, uint64_t node, uint64_t newparent, const char *newname,
            struct fsb_entry_rep *er);
struct th_reply *th_last(void);
/* PING on fd; fails the test if the nonce is not echoed. */
int th_ping(struct th *t, int fd, uint64_t nonce);
/* READDIRPLUS on t's connection; the reply stays in th_last(). */
int th_readdir(struct th *t, uint64_t node, uint64_t fh, uint64_t cookie, uint32_t max);
/* Fail the test with the server's detail unless rc == want. */
void th_expect_rc(const char *what, int rc, int want);

/* Number of entries in directory `path` (excluding . and ..); -1 on error. */
int th_count_entries(const char *path);
/* Open descriptors of this process. */
int th_count_fds(void);
/* Wait until at most n sessions are left (up to 5 s): 0 or -1. */
int th_wait_sessions(struct th *t, unsigned n);

#endif
