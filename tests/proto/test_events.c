/*
 * test_events.c - live change events from the real winside binary (POSIX
 * backend, inotify) over a Unix socket: every event kind with its path,
 * flags and attributes, rename pairing, new directory trees, bursts,
 * latency, echo tagging per session, unsubscribing, watcher overflow, and
 * a clean shutdown with subscribers attached.
 *
 * Changes are made with plain syscalls in the exported directory (what a
 * Windows editor would do) unless a test is about echoes, which come from
 * protocol requests. One server runs for the whole file, started by the
 * group setup with -v so that its log can be checked too; it is killed on
 * every path (group teardown, atexit, PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "fsb_client.h"
#include "serve.h"

#define WAIT_MS 3000            /* for an event that must come */
#define QUIET_MS 300            /* to conclude that no more will come */
#define LATENCY_MS 50
#define BURST 2000
#define NTEMP 100
#define QUEUE_PATH "/proc/sys/fs/inotify/max_queued_events"
/* The same for a fanotify watcher (WINSIDE_WATCHER=fanotify). */
#define FAN_QUEUE_PATH "/proc/sys/fs/fanotify/max_queued_events"

/* ---- recorded events ------------------------------------------------------ */

struct rec {
	uint8_t kind;
	uint8_t flags;
	uint32_t cookie;
	uint64_t seq;
	uint64_t at_us;
	struct fsb_attr attr;
	char *path;
};

/* Everything one connection was pushed, in arrival order. */
struct log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rec *v;
	size_t n;
	size_t cap;
	size_t frames;
};

struct conn {
	struct fsb_client *c;
	struct log log;
	uint64_t root;
	size_t cursor;          /* events before this were looked at */
};

static struct {
	pid_t pid;
	char base[64];
	char dir[128];          /* the export */
	char outside[128];      /* next to it, for moves in and out */
	char sock[160];
	char token_path[128];
	char log_path[128];
	char token[FSB_TOKEN_MAX + 1];
	char queue_saved[32];   /* max_queued_events to restore, "" if none */
	char fan_queue_saved[32];
	struct conn a;          /* the main subscriber */
	struct conn b;          /* a second one, for echoes */
} g;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_push(void *arg, const struct fsb_msg *m)
{
	struct log *l = arg;
	uint64_t t = now_us();
	uint32_t i;

	pthread_mutex_lock(&l->mu);
	l->frames++;
	for (i = 0; i < m->u.events.count; i++) {
		const struct fsb_event *e = &m->u.events.events[i];
		struct rec *r;

		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 256;
			struct rec *v = realloc(l->v, cap * sizeof(*v));

			if (!v)
				abort();
			l->v = v;
			l->cap = cap;
		}
		r = &l->v[l->n];
		r->kind = e->kind;
		r->flags = e->flags;
		r->cookie = e->cookie;
		r->seq = e->seq;
		r->at_us = t;
		r->attr = e->attr;
		r->path = malloc(e->path.len + 1);
		if (!r->path)
			abort();
		memcpy(r->path, e->path.ptr, e->path.len);
		r->path[e->path.len] = '\0';
		l->n++;
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
}

static void log_free(struct log *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	memset(l, 0, sizeof(*l));
}

static size_t log_count(struct log *l)
{
	size_t n;

	pthread_mutex_lock(&l->mu);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

/* Wait until the log holds more than `have` events or ms pass: the count. */
static size_t log_wait_beyond(struct log *l, size_t have, int ms)
{
	struct timespec dl;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (l->n <= have && pthread_cond_timedwait(&l->cv, &l->mu, &dl) == 0)
		;
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

/* Wait until no event has arrived for QUIET_MS. */
static void log_quiet(struct log *l)
{
	size_t n = log_count(l), m;

	for (;;) {
		m = log_wait_beyond(l, n, QUIET_MS);
		if (m == n)
			return;
		n = m;
	}
}

static const char *kind_name(uint8_t k)
{
	return fsb_event_kind_name(k);
}

static void dump(struct conn *c, const char *why)
{
	size_t i;

	print_message("# %s; events from %zu on:\n", why, c->cursor);
	pthread_mutex_lock(&c->log.mu);
	for (i = c->cursor; i < c->log.n && i < c->cursor + 60; i++)
		print_message("#   seq %llu %s%s%s%s \"%s\" cookie %u\n", (unsigned long long)c->log.v[i].seq,
		              kind_name(c->log.v[i].kind), (c->log.v[i].flags & FSB_EVF_DIR) ? " dir" : "",
		              (c->log.v[i].flags & FSB_EVF_ECHO) ? " echo" : "",
		              (c->log.v[i].flags & FSB_EVF_ATTR) ? " attr" : "", c->log.v[i].path,
		              c->log.v[i].cookie);
	pthread_mutex_unlock(&c->log.mu);
}

/*
 * The next event at or after the cursor with this kind and path; the
 * cursor moves past it, so a sequence of expect_ev calls checks order.
 * Fails after WAIT_MS.
 */
static struct rec expect_ev(struct conn *c, uint8_t kind, const char *path)
{
	uint64_t t0 = now_us();
	size_t i, n;
	struct rec r;

	for (;;) {
		n = log_count(&c->log);
		pthread_mutex_lock(&c->log.mu);
		for (i = c->cursor; i < n; i++) {
			if (c->log.v[i].kind == kind && !strcmp(c->log.v[i].path, path)) {
				r = c->log.v[i];
				c->cursor = i + 1;
				pthread_mutex_unlock(&c->log.mu);
				return r;
			}
		}
		pthread_mutex_unlock(&c->log.mu);
		if (now_us() - t0 > WAIT_MS * 1000ull)
			break;
		log_wait_beyond(&c->log, n, 50);
	}
	dump(c, "missing event");
	fail_msg("no %s event for \"%s\" within %d ms", kind_name(kind), path, WAIT_MS);
	return r;
}

/* How many events of this kind and path arrived from the cursor on. */
static unsigned count_ev(struct conn *c, uint8_t kind, const char *path)
{
	unsigned k = 0;
	size_t i;

	pthread_mutex_lock(&c->log.mu);
	for (i = c->cursor; i < c->log.n; i++)
		k += c->log.v[i].kind == kind && !strcmp(c->log.v[i].path, path);
	pthread_mutex_unlock(&c->log.mu);
	return k;
}

static void skip_to_end(struct conn *c)
{
	log_quiet(&c->log);
	c->cursor = log_count(&c->log);
}

/* Every event of the connection so far has a larger seq than the one
 * before it. */
static void expect_seq_increasing(struct conn *c)
{
	size_t i;

	pthread_mutex_lock(&c->log.mu);
	for (i = 1; i < c->log.n; i++) {
		if (c->log.v[i].seq <= c->log.v[i - 1].seq) {
			uint64_t a = c->log.v[i - 1].seq, b = c->log.v[i].seq;

			pthread_mutex_unlock(&c->log.mu);
			fail_msg("seq %llu follows seq %llu at event %zu", (unsigned long long)b,
			         (unsigned long long)a, i);
		}
	}
	pthread_mutex_unlock(&c->log.mu);
}

/* ---- the server ----------------------------------------------------------- */

/* Built here, so the build says where (local.mk). */
static const char *winside_bin(void)
{
	return WINSIDE_BIN;
}

static void restore_one(const char *path, char *saved)
{
	int fd;

	if (!saved[0])
		return;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, saved, strlen(saved)) < 0)
			fprintf(stderr, "# could not restore %s: %s\n", path, strerror(errno));
		close(fd);
	}
	saved[0] = '\0';
}

