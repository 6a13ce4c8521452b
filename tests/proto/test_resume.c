/*
 * test_resume.c - RESUME against the real winside: a client that held ids
 * and handles in one server process gets them back from the next one.
 *
 * Session 1 looks up a small tree and opens files; the test closes it and
 * restarts winside on the same folder, changing the folder in between
 * (a file deleted, a file replaced by another under the same name, a
 * directory removed with its child). Session 2 resumes session 1's ids
 * and handles and must find exactly the unchanged ones, under the old
 * numbers and the old generation. The other tests check when RESUME is
 * refused as a whole, that a pipelined RESUME cannot race other requests,
 * and that a client dying with requests in flight leaves nothing behind
 * in the server (its descriptors, counted in /proc), which keeps serving.
 * Every stop of winside is a SIGTERM that must exit 0, which with
 * sanitizers also means no leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "fsb_client.h"
#include "fsb_net.h"
#include "fsb_proto.h"
#include "serve.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What session 1 saw of one node. */
struct seen {
	const char *path;       /* relative to the export */
	const char *name;
	int parent;             /* index into g.seen, -1 for the root */
	uint64_t id;
	uint64_t ino;
	uint32_t type;
	uint64_t nlookup;
};

enum { D1, D2, FILE_TXT, GONE, REPLACED, GONEDIR, CHILD, KEEP, NSEEN };

static struct {
	char base[64];
	char dir[128];
	char sock[160];
	char addr[170];
	char token_path[128];
	char log_path[128];
	char token[FSB_TOKEN_MAX + 1];
	pid_t pid;
	uint64_t gen1;          /* session 1's generation */
	uint64_t fh_write;      /* session 1's handle on d1/d2/file.txt */
	uint64_t fh_keep;       /* and on keep.txt */
	struct seen seen[NSEEN];
	struct fsb_client *c;   /* the session under test */
} g = {
	.seen = {
		[D1] = { "d1", "d1", -1 },
		[D2] = { "d1/d2", "d2", D1 },
		[FILE_TXT] = { "d1/d2/file.txt", "file.txt", D2 },
		[GONE] = { "d1/gone.txt", "gone.txt", D1 },
		[REPLACED] = { "d1/replaced.txt", "replaced.txt", D1 },
		[GONEDIR] = { "gonedir", "gonedir", -1 },
		[CHILD] = { "gonedir/child", "child", GONEDIR },
		[KEEP] = { "keep.txt", "keep.txt", -1 },
	},
};

static const char keep_text[] = "must survive O_TRUNC";

/* ---- the server ------------------------------------------------------------ */

static void kill_server(void)
{
	if (g.pid > 0) {
		kill(g.pid, SIGKILL);
		waitpid(g.pid, NULL, 0);
		g.pid = 0;
	}
}