static void restore_queue_limit(void)
{
	restore_one(QUEUE_PATH, g.queue_saved);
	restore_one(FAN_QUEUE_PATH, g.fan_queue_saved);
}

/* fanotify's limit lowered as inotify's, where there is one. */
static void lower_fan_queue_limit(void)
{
	char buf[32];
	ssize_t n;
	int fd = open(FAN_QUEUE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		snprintf(g.fan_queue_saved, sizeof(g.fan_queue_saved), "%s", buf);
		if (pwrite(fd, "16\n", 3, 0) != 3)
			g.fan_queue_saved[0] = '\0';
	}
	close(fd);
}

static void kill_server(void)
{
	if (g.pid > 0) {
		kill(g.pid, SIGKILL);
		waitpid(g.pid, NULL, 0);
		g.pid = 0;
	}
}

static void remove_tree(void)
{
	char cmd[160];

	if (!g.base[0])
		return;
	if (getenv("FSB_TEST_KEEP")) {
		fprintf(stderr, "# kept %s (winside's log: %s)\n", g.base, g.log_path);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.base);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", g.base);
	g.base[0] = '\0';
}

static void at_exit(void)
{
	restore_queue_limit();
	kill_server();
	remove_tree();
}

static void conn_close(struct conn *c)
{
	if (c->c)
		fsb_client_close(c->c);
	c->c = NULL;
	if (c->log.cap || c->log.n)
		log_free(&c->log);
	c->cursor = 0;
}

/* Connect with events on; the server may still be starting. */
static void conn_open(struct conn *c, uint64_t caps)
{
	struct fsb_client_opts o = {
		.token = g.token,
		.export_path = g.dir,
		.caps = caps,
		.timeout_ms = 20000,
		.on_event = on_push,
	};
	char addr[200], err[600] = "";
	int tries, rc = -1;

	conn_close(c);
	log_init(&c->log);
	o.event_arg = &c->log;
	snprintf(addr, sizeof(addr), "unix:%s", g.sock);
	for (tries = 0; tries < 400; tries++) {
		rc = fsb_client_connect(addr, &o, &c->c, err, sizeof(err));
		if (rc == 0)
			break;
		usleep(25000);
	}
	if (rc)
		fail_msg("connect to winside at %s: %s", addr, err);
	c->root = fsb_client_info(c->c)->root.node;
	if ((caps & FSB_CAP_EVENTS) && !(fsb_client_info(c->c)->caps & FSB_CAP_EVENTS))
		fail_msg("the server did not agree to FSB_CAP_EVENTS (caps 0x%llx)",
		         (unsigned long long)fsb_client_info(c->c)->caps);
}

static int group_setup(void **state)
{
	const char *bin = winside_bin();
	char err[300];
	int fd;

	(void)state;
	atexit(at_exit);
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "winside not found at %s: build it first\n", bin);
		return -1;
	}
	snprintf(g.base, sizeof(g.base), "/tmp/fsb-events-XXXXXX");
	if (!mkdtemp(g.base))
		return -1;
	snprintf(g.dir, sizeof(g.dir), "%s/export", g.base);
	snprintf(g.outside, sizeof(g.outside), "%s/outside", g.base);
	snprintf(g.sock, sizeof(g.sock), "%s/ws.sock", g.base);
	snprintf(g.token_path, sizeof(g.token_path), "%s/token", g.base);
	snprintf(g.log_path, sizeof(g.log_path), "%s/winside.log", g.base);
	if (mkdir(g.dir, 0755) || mkdir(g.outside, 0755))
		return -1;
	if (fsb_token_load(g.token_path, 1, g.token, sizeof(g.token), err, sizeof(err))) {
		fprintf(stderr, "token: %s\n", err);
		return -1;
	}
	fd = open(g.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	g.pid = tp_serve_unix(bin, g.dir, g.sock, g.token_path, fd);
	close(fd);
	return g.pid < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	conn_close(&g.a);
	conn_close(&g.b);
	at_exit();
	return 0;
}

/* ---- disk and protocol helpers ------------------------------------------ */

static void P(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", g.dir, rel);
}

static void disk_write(const char *rel, const char *data, int flags)
{
	char p[PATH_MAX];
	int fd;

	P(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	if (data[0] && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		fail_msg("write %s: %s", p, strerror(errno));
	close(fd);
}

/* An empty file, named printf-style; fast, for bursts. */
__attribute__((format(printf, 1, 2)))
static void disk_touch(const char *fmt, ...)
{
	char rel[PATH_MAX / 2], p[PATH_MAX];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	P(p, sizeof(p), rel);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", p, strerror(errno));
	close(fd);
}

static void disk_mkdir(const char *rel)
{
	char p[PATH_MAX];

	P(p, sizeof(p), rel);
	if (mkdir(p, 0755))
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

static void disk_rename(const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	P(a, sizeof(a), from);
	P(b, sizeof(b), to);
	if (rename(a, b))
		fail_msg("rename %s %s: %s", a, b, strerror(errno));
}

static void disk_unlink(const char *rel, int dir)
{
	char p[PATH_MAX];

	P(p, sizeof(p), rel);
	if (dir ? rmdir(p) : unlink(p))
		fail_msg("remove %s: %s", p, strerror(errno));
}

static struct fsb_str S(const char *s)
{
	struct fsb_str r = { s, (uint32_t)strlen(s) };

	return r;
}

/* One request; fails the test unless it succeeds. The reply is kept in
 * *rep for the caller to read and free. */
static void call(struct conn *c, struct fsb_msg *m, struct fsb_reply **rep, const char *what)
{
	int rc = fsb_client_call(c->c, m, rep);

	if (rc) {
		const struct fsb_msg *r = *rep ? fsb_reply_msg(*rep) : NULL;

		fail_msg("%s: %s%s%.*s", what, fsb_strerror(rc), r ? ": " : "",
		         r ? (int)r->u.error.detail.len : 0, r ? r->u.error.detail.ptr : "");
	}
}

/* CREATE, MKDIR: the new node (and the handle of CREATE in *fh). */
static uint64_t do_make(struct conn *c, uint16_t op, uint64_t parent, const char *name,
                        uint32_t flags, uint64_t *fh)
{
	struct fsb_msg m = { .op = op };
	struct fsb_reply *rep = NULL;
	uint64_t node;

	m.u.create.parent = parent;
	m.u.create.name = S(name);
	m.u.create.flags = flags;
	m.u.create.mode = 0644;
	call(c, &m, &rep, fsb_op_name(op));
	node = fsb_reply_msg(rep)->u.entry_rep.entry.node;
	if (fh)
		*fh = fsb_reply_msg(rep)->u.entry_rep.fh;
	fsb_reply_free(rep);
	return node;
}

static void do_simple(struct conn *c, struct fsb_msg *m)
{
	struct fsb_reply *rep = NULL;

	call(c, m, &rep, fsb_op_name(m->op));
	fsb_reply_free(rep);
}

static void do_write(struct conn *c, uint64_t fh, const char *data)
{
	struct fsb_msg m = { .op = FSB_OP_WRITE };

	m.u.io.fh = fh;
	m.u.io.data.ptr = (const uint8_t *)data;
	m.u.io.data.len = (uint32_t)strlen(data);
	m.u.io.size = m.u.io.data.len;
	do_simple(c, &m);
}

static void do_fh(struct conn *c, uint16_t op, uint64_t fh)
{
	struct fsb_msg m = { .op = op };

	m.u.fh.fh = fh;
	do_simple(c, &m);
}

static void do_name(struct conn *c, uint16_t op, uint64_t parent, const char *name)
{
	struct fsb_msg m = { .op = op };

	m.u.name.parent = parent;
	m.u.name.name = S(name);
	do_simple(c, &m);
}

/* ---- tests ------------------------------------------------------------------ */

static void t_start(void **state)
{
	(void)state;
	conn_open(&g.a, FSB_CAP_EVENTS);
	/* Without the capability nothing is pushed. */
	conn_open(&g.b, 0);
	assert_int_equal(fsb_client_info(g.b.c)->caps & FSB_CAP_EVENTS, 0);
	disk_write("nobody-asked", "", 0);
	expect_ev(&g.a, FSB_EV_CREATED, "nobody-asked");
	log_quiet(&g.b.log);
	assert_int_equal(log_count(&g.b.log), 0);
	conn_close(&g.b);
	skip_to_end(&g.a);
}

static void t_kinds(void **state)
{
	struct conn *c = &g.a;
	char p[PATH_MAX];
	struct rec r;
	struct stat st;
	size_t i;

	(void)state;
	disk_write("k.txt", "hello", O_EXCL);
	r = expect_ev(c, FSB_EV_CREATED, "k.txt");
	assert_int_equal(r.flags & (FSB_EVF_DIR | FSB_EVF_ECHO), 0);
	assert_int_equal(r.cookie, 0);
	assert_true(r.flags & FSB_EVF_ATTR);
	assert_int_equal(r.attr.mode & FSB_S_IFMT, FSB_S_IFREG);
	r = expect_ev(c, FSB_EV_MODIFIED, "k.txt");
	assert_true(r.flags & FSB_EVF_ATTR);
	assert_int_equal(r.attr.size, 5);
	P(p, sizeof(p), "k.txt");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(r.attr.ino, (uint64_t)st.st_ino);

	assert_int_equal(chmod(p, 0600), 0);
	r = expect_ev(c, FSB_EV_ATTRIB, "k.txt");
	assert_true(r.flags & FSB_EVF_ATTR);
	assert_int_equal(r.attr.mode & 07777, 0600);

	disk_write("k.txt", "hello, world", O_APPEND);
	r = expect_ev(c, FSB_EV_MODIFIED, "k.txt");
	assert_int_equal(r.attr.size, 17);

	disk_mkdir("kd");
	r = expect_ev(c, FSB_EV_CREATED, "kd");
	assert_true(r.flags & FSB_EVF_DIR);
	assert_int_equal(r.attr.mode & FSB_S_IFMT, FSB_S_IFDIR);
	disk_write("kd/inner", "x", 0);
	r = expect_ev(c, FSB_EV_CREATED, "kd/inner");
	assert_int_equal(r.flags & FSB_EVF_DIR, 0);
	P(p, sizeof(p), "kd/link");
	assert_int_equal(symlink("../k.txt", p), 0);
	r = expect_ev(c, FSB_EV_CREATED, "kd/link");
	assert_int_equal(r.attr.mode & FSB_S_IFMT, FSB_S_IFLNK);

	/* The export root itself is "". */
	assert_int_equal(chmod(g.dir, 0750), 0);
	r = expect_ev(c, FSB_EV_ATTRIB, "");
	assert_true(r.flags & FSB_EVF_DIR);
	assert_int_equal(chmod(g.dir, 0755), 0);
	expect_ev(c, FSB_EV_ATTRIB, "");

	disk_unlink("kd/link", 0);
	r = expect_ev(c, FSB_EV_REMOVED, "kd/link");
	assert_int_equal(r.flags & FSB_EVF_ATTR, 0);
	disk_unlink("kd/inner", 0);
	expect_ev(c, FSB_EV_REMOVED, "kd/inner");
	disk_unlink("kd", 1);
	r = expect_ev(c, FSB_EV_REMOVED, "kd");
	assert_true(r.flags & FSB_EVF_DIR);
	disk_unlink("k.txt", 0);
	expect_ev(c, FSB_EV_REMOVED, "k.txt");

	skip_to_end(c);
	pthread_mutex_lock(&c->log.mu);
	for (i = 0; i < c->log.n; i++)
		if (c->log.v[i].flags & FSB_EVF_ECHO)
			fail_msg("\"%s\" tagged ECHO, but no request of this client made it",
			         c->log.v[i].path);
	pthread_mutex_unlock(&c->log.mu);
	expect_seq_increasing(c);
}

/* FROM directly followed by its TO, one nonzero cookie. */
static uint32_t expect_pair(struct conn *c, const char *from, const char *to, int dir)
{
	struct rec a = expect_ev(c, FSB_EV_RENAMED_FROM, from);
	size_t at = c->cursor;
	struct rec b = expect_ev(c, FSB_EV_RENAMED_TO, to);

	if (c->cursor != at + 1) {
		dump(c, "rename pair split");
		fail_msg("RENAMED_TO \"%s\" does not directly follow RENAMED_FROM \"%s\"", to, from);
	}
	assert_int_not_equal(a.cookie, 0);
	assert_int_equal(a.cookie, b.cookie);
	assert_int_equal(b.seq, a.seq + 1);
	assert_int_equal(!!(a.flags & FSB_EVF_DIR), dir);
	assert_int_equal(!!(b.flags & FSB_EVF_DIR), dir);
	assert_true(b.flags & FSB_EVF_ATTR);
	return a.cookie;
}

static void t_renames(void **state)
{
	struct conn *c = &g.a;
	char a[PATH_MAX], b[PATH_MAX];
	uint32_t first;

	(void)state;
	disk_write("r1", "1", 0);
	disk_mkdir("rd1");
	disk_mkdir("rd2");
	skip_to_end(c);

	disk_rename("r1", "r2");
	first = expect_pair(c, "r1", "r2", 0);
	disk_rename("r2", "rd1/r3");
	assert_int_not_equal(expect_pair(c, "r2", "rd1/r3", 0), first);
	disk_rename("rd1/r3", "rd2/r4");
	expect_pair(c, "rd1/r3", "rd2/r4", 0);

	/* A directory: afterwards its contents carry the new path. */
	disk_rename("rd2", "rd3");
	expect_pair(c, "rd2", "rd3", 1);
	disk_write("rd3/after", "", 0);
	expect_ev(c, FSB_EV_CREATED, "rd3/after");
	disk_write("rd3/r4", "more", O_APPEND);
	expect_ev(c, FSB_EV_MODIFIED, "rd3/r4");
	disk_rename("rd3", "rd1/nested");
	expect_pair(c, "rd3", "rd1/nested", 1);
	disk_write("rd1/nested/deeper", "", 0);
	expect_ev(c, FSB_EV_CREATED, "rd1/nested/deeper");

	/* Two directories trade places: two pairs, and afterwards each
	 * name's events carry that name whichever directory it holds. */
	disk_mkdir("xa");
	disk_mkdir("xb");
	skip_to_end(c);
	P(a, sizeof(a), "xa");
	P(b, sizeof(b), "xb");
	assert_int_equal(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE), 0);
	expect_pair(c, "xa", "xb", 1);
	expect_pair(c, "xb", "xa", 1);
	disk_write("xa/one", "", 0);
	expect_ev(c, FSB_EV_CREATED, "xa/one");
	disk_write("xb/two", "", 0);
	expect_ev(c, FSB_EV_CREATED, "xb/two");

	/* Out of the export is a removal, in is a creation (with contents). */
	P(a, sizeof(a), "rd1/nested");
	snprintf(b, sizeof(b), "%s/gone", g.outside);
	assert_int_equal(rename(a, b), 0);
	expect_ev(c, FSB_EV_REMOVED, "rd1/nested");
	/* Its watches went with it: changes out there are not ours. */
	snprintf(a, sizeof(a), "%s/gone/outside-file", g.outside);
	assert_int_equal(close(open(a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	log_quiet(&c->log);
	assert_int_equal(count_ev(c, FSB_EV_CREATED, "rd1/nested/outside-file"), 0);
	P(a, sizeof(a), "back");
	assert_int_equal(rename(b, a), 0);
	expect_ev(c, FSB_EV_CREATED, "back");
	expect_ev(c, FSB_EV_CREATED, "back/outside-file");
	log_quiet(&c->log);
	assert_int_equal(count_ev(c, FSB_EV_CREATED, "back/outside-file"), 0);
	disk_write("back/inside-again", "", 0);
	expect_ev(c, FSB_EV_CREATED, "back/inside-again");
	skip_to_end(c);
}

/* Flags the connection got on events of path, ORed. */
static uint8_t flags_of(struct conn *c, uint8_t kind, const char *path)
{
	uint8_t f = 0;
	size_t i;

	pthread_mutex_lock(&c->log.mu);
	for (i = c->cursor; i < c->log.n; i++)
		if (c->log.v[i].kind == kind && !strcmp(c->log.v[i].path, path))
			f |= c->log.v[i].flags;
	pthread_mutex_unlock(&c->log.mu);
	return f;
}

/*
 * FSB_CAP_EVENT_EDGES: a session that agreed gets moves across the
 * export's edge marked OUTSIDE, a directory moved in without CREATED of
 * its contents, and an ATTRIB made through a handle open for writing
 * (touch) marked CLOSE_WRITE, one made on a path (utimensat, chmod) not;
 * a session that did not gets the events as before.
 */
static void t_edges(void **state)
{
	struct conn *e = &g.b, *old = &g.a;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char a[PATH_MAX], b[PATH_MAX];
	struct rec r;
	int fd;

	(void)state;
	conn_open(e, FSB_CAP_EVENTS | FSB_CAP_EVENT_EDGES);
	assert_true(fsb_client_info(e->c)->caps & FSB_CAP_EVENT_EDGES);
	/* Edge flags come only with events. */
	conn_open(&g.b, FSB_CAP_EVENT_EDGES);
	assert_int_equal(fsb_client_info(g.b.c)->caps & FSB_CAP_EVENT_EDGES, 0);
	conn_open(e, FSB_CAP_EVENTS | FSB_CAP_EVENT_EDGES);
	skip_to_end(old);

	snprintf(a, sizeof(a), "%s/in-file", g.outside);
	assert_int_equal(close(open(a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	snprintf(a, sizeof(a), "%s/in-dir", g.outside);
	assert_int_equal(mkdir(a, 0755), 0);
	snprintf(a, sizeof(a), "%s/in-dir/sub", g.outside);
	assert_int_equal(mkdir(a, 0755), 0);
	snprintf(a, sizeof(a), "%s/in-dir/sub/deep", g.outside);
	assert_int_equal(close(open(a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);

	snprintf(a, sizeof(a), "%s/in-file", g.outside);
	P(b, sizeof(b), "edge-f");
	assert_int_equal(rename(a, b), 0);
	r = expect_ev(e, FSB_EV_CREATED, "edge-f");
	assert_int_equal(r.flags & (FSB_EVF_OUTSIDE | FSB_EVF_DIR), FSB_EVF_OUTSIDE);
	assert_true(r.flags & FSB_EVF_ATTR);
	r = expect_ev(old, FSB_EV_CREATED, "edge-f");
	assert_int_equal(r.flags & FSB_EVF_OUTSIDE, 0);

	snprintf(a, sizeof(a), "%s/in-dir", g.outside);
	P(b, sizeof(b), "edge-d");
	assert_int_equal(rename(a, b), 0);
	r = expect_ev(e, FSB_EV_CREATED, "edge-d");
	assert_int_equal(r.flags & (FSB_EVF_OUTSIDE | FSB_EVF_DIR), FSB_EVF_OUTSIDE | FSB_EVF_DIR);
	expect_ev(old, FSB_EV_CREATED, "edge-d");
	expect_ev(old, FSB_EV_CREATED, "edge-d/sub");
	expect_ev(old, FSB_EV_CREATED, "edge-d/sub/deep");
	/* Watched all the same: what is made in it later is reported. */
	disk_write("edge-d/sub/later", "", 0);
	expect_ev(e, FSB_EV_CREATED, "edge-d/sub/later");
	log_quiet(&e->log);
	e->cursor = 0;
	assert_int_equal(count_ev(e, FSB_EV_CREATED, "edge-d/sub"), 0);
	assert_int_equal(count_ev(e, FSB_EV_CREATED, "edge-d/sub/deep"), 0);
	assert_int_equal(flags_of(e, FSB_EV_CREATED, "edge-d/sub/later") & FSB_EVF_OUTSIDE, 0);
	skip_to_end(e);
	skip_to_end(old);

	P(a, sizeof(a), "edge-f");
	snprintf(b, sizeof(b), "%s/out-file", g.outside);
	assert_int_equal(rename(a, b), 0);
	r = expect_ev(e, FSB_EV_REMOVED, "edge-f");
	assert_int_equal(r.flags & (FSB_EVF_OUTSIDE | FSB_EVF_DIR), FSB_EVF_OUTSIDE);
	r = expect_ev(old, FSB_EV_REMOVED, "edge-f");
	assert_int_equal(r.flags & FSB_EVF_OUTSIDE, 0);
	P(a, sizeof(a), "edge-d");
	snprintf(b, sizeof(b), "%s/out-dir", g.outside);
	assert_int_equal(rename(a, b), 0);
	r = expect_ev(e, FSB_EV_REMOVED, "edge-d");
	assert_int_equal(r.flags & (FSB_EVF_OUTSIDE | FSB_EVF_DIR), FSB_EVF_OUTSIDE | FSB_EVF_DIR);
	/* A removal in place is no move. */
	disk_write("edge-rm", "", 0);
	expect_ev(e, FSB_EV_CREATED, "edge-rm");
	disk_unlink("edge-rm", 0);
	r = expect_ev(e, FSB_EV_REMOVED, "edge-rm");
	assert_int_equal(r.flags & FSB_EVF_OUTSIDE, 0);
	skip_to_end(old);

	/* utimensat on the path, then touch's open, futimens, close. */
	disk_write("edge-t", "data", 0);
	skip_to_end(e);
	skip_to_end(old);
	P(a, sizeof(a), "edge-t");
	assert_int_equal(utimensat(AT_FDCWD, a, ts, 0), 0);
	r = expect_ev(e, FSB_EV_ATTRIB, "edge-t");
	assert_int_equal(r.flags & FSB_EVF_CLOSE_WRITE, 0);
	assert_int_equal(r.attr.mtime.sec, 1000000000);
	fd = open(a, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(futimens(fd, NULL), 0);
	close(fd);
	r = expect_ev(e, FSB_EV_ATTRIB, "edge-t");
	assert_true(r.flags & FSB_EVF_CLOSE_WRITE);
	assert_true(r.attr.mtime.sec > 1000000000);
	assert_int_equal(chmod(a, 0600), 0);
	r = expect_ev(e, FSB_EV_ATTRIB, "edge-t");
	assert_int_equal(r.flags & FSB_EVF_CLOSE_WRITE, 0);
	/* A close after writing or reading adds nothing. */
	disk_write("edge-t", "more", O_APPEND);
	expect_ev(e, FSB_EV_MODIFIED, "edge-t");
	fd = open(a, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	log_quiet(&e->log);
	assert_int_equal(log_count(&e->log), e->cursor);
	log_quiet(&old->log);
	assert_int_equal(flags_of(old, FSB_EV_ATTRIB, "edge-t") & FSB_EVF_CLOSE_WRITE, 0);
	assert_int_equal(count_ev(old, FSB_EV_ATTRIB, "edge-t"), 3);
	disk_unlink("edge-t", 0);
	skip_to_end(old);
	expect_seq_increasing(e);
	conn_close(e);
}

static void t_short_lived(void **state)
{
	struct conn *c = &g.a;
	struct rec r;

	(void)state;
	/* Created, written and deleted within a few microseconds: the
	 * history is still reported in full. */
	disk_write("brief", "x", O_EXCL);
	disk_unlink("brief", 0);
	expect_ev(c, FSB_EV_CREATED, "brief");
	expect_ev(c, FSB_EV_MODIFIED, "brief");
	expect_ev(c, FSB_EV_REMOVED, "brief");

	/* An editor's save: write a swap file, rename it over the doc. */
	disk_write("doc.txt", "v1", O_EXCL);
	skip_to_end(c);
	disk_write(".doc.txt.swp", "v2", O_EXCL);
	disk_rename(".doc.txt.swp", "doc.txt");
	expect_ev(c, FSB_EV_CREATED, ".doc.txt.swp");
	expect_ev(c, FSB_EV_MODIFIED, ".doc.txt.swp");
	expect_pair(c, ".doc.txt.swp", "doc.txt", 0);
	pthread_mutex_lock(&c->log.mu);
	r = c->log.v[c->cursor - 1];
	pthread_mutex_unlock(&c->log.mu);
	assert_int_equal(r.attr.size, 2);
	skip_to_end(c);
}

static void t_tree_fast(void **state)
{
	static const char *const want[] = { "a", "a/b", "a/b/c", "a/b/c/f" };
	struct conn *c = &g.a;
	size_t i;

	(void)state;
	/* mkdir -p a/b/c && touch a/b/c/f, as fast as it goes. */
	disk_mkdir("a");
	disk_mkdir("a/b");
	disk_mkdir("a/b/c");
	disk_touch("a/b/c/f");
	for (i = 0; i < 4; i++) {
		size_t at = c->cursor;
		struct rec r = expect_ev(c, FSB_EV_CREATED, want[i]);

		assert_int_equal(!!(r.flags & FSB_EVF_DIR), i < 3);
		c->cursor = at;
	}
	log_quiet(&c->log);
	for (i = 0; i < 4; i++) {
		unsigned n = count_ev(c, FSB_EV_CREATED, want[i]);

		if (n != 1) {
			dump(c, "duplicate or missing");
			fail_msg("CREATED \"%s\" arrived %u times, want exactly once", want[i], n);
		}
	}
	/* Parents before children. */
	expect_ev(c, FSB_EV_CREATED, "a");
	expect_ev(c, FSB_EV_CREATED, "a/b");
	expect_ev(c, FSB_EV_CREATED, "a/b/c");
	expect_ev(c, FSB_EV_CREATED, "a/b/c/f");
	/* And the new directories are watched. */
	disk_write("a/b/c/g", "", 0);
	expect_ev(c, FSB_EV_CREATED, "a/b/c/g");
	skip_to_end(c);
}

static void t_burst(void **state)
{
	struct conn *c = &g.a;
	char name[64];
	size_t i, at, k = 0;

	(void)state;
	disk_mkdir("burst");
	expect_ev(c, FSB_EV_CREATED, "burst");
	skip_to_end(c);
	at = c->cursor;
	for (i = 0; i < BURST; i++)
		disk_touch("burst/f%04zu", i);
	for (i = 0; i < BURST; i++) {
		snprintf(name, sizeof(name), "burst/f%04zu", i);
		expect_ev(c, FSB_EV_CREATED, name);
	}
	log_quiet(&c->log);
	pthread_mutex_lock(&c->log.mu);
	for (i = at; i < c->log.n; i++) {
		if (c->log.v[i].kind == FSB_EV_RESCAN)
			fail_msg("a burst of %d creates overflowed the watcher", BURST);
		k += c->log.v[i].kind == FSB_EV_CREATED;
	}
	pthread_mutex_unlock(&c->log.mu);
	assert_int_equal(k, BURST);
	expect_seq_increasing(c);
	print_message("# %d creates in %zu frames so far\n", BURST, c->log.frames);
}

static void t_latency(void **state)
{
	struct conn *c = &g.a;
	char name[32];
	uint64_t t0, worst = 0;
	struct rec r;
	int i;

	(void)state;
	skip_to_end(c);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "lone%d", i);
		t0 = now_us();
		disk_touch("%s", name);
		r = expect_ev(c, FSB_EV_CREATED, name);
		if (r.at_us - t0 > worst)
			worst = r.at_us - t0;
		if (r.at_us - t0 > LATENCY_MS * 1000ull)
			fail_msg("a lone change took %llu us to arrive, limit %d ms",
			         (unsigned long long)(r.at_us - t0), LATENCY_MS);
		usleep(20000);
	}
	print_message("# lone change latency: worst %llu us\n", (unsigned long long)worst);
}

/* utime + stime of the server, in clock ticks. */
static unsigned long long server_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)g.pid);
	f = fopen(path, "re");
	if (!f)
		fail_msg("open %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		fail_msg("cannot parse %s", path);
	return ut + st;
}

static void t_idle(void **state)
{
	unsigned long long before, after;

	(void)state;
	/* Watching, with a subscriber, and nothing happening: the watcher
	 * sleeps in poll() and costs nothing. */
	skip_to_end(&g.a);
	before = server_cpu();
	sleep(2);
	after = server_cpu();
	if (after - before > 1)
		fail_msg("idle winside used %llu clock ticks of CPU in 2 s", after - before);
}

/* Events about `path` from the cursor on: each must be tagged ECHO
 * exactly when `echo`; returns how many are of `kind`. */
static unsigned tagged(struct conn *c, const char *path, uint8_t kind, int echo)
{
	unsigned n = 0;
	size_t i;

	pthread_mutex_lock(&c->log.mu);
	for (i = c->cursor; i < c->log.n; i++) {
		const struct rec *r = &c->log.v[i];

		if (strcmp(r->path, path))
			continue;
		if (!!(r->flags & FSB_EVF_ECHO) != echo) {
			uint8_t k = r->kind;

			pthread_mutex_unlock(&c->log.mu);
			dump(c, "wrong ECHO tag");
			fail_msg("%s \"%s\" %s FSB_EVF_ECHO on the client that %s it", kind_name(k), path,
			         echo ? "lacks" : "carries", echo ? "made" : "did not make");
		}
		n += r->kind == kind;
	}
	pthread_mutex_unlock(&c->log.mu);
	return n;
}

/* After both logs went quiet: everything about `path` is an echo on a
 * (which made it) and none on b, and both saw `kind`. */
static void expect_echo(const char *path, uint8_t kind)
{
	unsigned on_a = tagged(&g.a, path, kind, 1), on_b = tagged(&g.b, path, kind, 0);

	if (!on_a || !on_b)
		fail_msg("%s \"%s\": %u events on the client that made it, %u on the other; want both",
		         kind_name(kind), path, on_a, on_b);
}

static void t_echo(void **state)
{
	struct conn *a = &g.a, *b = &g.b;
	struct fsb_msg m;
	uint64_t dir, node, fh;
	char name[32];
	int i;

	(void)state;
	conn_open(b, FSB_CAP_EVENTS);
	skip_to_end(a);

	dir = do_make(a, FSB_OP_MKDIR, a->root, "ed", 0, NULL);
	node = do_make(a, FSB_OP_CREATE, dir, "f", FSB_O_RDWR | FSB_O_EXCL, &fh);
	do_write(a, fh, "echo me");
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_SETATTR;
	m.u.setattr.node = node;
	m.u.setattr.valid = FSB_SET_MODE;
	m.u.setattr.mode = 0600;
	do_simple(a, &m);
	do_fh(a, FSB_OP_FSYNC, fh);
	do_fh(a, FSB_OP_RELEASE, fh);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LINK;
	m.u.link.node = node;
	m.u.link.newparent = dir;
	m.u.link.newname = S("hard");
	do_simple(a, &m);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RENAME;
	m.u.rename.olddir = dir;
	m.u.rename.oldname = S("f");
	m.u.rename.newdir = a->root;
	m.u.rename.newname = S("ef");
	do_simple(a, &m);
	/* The other name of a file with two: the link count changes. */
	do_name(a, FSB_OP_UNLINK, dir, "hard");
	/* And over O_TRUNC. */
	node = do_make(a, FSB_OP_CREATE, a->root, "ef", FSB_O_WRONLY | FSB_O_TRUNC, &fh);
	do_fh(a, FSB_OP_RELEASE, fh);
	do_name(a, FSB_OP_RMDIR, a->root, "ed");
	(void)node;
	/* Temporary files, written and removed while the watcher is busy
	 * with other changes: it finds them gone and reports the write
	 * without attributes, which must still count as an echo. */
	disk_mkdir("busy");
	for (i = 0; i < NTEMP; i++) {
		int k;

		for (k = 0; k < 100; k++)
			disk_touch("busy/t%d-%d", i, k);
		snprintf(name, sizeof(name), "tmp%d", i);
		do_make(a, FSB_OP_CREATE, a->root, name, FSB_O_RDWR | FSB_O_EXCL, &fh);
		do_write(a, fh, "scratch");
		do_fh(a, FSB_OP_RELEASE, fh);
		do_name(a, FSB_OP_UNLINK, a->root, name);
	}

	log_quiet(&a->log);
	log_quiet(&b->log);
	expect_echo("ed", FSB_EV_CREATED);
	expect_echo("ed/f", FSB_EV_CREATED);
	expect_echo("ed/f", FSB_EV_MODIFIED);
	expect_echo("ed/f", FSB_EV_ATTRIB);
	expect_echo("ed/hard", FSB_EV_CREATED);
	expect_echo("ed/f", FSB_EV_RENAMED_FROM);
	expect_echo("ef", FSB_EV_RENAMED_TO);
	expect_echo("ed/hard", FSB_EV_REMOVED);
	expect_echo("ed", FSB_EV_REMOVED);
	for (i = 0; i < NTEMP; i++) {
		snprintf(name, sizeof(name), "tmp%d", i);
		expect_echo(name, FSB_EV_MODIFIED);
		expect_echo(name, FSB_EV_REMOVED);
	}

	/* A change b's requests did not make is not b's echo, and the same
	 * change made on disk is nobody's. */
	a->cursor = log_count(&a->log);
	b->cursor = log_count(&b->log);
	disk_write("ef", "plain", O_APPEND);
	assert_int_equal(expect_ev(a, FSB_EV_MODIFIED, "ef").flags & FSB_EVF_ECHO, 0);
	assert_int_equal(expect_ev(b, FSB_EV_MODIFIED, "ef").flags & FSB_EVF_ECHO, 0);

	/* Now b makes a change: the tags swap. */
	skip_to_end(a);
	skip_to_end(b);
	do_make(b, FSB_OP_MKDIR, b->root, "by-b", 0, NULL);
	assert_int_equal(expect_ev(a, FSB_EV_CREATED, "by-b").flags & FSB_EVF_ECHO, 0);
	assert_true(expect_ev(b, FSB_EV_CREATED, "by-b").flags & FSB_EVF_ECHO);
	/* A failed request expects nothing. */
	{
		struct fsb_msg q = { .op = FSB_OP_MKDIR };
		struct fsb_reply *rep = NULL;

		q.u.create.parent = b->root;
		q.u.create.name = S("by-b");
		q.u.create.mode = 0755;
		assert_int_equal(fsb_client_call(b->c, &q, &rep), -FSB_EEXIST);
		fsb_reply_free(rep);
	}
	disk_unlink("by-b", 1);
	disk_mkdir("by-b");
	assert_int_equal(expect_ev(b, FSB_EV_REMOVED, "by-b").flags & FSB_EVF_ECHO, 0);
	assert_int_equal(expect_ev(b, FSB_EV_CREATED, "by-b").flags & FSB_EVF_ECHO, 0);
	skip_to_end(a);
	expect_seq_increasing(a);
	expect_seq_increasing(b);
}

struct churn {
	volatile int stop;
	int made;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	char name[64], p[PATH_MAX];

	while (!ch->stop) {
		snprintf(name, sizeof(name), "churn/c%d", ch->made / 2 % 50);
		P(p, sizeof(p), name);
		if (ch->made % 2 == 0) {
			int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		} else {
			unlink(p);
		}
		ch->made++;
		usleep(50);
	}
	return NULL;
}

static void t_unsubscribe(void **state)
{
	struct conn extra;
	struct churn ch = { 0 };
	pthread_t t;
	size_t n;
	int i;

	(void)state;
	memset(&extra, 0, sizeof(extra));
	disk_mkdir("churn");
	expect_ev(&g.a, FSB_EV_CREATED, "churn");
	/* Sessions come and go while changes stream in: no push may reach a
	 * session after it unsubscribed (the sanitizers catch one that
	 * does), and the survivors keep getting events. */
	assert_int_equal(pthread_create(&t, NULL, churn_main, &ch), 0);
	for (i = 0; i < 20; i++) {
		conn_open(&extra, FSB_CAP_EVENTS);
		log_wait_beyond(&extra.log, (size_t)(i * 3), 500);
		conn_close(&extra);
	}
	ch.stop = 1;
	pthread_join(t, NULL);
	/* The last extra left; b leaves too. a still gets everything. */
	conn_close(&g.b);
	skip_to_end(&g.a);
	n = log_count(&g.a.log);
	disk_write("after-unsubscribe", "", 0);
	expect_ev(&g.a, FSB_EV_CREATED, "after-unsubscribe");
	assert_true(log_count(&g.a.log) > n);
	expect_seq_increasing(&g.a);
	print_message("# %d churn changes while 20 sessions came and went\n", ch.made);
}

static void t_restart_watcher(void **state)
{
	(void)state;
	/* The last subscriber leaves: the watcher stops; the next one
	 * starts it again, on the tree as it is now. */
	conn_close(&g.a);
	disk_mkdir("made-unwatched");
	disk_write("made-unwatched/x", "", 0);
	conn_open(&g.a, FSB_CAP_EVENTS);
	disk_write("made-unwatched/y", "", 0);
	expect_ev(&g.a, FSB_EV_CREATED, "made-unwatched/y");
	log_quiet(&g.a.log);
	g.a.cursor = 0;
	assert_int_equal(count_ev(&g.a, FSB_EV_CREATED, "made-unwatched/x"), 0);
	skip_to_end(&g.a);
}

static void t_overflow(void **state)
{
	char buf[32];
	struct conn *c = &g.a;
	size_t i;
	ssize_t n;
	int fd, st, found = 0;

	(void)state;
	fd = open(QUEUE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 || geteuid() != 0) {
		if (fd >= 0)
			close(fd);
		print_message("# skipped: lowering %s needs root\n", QUEUE_PATH);
		skip();
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		close(fd);
		skip();
	}
	buf[n] = '\0';
	snprintf(g.queue_saved, sizeof(g.queue_saved), "%s", buf);
	/* The limit is taken when the watcher's inotify instance (fanotify
	 * group) is made:
	 * lower it, restart the watcher, restore it at once. */
	conn_close(c);
	if (pwrite(fd, "16\n", 3, 0) != 3) {
		close(fd);
		restore_queue_limit();
		print_message("# skipped: cannot write %s: %s\n", QUEUE_PATH, strerror(errno));
		skip();
	}
	close(fd);
	lower_fan_queue_limit();
	conn_open(c, FSB_CAP_EVENTS);
	restore_queue_limit();

	disk_mkdir("flood");
	expect_ev(c, FSB_EV_CREATED, "flood");
	/* Hold the server still while the changes pile up, so the queue
	 * overflows however fast the watcher is. */
	assert_int_equal(kill(g.pid, SIGSTOP), 0);
	assert_int_equal(waitpid(g.pid, &st, WUNTRACED), g.pid);
	assert_true(WIFSTOPPED(st));
	for (i = 0; i < 300; i++)
		disk_touch("flood/f%zu", i);
	assert_int_equal(kill(g.pid, SIGCONT), 0);
	log_quiet(&c->log);
	pthread_mutex_lock(&c->log.mu);
	for (i = 0; i < c->log.n; i++)
		if (c->log.v[i].kind == FSB_EV_RESCAN && !strcmp(c->log.v[i].path, "") &&
		    c->log.v[i].flags == FSB_EVF_DIR)
			found = 1;
	pthread_mutex_unlock(&c->log.mu);
	if (!found) {
		dump(c, "no RESCAN");
		fail_msg("300 creates against a queue of 16 events did not yield a RESCAN of \"\"");
	}
	/* The watcher recovered, new directories included. */
	skip_to_end(c);
	disk_write("flood/after", "", 0);
	expect_ev(c, FSB_EV_CREATED, "flood/after");
	disk_mkdir("flood2");
	expect_ev(c, FSB_EV_CREATED, "flood2");
	disk_write("flood2/x", "", 0);
	expect_ev(c, FSB_EV_CREATED, "flood2/x");
	expect_seq_increasing(c);
}

static int file_contains(const char *path, const char *needle)
{
	char *buf;
	long n;
	FILE *f = fopen(path, "re");
	int hit;

	if (!f)
		return 0;
	buf = malloc(64u << 20);
	if (!buf) {
		fclose(f);
		return 0;
	}
	n = (long)fread(buf, 1, (64u << 20) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	hit = strstr(buf, needle) != NULL;
	free(buf);
	return hit;
}

static void t_shutdown(void **state)
{
	int status = 0, waited;
	pid_t r;

	(void)state;
	/* Two subscribers attached: SIGTERM must still be a clean exit
	 * (with sanitizers, leaks make it nonzero). */
	conn_open(&g.b, FSB_CAP_EVENTS);
	disk_write("last", "", 0);
	expect_ev(&g.b, FSB_EV_CREATED, "last");
	assert_int_equal(kill(g.pid, SIGTERM), 0);
	for (waited = 0; waited < 10000; waited += 10) {
		r = waitpid(g.pid, &status, WNOHANG);
		if (r == g.pid)
			break;
		usleep(10000);
	}
	if (waited >= 10000)
		fail_msg("winside did not exit within 10 s of SIGTERM with subscribers attached");
	g.pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("winside exited with status 0x%x after SIGTERM, want 0 (see %s)", status,
		         g.log_path);
	/* -v shows the events, and each session's counts. */
	assert_true(file_contains(g.log_path, "event CREATED \"last\""));
	assert_true(file_contains(g.log_path, "(echo of connection"));
	assert_true(file_contains(g.log_path, "events pushed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_start),
		cmocka_unit_test(t_kinds),
		cmocka_unit_test(t_renames),
		cmocka_unit_test(t_edges),
		cmocka_unit_test(t_short_lived),
		cmocka_unit_test(t_tree_fast),
		cmocka_unit_test(t_burst),
		cmocka_unit_test(t_latency),
		cmocka_unit_test(t_idle),
		cmocka_unit_test(t_echo),
		cmocka_unit_test(t_unsubscribe),
		cmocka_unit_test(t_restart_watcher),
		cmocka_unit_test(t_overflow),
		cmocka_unit_test(t_shutdown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