static void at_exit(void)
{
	char cmd[160];

	kill_server();
	if (!g.base[0] || getenv("FSB_TEST_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.base);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", g.base);
	g.base[0] = '\0';
}

static void start_server(void)
{
	int fd;

	fd = open(g.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	g.pid = tp_serve_unix(WINSIDE_BIN, g.dir, g.sock, g.token_path, fd);
	close(fd);
	assert_true(g.pid > 0);
}

/* SIGTERM, and a clean exit within 10 s. */
static void stop_server(void)
{
	int status = 0, waited;

	assert_int_equal(kill(g.pid, SIGTERM), 0);
	for (waited = 0; waited < 10000; waited += 10) {
		if (waitpid(g.pid, &status, WNOHANG) == g.pid)
			break;
		usleep(10000);
	}
	if (waited >= 10000)
		fail_msg("winside did not exit within 10 s of SIGTERM");
	g.pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("winside exited with status 0x%x, want 0 (see %s)", status, g.log_path);
}

static int server_fds(void)
{
	char path[64];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)g.pid);
	dp = opendir(path);
	assert_non_null(dp);
	while ((d = readdir(dp)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

/* The server's descriptor count once sessions that ended have gone: the
 * same for a quarter of a second. */
static int settled_fds(void)
{
	int n = server_fds(), same = 0, i;

	for (i = 0; i < 400 && same < 5; i++) {
		usleep(50000);
		same = server_fds() == n ? same + 1 : 0;
		n = server_fds();
	}
	return n;
}

/* ---- protocol helpers ------------------------------------------------------ */

static struct fsb_client *connect_with(uint64_t caps)
{
	struct fsb_client_opts o = {
		.token = g.token,
		.export_path = g.dir,
		.caps = caps,
		.timeout_ms = 20000,
	};
	struct fsb_client *c = NULL;
	char err[600] = "";
	int tries, rc = -1;

	for (tries = 0; tries < 400; tries++) {
		rc = fsb_client_connect(g.addr, &o, &c, err, sizeof(err));
		if (rc == 0)
			break;
		usleep(25000);
	}
	if (rc)
		fail_msg("connect to winside at %s: %s", g.addr, err);
	return c;
}

static struct fsb_str S(const char *s)
{
	struct fsb_str r = { s, (uint32_t)strlen(s) };

	return r;
}

/* One call; the reply (success or error) is the caller's to free. */
static int call(struct fsb_client *c, struct fsb_msg *m, struct fsb_reply **rep)
{
	int rc = fsb_client_call(c, m, rep);

	if (rc == -FSB_ECONNRESET || rc == -FSB_ETIMEDOUT)
		fail_msg("%s: %s (%s)", fsb_op_name(m->op), fsb_strerror(rc), fsb_client_error(c));
	return rc;
}

static void expect_rc(const char *what, int rc, int want, struct fsb_reply *rep)
{
	const struct fsb_msg *m = rep ? fsb_reply_msg(rep) : NULL;

	if (rc == want)
		return;
	fail_msg("%s: got %s \"%.*s\", want %s", what, rc ? fsb_strerror(rc) : "OK",
	         m && m->status ? (int)m->u.error.detail.len : 0,
	         m && m->status ? m->u.error.detail.ptr : "", want ? fsb_strerror(want) : "OK");
}

static struct fsb_entry lookup(struct fsb_client *c, uint64_t parent, const char *name)
{
	struct fsb_msg m = { .op = FSB_OP_LOOKUP };
	struct fsb_reply *rep = NULL;
	struct fsb_entry e;
	int rc;

	m.u.name.parent = parent;
	m.u.name.name = S(name);
	rc = call(c, &m, &rep);
	expect_rc(name, rc, 0, rep);
	e = fsb_reply_msg(rep)->u.entry;
	fsb_reply_free(rep);
	return e;
}

static uint64_t open_node(struct fsb_client *c, uint64_t node, uint32_t flags)
{
	struct fsb_msg m = { .op = FSB_OP_OPEN };
	struct fsb_reply *rep = NULL;
	uint64_t fh;
	int rc;

	m.u.open.node = node;
	m.u.open.flags = flags;
	rc = call(c, &m, &rep);
	expect_rc("OPEN", rc, 0, rep);
	fh = fsb_reply_msg(rep)->u.open_rep.fh;
	fsb_reply_free(rep);
	return fh;
}

static int getattr(struct fsb_client *c, uint64_t node, struct fsb_attr *a)
{
	struct fsb_msg m = { .op = FSB_OP_GETATTR };
	struct fsb_reply *rep = NULL;
	int rc;

	m.u.node.node = node;
	rc = call(c, &m, &rep);
	if (!rc && a)
		*a = fsb_reply_msg(rep)->u.attr;
	fsb_reply_free(rep);
	return rc;
}

static struct fsb_resume_item node_item(int i)
{
	const struct seen *s = &g.seen[i];
	struct fsb_resume_item it;

	memset(&it, 0, sizeof(it));
	it.kind = FSB_RESUME_NODE;
	it.u.node.id = s->id;
	it.u.node.parent = s->parent < 0 ? 1 : g.seen[s->parent].id;
	it.u.node.nlookup = s->nlookup;
	it.u.node.ino = s->ino;
	it.u.node.type = s->type;
	it.u.node.name = S(s->name);
	return it;
}

static struct fsb_resume_item handle_item(uint64_t fh, uint64_t node, uint32_t flags)
{
	struct fsb_resume_item it;

	memset(&it, 0, sizeof(it));
	it.kind = FSB_RESUME_HANDLE;
	it.u.handle.fh = fh;
	it.u.handle.node = node;
	it.u.handle.flags = flags;
	return it;
}

/* RESUME; on success *rep holds the per-item results. */
static int resume(struct fsb_client *c, uint64_t gen, struct fsb_resume_item *items, uint32_t n,
                  struct fsb_reply **rep)
{
	struct fsb_msg m = { .op = FSB_OP_RESUME };

	m.u.resume.gen = gen;
	m.u.resume.count = n;
	m.u.resume.items = items;
	return call(c, &m, rep);
}

static void expect_results(const struct fsb_reply *rep, const int *want, uint32_t n)
{
	const struct fsb_resume_rep *r = &fsb_reply_msg(rep)->u.resume_rep;
	uint32_t i;

	assert_int_equal(r->count, n);
	for (i = 0; i < n; i++)
		if ((int)r->items[i].status != want[i])
			fail_msg("RESUME item %u: got %s, want %s", i,
			         r->items[i].status ? fsb_strerror((int)r->items[i].status) : "OK",
			         want[i] ? fsb_strerror(want[i]) : "OK");
}

static void disk_write(const char *rel, const char *data)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", g.dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(close(fd), 0);
}

static void disk_read(const char *rel, char *buf, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", g.dir, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static void disk_mkdir(const char *rel)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", g.dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void disk_unlink(const char *rel, int dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", g.dir, rel);
	assert_int_equal(dir ? rmdir(path) : unlink(path), 0);
}

/* ---- fixtures ------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[300];

	(void)state;
	atexit(at_exit);
	if (access(WINSIDE_BIN, X_OK) != 0) {
		fprintf(stderr, "winside not found at %s: build it first\n", WINSIDE_BIN);
		return -1;
	}
	snprintf(g.base, sizeof(g.base), "/tmp/fsb-resume-XXXXXX");
	if (!mkdtemp(g.base))
		return -1;
	snprintf(g.dir, sizeof(g.dir), "%s/export", g.base);
	snprintf(g.sock, sizeof(g.sock), "%s/ws.sock", g.base);
	snprintf(g.addr, sizeof(g.addr), "unix:%s", g.sock);
	snprintf(g.token_path, sizeof(g.token_path), "%s/token", g.base);
	snprintf(g.log_path, sizeof(g.log_path), "%s/winside.log", g.base);
	if (mkdir(g.dir, 0755))
		return -1;
	if (fsb_token_load(g.token_path, 1, g.token, sizeof(g.token), err, sizeof(err))) {
		fprintf(stderr, "token: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (g.c)
		fsb_client_close(g.c);
	g.c = NULL;
	at_exit();
	return 0;
}

/* ---- the tests -------------------------------------------------------------- */

/* Session 1: look up the tree (d1 twice), open two files, go away. */
static void t_session1(void **state)
{
	struct fsb_client *c;
	struct fsb_entry e;
	size_t i;

	(void)state;
	disk_mkdir("d1");
	disk_mkdir("d1/d2");
	disk_mkdir("gonedir");
	disk_write("d1/d2/file.txt", "");
	disk_write("d1/gone.txt", "gone");
	disk_write("d1/replaced.txt", "old");
	disk_write("gonedir/child", "child");
	disk_write("keep.txt", keep_text);
	start_server();
	/* Generations are session numbers, which start again at 1 in the
	 * next process: two sessions first, so that session 2's own
	 * generation differs from the one it must adopt. */
	for (i = 0; i < 2; i++)
		fsb_client_close(connect_with(0));
	c = connect_with(FSB_CAP_RESUME);
	assert_true(fsb_client_info(c)->caps & FSB_CAP_RESUME);
	g.gen1 = fsb_client_info(c)->root.gen;
	assert_true(g.gen1 != 0);
	for (i = 0; i < NSEEN; i++) {
		struct seen *s = &g.seen[i];

		e = lookup(c, s->parent < 0 ? 1 : g.seen[s->parent].id, s->name);
		assert_int_equal(e.gen, g.gen1);
		s->id = e.node;
		s->ino = e.attr.ino;
		s->type = e.attr.mode & FSB_S_IFMT;
		s->nlookup = 1;
	}
	e = lookup(c, 1, "d1");
	assert_int_equal(e.node, g.seen[D1].id);
	g.seen[D1].nlookup = 2;
	g.fh_write = open_node(c, g.seen[FILE_TXT].id, FSB_O_WRONLY);
	g.fh_keep = open_node(c, g.seen[KEEP].id, FSB_O_WRONLY);
	fsb_client_close(c);
}

/* The folder changes while no server runs; then a new process starts. */
static void t_restart(void **state)
{
	char path[300];
	struct stat st;
	int old;

	(void)state;
	stop_server();
	disk_unlink("d1/gone.txt", 0);
	/* Held open while its name gets a new file, so the new one cannot
	 * reuse its inode number. */
	snprintf(path, sizeof(path), "%s/d1/replaced.txt", g.dir);
	old = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(old >= 0);
	disk_unlink("d1/replaced.txt", 0);
	disk_write("d1/replaced.txt", "new");
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_ino != g.seen[REPLACED].ino);
	close(old);
	disk_unlink("gonedir/child", 0);
	disk_unlink("gonedir", 1);
	disk_write("d1/d2/new.txt", "");
	start_server();
	g.c = connect_with(FSB_CAP_RESUME);
	assert_true(fsb_client_info(g.c)->caps & FSB_CAP_RESUME);
	assert_true(fsb_client_info(g.c)->root.gen != g.gen1);
}

static void t_resume(void **state)
{
	struct fsb_resume_item items[12];
	struct fsb_reply *rep = NULL;
	const struct fsb_resume_rep *rr;
	uint32_t n = 0;
	int rc;

	(void)state;
	items[n++] = node_item(D1);
	items[n++] = node_item(D2);
	items[n++] = node_item(FILE_TXT);
	items[n++] = node_item(GONE);           /* deleted */
	items[n++] = node_item(REPLACED);       /* another file now */
	items[n++] = node_item(GONEDIR);        /* deleted */
	items[n++] = node_item(CHILD);          /* its parent failed */
	items[n++] = node_item(D1);             /* the same id again */
	items[n] = node_item(D2);               /* d2 again, under a new id */
	items[n++].u.node.id = 1000;
	items[n] = node_item(KEEP);             /* no lookups */
	items[n++].u.node.nlookup = 0;
	items[n] = node_item(KEEP);             /* id 0 */
	items[n++].u.node.id = 0;
	items[n] = node_item(KEEP);             /* the root's id */
	items[n++].u.node.id = 1;
	{
		static const int want[] = { 0, 0, 0, FSB_ENOENT, FSB_ESTALE, FSB_ENOENT, FSB_ESTALE,
		                            FSB_EINVAL, FSB_EEXIST, FSB_EINVAL, FSB_EINVAL, FSB_EINVAL };

		_Static_assert(ARRAY_SIZE(want) == ARRAY_SIZE(items), "one verdict per item");
		rc = resume(g.c, g.gen1, items, n, &rep);
		expect_rc("RESUME", rc, 0, rep);
		expect_results(rep, want, n);
	}
	rr = &fsb_reply_msg(rep)->u.resume_rep;
	assert_int_equal(rr->items[0].attr.ino, g.seen[D1].ino);
	assert_int_equal(rr->items[2].attr.ino, g.seen[FILE_TXT].ino);
	assert_int_equal(rr->items[2].attr.mode & FSB_S_IFMT, FSB_S_IFREG);
	assert_int_equal(rr->items[3].attr.ino, 0);     /* zeros on failure */
	fsb_reply_free(rep);

	/* Another generation: refused as a whole, keep.txt not adopted. */
	n = 0;
	items[n++] = node_item(KEEP);
	rc = resume(g.c, g.gen1 + 1, items, n, &rep);
	expect_rc("RESUME with another generation", rc, -FSB_EINVAL, rep);
	fsb_reply_free(rep);
	rc = resume(g.c, 0, items, n, &rep);
	expect_rc("RESUME of generation 0", rc, -FSB_EINVAL, rep);
	fsb_reply_free(rep);

	/* A second frame: the rest, and the handles. */
	n = 0;
	items[n++] = node_item(KEEP);
	items[n++] = handle_item(g.fh_write, g.seen[FILE_TXT].id, FSB_O_WRONLY);
	items[n++] = handle_item(g.fh_keep, g.seen[KEEP].id,
	                         FSB_O_WRONLY | FSB_O_TRUNC | FSB_O_CREAT);
	items[n++] = handle_item(g.fh_write + 100, g.seen[GONE].id, FSB_O_RDONLY);
	items[n++] = handle_item(g.fh_write, g.seen[D1].id, FSB_O_RDONLY | FSB_O_DIRECTORY);
	items[n++] = handle_item(0, g.seen[D1].id, FSB_O_RDONLY | FSB_O_DIRECTORY);
	items[n++] = handle_item(g.fh_write + 101, g.seen[D1].id, 1u << 20);
	{
		static const int want[] = { 0, 0, 0, FSB_ESTALE, FSB_EINVAL, FSB_EINVAL, FSB_EINVAL };

		rc = resume(g.c, g.gen1, items, n, &rep);
		expect_rc("RESUME, second frame", rc, 0, rep);
		expect_results(rep, want, n);
	}
	rr = &fsb_reply_msg(rep)->u.resume_rep;
	assert_int_equal(rr->items[0].attr.size, strlen(keep_text));
	fsb_reply_free(rep);
}

/* The resumed session works with session 1's numbers and generation. */
static void t_after_resume(void **state)
{
	struct fsb_msg m = { .op = FSB_OP_WRITE };
	struct fsb_reply *rep = NULL;
	const struct fsb_msg *r;
	struct fsb_resume_item it;
	struct fsb_entry e;
	struct fsb_attr a;
	uint64_t max_id = 0, fh;
	char buf[100];
	size_t i;
	int rc;

	(void)state;
	assert_int_equal(getattr(g.c, g.seen[D2].id, &a), 0);
	assert_int_equal(a.ino, g.seen[D2].ino);
	assert_int_equal(getattr(g.c, g.seen[FILE_TXT].id, &a), 0);
	assert_int_equal(a.ino, g.seen[FILE_TXT].ino);
	assert_int_equal(getattr(g.c, g.seen[GONE].id, NULL), -FSB_ESTALE);
	assert_int_equal(getattr(g.c, 1000, NULL), -FSB_ESTALE);

	/* An old name gives the old id and the old generation. */
	e = lookup(g.c, g.seen[D1].id, "d2");
	assert_int_equal(e.node, g.seen[D2].id);
	assert_int_equal(e.gen, g.gen1);
	for (i = 0; i < NSEEN; i++)
		if (g.seen[i].id > max_id)
			max_id = g.seen[i].id;
	e = lookup(g.c, g.seen[D2].id, "new.txt");
	assert_true(e.node > max_id);
	assert_int_equal(e.gen, g.gen1);
	e = lookup(g.c, g.seen[D1].id, "replaced.txt");
	assert_true(e.node > max_id);
	assert_true(e.node != g.seen[REPLACED].id);

	/* WRITE on the old handle lands in the file. */
	m.u.io.fh = g.fh_write;
	m.u.io.data.ptr = (const uint8_t *)"resumed";
	m.u.io.data.len = 7;
	rc = call(g.c, &m, &rep);
	expect_rc("WRITE on the resumed handle", rc, 0, rep);
	r = fsb_reply_msg(rep);
	assert_int_equal(r->u.write_rep.written, 7);
	fsb_reply_free(rep);
	disk_read("d1/d2/file.txt", buf, sizeof(buf));
	assert_string_equal(buf, "resumed");
	/* O_TRUNC in the handle item truncated nothing. */
	disk_read("keep.txt", buf, sizeof(buf));
	assert_string_equal(buf, keep_text);
	fh = open_node(g.c, g.seen[FILE_TXT].id, FSB_O_RDONLY);
	assert_true(fh > g.fh_write && fh > g.fh_keep);

	/* The window closed with the first LOOKUP. */
	it = node_item(KEEP);
	it.u.node.id = 2000;
	rc = resume(g.c, g.gen1, &it, 1, &rep);
	expect_rc("RESUME after LOOKUP", rc, -FSB_EINVAL, rep);
	fsb_reply_free(rep);
}

/* RESUME needs the capability; PING keeps the window open. */
static void t_window(void **state)
{
	struct fsb_reply *rep = NULL;
	struct fsb_msg m = { .op = FSB_OP_PING };
	struct fsb_client *c;
	int rc;

	(void)state;
	c = connect_with(0);
	assert_false(fsb_client_info(c)->caps & FSB_CAP_RESUME);
	rc = resume(c, 7, NULL, 0, &rep);
	expect_rc("RESUME without FSB_CAP_RESUME", rc, -FSB_EINVAL, rep);
	fsb_reply_free(rep);
	fsb_client_close(c);

	c = connect_with(FSB_CAP_RESUME);
	rc = call(c, &m, &rep);
	expect_rc("PING", rc, 0, rep);
	fsb_reply_free(rep);
	rc = resume(c, 7, NULL, 0, &rep);
	expect_rc("RESUME after PING", rc, 0, rep);
	assert_int_equal(fsb_reply_msg(rep)->u.resume_rep.count, 0);
	fsb_reply_free(rep);
	rc = resume(c, 7, NULL, 0, &rep);
	expect_rc("a second RESUME", rc, 0, rep);
	fsb_reply_free(rep);
	fsb_client_close(c);
}

/* ---- raw connections ---------------------------------------------------- */

static int raw_hello(uint64_t caps)
{
	struct fsb_msg m = { .op = FSB_OP_HELLO, .id = 1 };
	uint8_t *buf;
	int fd = tp_raw_connect(g.addr);

	assert_true(fd >= 0);
	m.u.hello_req.version = FSB_PROTO_VERSION;
	m.u.hello_req.caps = caps;
	m.u.hello_req.token = S(g.token);
	m.u.hello_req.export_path = S(g.dir);
	assert_int_equal(tp_raw_send(fd, &m), 0);
	assert_int_equal(tp_raw_recv(fd, &buf, &m), 0);
	assert_int_equal(m.status, 0);
	fsb_msg_release(&m);
	free(buf);
	return fd;
}

/* RESUME, LOOKUP, RESUME sent back to back: they take effect in that
 * order, so the second RESUME is refused and the LOOKUP sees the first. */
static void t_pipelined(void **state)
{
	struct fsb_resume_item it = node_item(D1);
	struct fsb_msg m, rep[3];
	uint8_t *buf[3];
	int fd, i;

	(void)state;
	fd = raw_hello(FSB_CAP_RESUME);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RESUME;
	m.id = 10;
	m.u.resume.gen = g.gen1;
	m.u.resume.count = 1;
	m.u.resume.items = &it;
	assert_int_equal(tp_raw_send(fd, &m), 0);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.id = 11;
	m.u.name.parent = g.seen[D1].id;
	m.u.name.name = S("d2");
	assert_int_equal(tp_raw_send(fd, &m), 0);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RESUME;
	m.id = 12;
	m.u.resume.gen = g.gen1;
	assert_int_equal(tp_raw_send(fd, &m), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(tp_raw_recv(fd, &buf[i], &rep[i]), 0);
	for (i = 0; i < 3; i++) {
		if (rep[i].id == 10) {
			assert_int_equal(rep[i].status, 0);
			assert_int_equal(rep[i].u.resume_rep.items[0].status, 0);
		} else if (rep[i].id == 11) {
			assert_int_equal(rep[i].status, 0);
			assert_int_equal(rep[i].u.entry.gen, g.gen1);
		} else {
			assert_int_equal(rep[i].id, 12);
			assert_int_equal(rep[i].status, FSB_EINVAL);
		}
		fsb_msg_release(&rep[i]);
		free(buf[i]);
	}
	close(fd);
}

/* A client that vanishes with requests in flight: the server closes its
 * every descriptor and goes on serving the others. */
static void t_dead_client(void **state)
{
	struct fsb_msg m;
	uint64_t id = 100;
	int base, fd, i, now = 0, waited;
	uint8_t *buf;

	(void)state;
	base = settled_fds();
	fd = raw_hello(0);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.id = id++;
	m.u.name.parent = 1;
	m.u.name.name = S("keep.txt");
	assert_int_equal(tp_raw_send(fd, &m), 0);
	assert_int_equal(tp_raw_recv(fd, &buf, &m), 0);
	assert_int_equal(m.status, 0);
	{
		uint64_t node = m.u.entry.node;

		fsb_msg_release(&m);
		free(buf);
		memset(&m, 0, sizeof(m));
		m.op = FSB_OP_OPEN;
		m.id = id++;
		m.u.open.node = node;
		assert_int_equal(tp_raw_send(fd, &m), 0);
		assert_int_equal(tp_raw_recv(fd, &buf, &m), 0);
		assert_int_equal(m.status, 0);
	}
	{
		uint64_t fh = m.u.open_rep.fh;

		fsb_msg_release(&m);
		free(buf);
		/* Reads and lookups the client never waits for. */
		for (i = 0; i < 200; i++) {
			memset(&m, 0, sizeof(m));
			m.id = id++;
			if (i % 2) {
				m.op = FSB_OP_READ;
				m.u.io.fh = fh;
				m.u.io.size = FSB_MAX_IO;
			} else {
				m.op = FSB_OP_LOOKUP;
				m.u.name.parent = 1;
				m.u.name.name = S(i % 4 ? "d1" : "keep.txt");
			}
			assert_int_equal(tp_raw_send(fd, &m), 0);
		}
	}
	assert_true(server_fds() > base);
	close(fd);
	for (waited = 0; waited < 5000; waited += 10) {
		now = server_fds();
		if (now == base)
			break;
		usleep(10000);
	}
	if (now != base)
		fail_msg("winside holds %d descriptors 5 s after its client vanished, %d before it came",
		         now, base);
	/* The resumed session is still served. */
	assert_int_equal(getattr(g.c, g.seen[FILE_TXT].id, NULL), 0);
}

static void t_stop(void **state)
{
	(void)state;
	fsb_client_close(g.c);
	g.c = NULL;
	stop_server();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_session1),
		cmocka_unit_test(t_restart),
		cmocka_unit_test(t_resume),
		cmocka_unit_test(t_after_resume),
		cmocka_unit_test(t_window),
		cmocka_unit_test(t_pipelined),
		cmocka_unit_test(t_dead_client),
		cmocka_unit_test(t_stop),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
