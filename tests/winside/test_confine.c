/*
 * test_confine.c - a client cannot reach anything outside the export:
 * hostile names, symbolic links (followed by nobody), directories swapped
 * for links after lookup, requests before HELLO, bad tokens, read-only
 * exports. The server runs in-process (core + POSIX backend) behind a
 * socketpair and is spoken to in raw frames; results are checked both in
 * the replies and on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fsb_proto.h"
#include "harness.h"
#include "ws_check.h"
#include "ws_posix.h"
#include "ws_server.h"

/* ---- helpers ----------------------------------------------------------------- */

/* The error detail must say which request failed. */
static void expect_detail_names(const char *what, const char *op)
{
	const char *d = th_detail(th_last());

	if (!strstr(d, op))
		fail_msg("%s: error detail \"%s\" does not name %s", what, d, op);
}

static void disk_put(const struct th *t, const char *rel, const char *content)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", t->export_dir, rel);
	f = fopen(p, "w");
	if (!f)
		fail_msg("create %s: %s", p, strerror(errno));
	fputs(content, f);
	fclose(f);
}

static void disk_expect(const struct th *t, const char *rel, const char *content)
{
	char p[PATH_MAX], buf[256];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", t->export_dir, rel);
	f = fopen(p, "r");
	if (!f)
		fail_msg("open %s: %s", p, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strcmp(buf, content))
		fail_msg("%s holds \"%s\", want \"%s\"", p, buf, content);
}

static int disk_exists(const char *dir, const char *rel)
{
	char p[2 * PATH_MAX + 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static void expect_outside_empty(const struct th *t)
{
	int n = th_count_entries(t->outside);

	if (n != 0)
		fail_msg("%d entries appeared in %s, outside the export", n, t->outside);
	/* Nothing but export/ and outside/ next to the export either. */
	n = th_count_entries(t->base);
	if (n != 2)
		fail_msg("%s holds %d entries, want 2 (export, outside)", t->base, n);
}

static int do_node_op(struct th *t, uint16_t op, uint64_t node)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.u.node.node = node;
	return th_call(t, t->fd, &m, th_last());
}

static int do_setattr(struct th *t, uint64_t node, uint32_t valid, uint32_t mode, uint64_t size)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_SETATTR;
	m.u.setattr.node = node;
	m.u.setattr.valid = valid;
	m.u.setattr.mode = mode;
	m.u.setattr.size = size;
	m.u.setattr.mtime.sec = 12345;
	return th_call(t, t->fd, &m, th_last());
}

static int do_write(struct th *t, uint64_t fh, const char *data)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_WRITE;
	m.u.io.fh = fh;
	m.u.io.size = (uint32_t)strlen(data);
	m.u.io.data.ptr = (const uint8_t *)data;
	m.u.io.data.len = (uint32_t)strlen(data);
	return th_call(t, t->fd, &m, th_last());
}

static int do_read(struct th *t, uint64_t fh, uint32_t size)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_READ;
	m.u.io.fh = fh;
	m.u.io.size = size;
	return th_call(t, t->fd, &m, th_last());
}

static int setup(void **state)
{
	return th_setup_with(state, 0, 0);
}

static int setup_ro(void **state)
{
	return th_setup_with(state, 1, 0);
}


/* ---- names ---------------------------------------------------------------------- */

static const char *const bad_names[] = {
	"..", ".", "", "/etc", "a/b", "../x", "/", "x/", "../../etc/passwd", "./x",
};
#define NBAD (sizeof(bad_names) / sizeof(bad_names[0]))

static void t_bad_names(void **state)
{
	struct th *t = *state;
	struct fsb_entry f, d;
	char what[200];
	size_t i;
	int rc;

	disk_put(t, "file", "data");
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/dir", t->export_dir);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	th_expect_rc("LOOKUP file", th_lookup(t, t->root, "file", &f), 0);
	th_expect_rc("LOOKUP dir", th_lookup(t, t->root, "dir", &d), 0);

	for (i = 0; i < NBAD; i++) {
		const char *n = bad_names[i];
		uint64_t parents[2] = { t->root, d.node };
		size_t p;

		for (p = 0; p < 2; p++) {
			uint64_t par = parents[p];

			snprintf(what, sizeof(what), "LOOKUP \"%s\" in node %llu", n, (unsigned long long)par);
			th_expect_rc(what, th_lookup(t, par, n, NULL), -FSB_EINVAL);
			expect_detail_names(what, "LOOKUP");
			snprintf(what, sizeof(what), "CREATE \"%s\"", n);
			th_expect_rc(what, th_create_op(t, FSB_OP_CREATE, par, n, FSB_O_RDWR | FSB_O_CREAT,
			                             0644, NULL), -FSB_EINVAL);
			expect_detail_names(what, "CREATE");
			snprintf(what, sizeof(what), "MKDIR \"%s\"", n);
			th_expect_rc(what, th_create_op(t, FSB_OP_MKDIR, par, n, 0, 0755, NULL), -FSB_EINVAL);
			expect_detail_names(what, "MKDIR");
			snprintf(what, sizeof(what), "MKNOD \"%s\"", n);
			th_expect_rc(what, th_create_op(t, FSB_OP_MKNOD, par, n, 0, FSB_S_IFREG | 0644, NULL),
			          -FSB_EINVAL);
			snprintf(what, sizeof(what), "SYMLINK \"%s\"", n);
			th_expect_rc(what, th_symlink(t, par, n, "/etc", NULL), -FSB_EINVAL);
			expect_detail_names(what, "SYMLINK");
			snprintf(what, sizeof(what), "LINK file as \"%s\"", n);
			th_expect_rc(what, th_link(t, f.node, par, n, NULL), -FSB_EINVAL);
			expect_detail_names(what, "LINK");
			snprintf(what, sizeof(what), "RENAME file to \"%s\"", n);
			th_expect_rc(what, th_rename(t, t->root, "file", par, n), -FSB_EINVAL);
			expect_detail_names(what, "RENAME");
			snprintf(what, sizeof(what), "RENAME \"%s\" to moved", n);
			th_expect_rc(what, th_rename(t, par, n, d.node, "moved"), -FSB_EINVAL);
			snprintf(what, sizeof(what), "UNLINK \"%s\"", n);
			th_expect_rc(what, th_name_op(t, FSB_OP_UNLINK, par, n), -FSB_EINVAL);
			expect_detail_names(what, "UNLINK");
			snprintf(what, sizeof(what), "RMDIR \"%s\"", n);
			th_expect_rc(what, th_name_op(t, FSB_OP_RMDIR, par, n), -FSB_EINVAL);
			expect_detail_names(what, "RMDIR");
		}
	}
	/* Control characters reach the detail escaped. */
	th_expect_rc("LOOKUP a name with a newline", th_lookup(t, t->root, "a\nfake log line", NULL),
	          -FSB_ENOENT);
	if (!strstr(th_detail(th_last()), "\"a\\x0afake log line\" in node 1"))
		fail_msg("detail \"%s\" does not show the name escaped", th_detail(th_last()));

	/* The connection survived all of it, and nothing moved. */
	rc = th_ping(t, t->fd, 77);
	th_expect_rc("PING after the bad names", rc, 0);
	expect_outside_empty(t);
	assert_int_equal(th_count_entries(t->export_dir), 2);
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/dir", t->export_dir);
		assert_int_equal(th_count_entries(p), 0);
	}
	disk_expect(t, "file", "data");
}

/* Names the encoder itself refuses (an embedded NUL, 256 bytes) are sent
 * as hand-made frames: the server's decoder must refuse them and close
 * that connection, and only that one. */
static void send_raw_name(struct th *t, const char *name, size_t len, const char *what)
{
	struct th_reply rep = { 0 };
	uint8_t buf[512];
	size_t n;
	int fd;

	fd = th_connect(t);
	th_expect_rc("HELLO", th_hello(t, fd, TH_TOKEN, t->export_dir, FSB_PROTO_VERSION, &rep), 0);
	th_reply_free(&rep);
	n = th_raw_lookup(buf, sizeof(buf), 1000, t->root, name, len);
	assert_int_equal(th_send_raw(fd, buf, n), 0);
	if (!th_expect_closed(fd))
		fail_msg("%s: the server did not close the connection", what);
	close(fd);
}

/*
 * Every op that carries a name, with that name made hostile after
 * encoding (the encoder rightly refuses to produce such frames): the
 * placeholder name is found in the frame, given a NUL byte or a 256th
 * byte, and the frame is re-checksummed.
 */
static char placeholder_buf[FSB_NAME_MAX + 1];

/* A name of exactly FSB_NAME_MAX bytes, unlikely to occur elsewhere in a
 * frame. */
static const char *placeholder(void)
{
	if (!placeholder_buf[0])
		memset(placeholder_buf, 'Q', FSB_NAME_MAX);
	return placeholder_buf;
}
#define PLACEHOLDER placeholder()

static void put_le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Re-seal a hand-edited frame: length and checksum. */
static void reseal(uint8_t *f, size_t len)
{
	put_le(f, len, 4);
	put_le(f + 8, XXH3_64bits(f + 16, len - 16), 8);
}

static void send_mutated(struct th *t, struct fsb_msg *m, int too_long, const char *what)
{
	struct th_reply rep = { 0 };
	struct fsb_wbuf wb;
	struct fsb_msg dm;
	uint8_t *f, *q;
	size_t len, off;
	int fd, rc;

	fsb_wbuf_init(&wb);
	m->id = 4242;
	assert_int_equal(fsb_msg_encode(&wb, m), 0);
	q = memmem(wb.data, wb.len, PLACEHOLDER, strlen(PLACEHOLDER));
	assert_non_null(q);
	off = (size_t)(q - wb.data);
	f = malloc(wb.len + 1);
	assert_non_null(f);
	if (too_long) {
		/* The u32 length sits right before the bytes. */
		assert_int_equal(wb.data[off - 4], strlen(PLACEHOLDER));
		memcpy(f, wb.data, off + 1);
		memcpy(f + off + 1, wb.data + off, wb.len - off);
		put_le(f + off - 4, strlen(PLACEHOLDER) + 1, 4);
		len = wb.len + 1;
	} else {
		memcpy(f, wb.data, wb.len);
		f[off + 7] = '\0';
		len = wb.len;
	}
	reseal(f, len);
	/* The edit, not a broken seal, is what the decoder must object to:
	 * the same reseal of the untouched frame decodes fine. */
	reseal(wb.data, wb.len);
	assert_int_equal(fsb_msg_decode(wb.data, wb.len, &dm), 0);
	fsb_msg_release(&dm);
	rc = fsb_msg_decode(f, len, &dm);
	if (rc == 0 || rc == -FSB_EFRAME_CSUM || rc == -FSB_EFRAME_SHORT)
		fail_msg("%s: the hostile frame decodes as %d (%s)", what, rc, fsb_strerror(rc));
	fsb_wbuf_release(&wb);

	fd = th_connect(t);
	th_expect_rc("HELLO", th_hello(t, fd, TH_TOKEN, t->export_dir, FSB_PROTO_VERSION, &rep), 0);
	th_reply_free(&rep);
	assert_int_equal(th_send_raw(fd, f, len), 0);
	free(f);
	if (!th_expect_closed(fd))
		fail_msg("%s with a %s name: the server did not close the connection", what,
		         too_long ? "256-byte" : "NUL-carrying");
	close(fd);
}

static void t_hostile_names_every_op(void **state)
{
	struct th *t = *state;
	static const uint16_t ops[] = { FSB_OP_LOOKUP, FSB_OP_CREATE, FSB_OP_MKDIR, FSB_OP_MKNOD,
	                                FSB_OP_SYMLINK, FSB_OP_LINK, FSB_OP_RENAME, FSB_OP_RENAME,
	                                FSB_OP_UNLINK, FSB_OP_RMDIR };
	struct fsb_entry f;
	struct fsb_msg m;
	size_t i;
	int too_long;

	disk_put(t, "file", "data");
	th_expect_rc("LOOKUP file", th_lookup(t, t->root, "file", &f), 0);
	assert_int_equal(strlen(PLACEHOLDER), FSB_NAME_MAX);
	for (too_long = 0; too_long < 2; too_long++) {
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			memset(&m, 0, sizeof(m));
			m.op = ops[i];
			switch (ops[i]) {
			case FSB_OP_LOOKUP:
			case FSB_OP_UNLINK:
			case FSB_OP_RMDIR:
				m.u.name.parent = t->root;
				m.u.name.name = th_s(PLACEHOLDER);
				break;
			case FSB_OP_CREATE:
			case FSB_OP_MKDIR:
			case FSB_OP_MKNOD:
				m.u.create.parent = t->root;
				m.u.create.name = th_s(PLACEHOLDER);
				m.u.create.flags = ops[i] == FSB_OP_CREATE ? FSB_O_RDWR | FSB_O_CREAT : 0;
				m.u.create.mode = ops[i] == FSB_OP_MKNOD ? FSB_S_IFREG | 0644 : 0755;
				break;
			case FSB_OP_SYMLINK:
				m.u.symlink.parent = t->root;
				m.u.symlink.name = th_s(PLACEHOLDER);
				m.u.symlink.target = th_s("/etc");
				break;
			case FSB_OP_LINK:
				m.u.link.node = f.node;
				m.u.link.newparent = t->root;
				m.u.link.newname = th_s(PLACEHOLDER);
				break;
			default:
				/* Once the old name, once the new one. */
				m.u.rename.olddir = t->root;
				m.u.rename.oldname = th_s(i == 6 ? PLACEHOLDER : "file");
				m.u.rename.newdir = t->root;
				m.u.rename.newname = th_s(i == 6 ? "moved" : PLACEHOLDER);
				break;
			}
			send_mutated(t, &m, too_long, fsb_op_name(ops[i]));
		}
	}
	th_expect_rc("PING after the hostile frames", th_ping(t, t->fd, 8), 0);
	assert_int_equal(th_count_entries(t->export_dir), 1);
	disk_expect(t, "file", "data");
	expect_outside_empty(t);
}

static void t_nul_and_long_names(void **state)
{
	struct th *t = *state;
	char name[300];
	char why[200], out[FSB_NAME_MAX + 1];
	struct fsb_str s;

	disk_put(t, "a", "x");
	send_raw_name(t, "a\0b", 3, "LOOKUP \"a\\0b\"");
	send_raw_name(t, "a\0", 2, "LOOKUP \"a\\0\"");
	send_raw_name(t, "\0", 1, "LOOKUP \"\\0\"");
	send_raw_name(t, "..\0x", 4, "LOOKUP \"..\\0x\"");
	memset(name, 'a', sizeof(name));
	send_raw_name(t, name, FSB_NAME_MAX + 1, "LOOKUP of a 256-byte name");
	send_raw_name(t, name, 299, "LOOKUP of a 299-byte name");

	/* A 255-byte name is a name. */
	name[FSB_NAME_MAX] = '\0';
	th_expect_rc("LOOKUP of a 255-byte name", th_lookup(t, t->root, name, NULL), -FSB_ENOENT);
	th_expect_rc("PING after the raw frames", th_ping(t, t->fd, 5), 0);

	/* The core's own check refuses them too, should a decoder ever let
	 * one through. */
	s.ptr = "a\0b";
	s.len = 3;
	assert_int_equal(ws__name_check(s, out, why, sizeof(why)), -FSB_EINVAL);
	memset(name, 'b', sizeof(name));
	s.ptr = name;
	s.len = FSB_NAME_MAX + 1;
	assert_int_equal(ws__name_check(s, out, why, sizeof(why)), -FSB_ENAMETOOLONG);
	s.len = FSB_NAME_MAX;
	assert_int_equal(ws__name_check(s, out, why, sizeof(why)), 0);
	assert_int_equal(strlen(out), FSB_NAME_MAX);
	expect_outside_empty(t);
}

static void t_name_check_unit(void **state)
{
	static const char *const good[] = { "a", "...", ".hidden", "a b", "..x", "x..", "\xc3\xa9t\xc3\xa9", "-" };
	char why[200], out[FSB_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < NBAD; i++) {
		if (ws__name_check(th_s(bad_names[i]), out, why, sizeof(why)) != -FSB_EINVAL)
			fail_msg("ws__name_check accepted \"%s\"", bad_names[i]);
		assert_true(why[0] != '\0');
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (ws__name_check(th_s(good[i]), out, why, sizeof(why)))
			fail_msg("ws__name_check refused \"%s\": %s", good[i], why);
		assert_string_equal(out, good[i]);
	}
	/* Names in logs and details cannot forge lines. */
	ws__printable(th_s("a\nb\\c\x1b[0m"), out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x5cc\\x1b[0m");
	ws__printable(th_s("abcdefghij"), out, 8);
	assert_string_equal(out, "abcd...");
}

/* ---- links ------------------------------------------------------------------------ */

static void t_symlink_escape(void **state)
{
	struct th *t = *state;
	const char *links[4][2] = {
		{ "etc_link", "/etc" },
		{ "up_link", "../.." },
		{ "out_abs", t->outside },
		{ "out_rel", "../outside" },
	};
	char uniq[64], p[PATH_MAX], target[PATH_MAX], what[200];
	struct fsb_entry f, l;
	struct fsb_attr a;
	struct stat st;
	uint64_t fh;
	size_t i;
	ssize_t n;

	snprintf(uniq, sizeof(uniq), "fsb-confine-%d", (int)getpid());
	disk_put(t, "file", "data");
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", t->export_dir, links[i][0]);
		assert_int_equal(symlink(links[i][1], p), 0);
	}
	th_expect_rc("LOOKUP file", th_lookup(t, t->root, "file", &f), 0);

	for (i = 0; i < 4; i++) {
		const char *ln = links[i][0];

		snprintf(what, sizeof(what), "LOOKUP %s", ln);
		th_expect_rc(what, th_lookup(t, t->root, ln, &l), 0);
		if ((l.attr.mode & FSB_S_IFMT) != FSB_S_IFLNK)
			fail_msg("LOOKUP %s: mode %o, want the link itself (S_IFLNK)", ln, l.attr.mode);
		snprintf(p, sizeof(p), "%s/%s", t->export_dir, ln);
		assert_int_equal(lstat(p, &st), 0);
		assert_int_equal(l.attr.ino, (uint64_t)st.st_ino);

		th_expect_rc("GETATTR link", th_getattr(t, l.node, &a), 0);
		assert_int_equal(a.mode & FSB_S_IFMT, FSB_S_IFLNK);
		th_expect_rc("READLINK link", do_node_op(t, FSB_OP_READLINK, l.node), 0);
		assert_int_equal(th_last()->m.u.readlink_rep.target.len, strlen(links[i][1]));
		assert_memory_equal(th_last()->m.u.readlink_rep.target.ptr, links[i][1], strlen(links[i][1]));

		snprintf(what, sizeof(what), "OPEN %s", ln);
		th_expect_rc(what, th_open(t, l.node, FSB_O_RDONLY, &fh), -FSB_ELOOP);
		expect_detail_names(what, "OPEN");
		th_expect_rc(what, th_open(t, l.node, FSB_O_RDONLY | FSB_O_DIRECTORY, &fh), -FSB_ELOOP);
		th_expect_rc(what, th_open(t, l.node, FSB_O_RDWR, &fh), -FSB_ELOOP);
		th_expect_rc(what, th_open(t, l.node, FSB_O_WRONLY | FSB_O_TRUNC, &fh), -FSB_ELOOP);

		snprintf(what, sizeof(what), "LOOKUP passwd under %s", ln);
		th_expect_rc(what, th_lookup(t, l.node, "passwd", NULL), -FSB_ENOTDIR);
		th_expect_rc(what, th_lookup(t, l.node, "hosts", NULL), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "CREATE under %s", ln);
		th_expect_rc(what, th_create_op(t, FSB_OP_CREATE, l.node, uniq, FSB_O_RDWR | FSB_O_CREAT,
		                             0644, NULL), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "MKDIR under %s", ln);
		th_expect_rc(what, th_create_op(t, FSB_OP_MKDIR, l.node, uniq, 0, 0755, NULL), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "MKNOD under %s", ln);
		th_expect_rc(what, th_create_op(t, FSB_OP_MKNOD, l.node, uniq, 0, FSB_S_IFREG | 0644, NULL),
		          -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "SYMLINK under %s", ln);
		th_expect_rc(what, th_symlink(t, l.node, uniq, "x", NULL), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "LINK file under %s", ln);
		th_expect_rc(what, th_link(t, f.node, l.node, uniq, NULL), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "RENAME file under %s", ln);
		th_expect_rc(what, th_rename(t, t->root, "file", l.node, uniq), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "UNLINK under %s", ln);
		th_expect_rc(what, th_name_op(t, FSB_OP_UNLINK, l.node, "passwd"), -FSB_ENOTDIR);
		snprintf(what, sizeof(what), "RMDIR under %s", ln);
		th_expect_rc(what, th_name_op(t, FSB_OP_RMDIR, l.node, "x"), -FSB_ENOTDIR);

		snprintf(what, sizeof(what), "SETATTR mode of %s", ln);
		th_expect_rc(what, do_setattr(t, l.node, FSB_SET_MODE, 0777, 0), -FSB_ENOTSUP);
		snprintf(what, sizeof(what), "SETATTR size of %s", ln);
		th_expect_rc(what, do_setattr(t, l.node, FSB_SET_SIZE, 0, 0), -FSB_EINVAL);

		/* Creating over the link's name must not create its target. */
		snprintf(what, sizeof(what), "CREATE over %s", ln);
		th_expect_rc(what, th_create_op(t, FSB_OP_CREATE, t->root, ln, FSB_O_RDWR | FSB_O_CREAT,
		                             0644, NULL), -FSB_ELOOP);
		th_expect_rc(what, th_create_op(t, FSB_OP_CREATE, t->root, ln,
		                             FSB_O_WRONLY | FSB_O_CREAT | FSB_O_TRUNC, 0644, NULL), -FSB_ELOOP);
		th_expect_rc(what, th_create_op(t, FSB_OP_CREATE, t->root, ln,
		                             FSB_O_RDWR | FSB_O_CREAT | FSB_O_EXCL, 0644, NULL), -FSB_EEXIST);
		snprintf(what, sizeof(what), "MKDIR over %s", ln);
		th_expect_rc(what, th_create_op(t, FSB_OP_MKDIR, t->root, ln, 0, 0755, NULL), -FSB_EEXIST);

		/* The link may be renamed and removed like any entry. */
		snprintf(p, sizeof(p), "%s/%s", t->export_dir, ln);
		n = readlink(p, target, sizeof(target) - 1);
		assert_true(n > 0);
		target[n] = '\0';
		assert_string_equal(target, links[i][1]);
	}
	expect_outside_empty(t);
	if (disk_exists("/etc", uniq) || disk_exists("/tmp", uniq))
		fail_msg("%s appeared outside the export", uniq);
	disk_expect(t, "file", "data");

	/* Removing a link removes the link, never its target. */
	th_expect_rc("UNLINK out_abs", th_name_op(t, FSB_OP_UNLINK, t->root, "out_abs"), 0);
	assert_int_equal(disk_exists(t->export_dir, "out_abs"), 0);
	assert_int_equal(access(t->outside, F_OK), 0);
	th_expect_rc("RMDIR out_rel", th_name_op(t, FSB_OP_RMDIR, t->root, "out_rel"), -FSB_ENOTDIR);
	assert_int_equal(access(t->outside, F_OK), 0);
}

static void t_dir_replaced_by_link(void **state)
{
	struct th *t = *state;
	char d[PATH_MAX], dold[PATH_MAX], p[2 * PATH_MAX];
	struct fsb_entry de, le, sub;
	struct fsb_entry_rep er;

	snprintf(d, sizeof(d), "%s/d", t->export_dir);
	snprintf(dold, sizeof(dold), "%s/d.old", t->export_dir);
	assert_int_equal(mkdir(d, 0755), 0);
	th_expect_rc("LOOKUP d", th_lookup(t, t->root, "d", &de), 0);

	/* Swap the directory for a link to the outside after the lookup. */
	assert_int_equal(rename(d, dold), 0);
	assert_int_equal(symlink(t->outside, d), 0);

	/* The node still is the directory it was, wherever it now lives. */
	th_expect_rc("CREATE f in the old d", th_create_op(t, FSB_OP_CREATE, de.node, "f",
	          FSB_O_RDWR | FSB_O_CREAT, 0644, &er), 0);
	th_expect_rc("RELEASE f", th_release(t, er.fh), 0);
	assert_int_equal(disk_exists(dold, "f"), 1);
	th_expect_rc("MKDIR sub in the old d", th_create_op(t, FSB_OP_MKDIR, de.node, "sub", 0, 0755, NULL), 0);
	assert_int_equal(disk_exists(dold, "sub"), 1);
	th_expect_rc("LOOKUP sub", th_lookup(t, de.node, "sub", &sub), 0);
	th_expect_rc("SYMLINK in the old d", th_symlink(t, de.node, "ln", "/etc", NULL), 0);
	expect_outside_empty(t);

	/* A fresh lookup of the name finds the link, which leads nowhere. */
	th_expect_rc("LOOKUP d again", th_lookup(t, t->root, "d", &le), 0);
	assert_int_equal(le.attr.mode & FSB_S_IFMT, FSB_S_IFLNK);
	assert_true(le.node != de.node);
	th_expect_rc("CREATE under the new d", th_create_op(t, FSB_OP_CREATE, le.node, "g",
	          FSB_O_RDWR | FSB_O_CREAT, 0644, NULL), -FSB_ENOTDIR);

	/* Swap sub too, one level down, through the node of its parent. */
	snprintf(p, sizeof(p), "%s/sub", dold);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(symlink("../../outside", p), 0);
	th_expect_rc("CREATE in the removed sub", th_create_op(t, FSB_OP_CREATE, sub.node, "h",
	          FSB_O_RDWR | FSB_O_CREAT, 0644, NULL), -FSB_ENOENT);
	th_expect_rc("LOOKUP sub again", th_lookup(t, de.node, "sub", &le), 0);
	assert_int_equal(le.attr.mode & FSB_S_IFMT, FSB_S_IFLNK);
	th_expect_rc("MKDIR under the new sub", th_create_op(t, FSB_OP_MKDIR, le.node, "x", 0, 0755, NULL),
	          -FSB_ENOTDIR);
	expect_outside_empty(t);
}

/* ---- sessions --------------------------------------------------------------------- */

static void t_before_hello(void **state)
{
	struct th *t = *state;
	static const uint16_t ops[] = { FSB_OP_LOOKUP, FSB_OP_GETATTR, FSB_OP_PING, FSB_OP_STATFS,
	                                FSB_OP_READ, FSB_OP_FORGET, FSB_OP_MKDIR };
	struct th_reply rep = { 0 };
	struct fsb_forget_item it = { 1, 1 };
	struct fsb_msg m;
	size_t i;
	int fd, rc;

	disk_put(t, "secret", "s3cret");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		fd = th_connect(t);
		memset(&m, 0, sizeof(m));
		m.op = ops[i];
		switch (ops[i]) {
		case FSB_OP_LOOKUP:
			m.u.name.parent = 1;
			m.u.name.name = th_s("secret");
			break;
		case FSB_OP_MKDIR:
			m.u.create.parent = 1;
			m.u.create.name = th_s("pwned");
			m.u.create.mode = 0755;
			break;
		case FSB_OP_READ:
			m.u.io.fh = 1;
			m.u.io.size = 10;
			break;
		case FSB_OP_FORGET:
			m.u.forget.count = 1;
			m.u.forget.items = &it;
			break;
		default:
			m.u.node.node = 1;
			break;
		}
		assert_int_equal(th_send(t, fd, &m), 0);
		rc = th_recv(fd, &rep);
		if (rc == 0) {
			if (rep.m.status == 0)
				fail_msg("%s before HELLO was served", fsb_op_name(ops[i]));
			if (!strstr(th_detail(&rep), "HELLO"))
				fail_msg("%s before HELLO: detail \"%s\" does not mention HELLO",
				         fsb_op_name(ops[i]), th_detail(&rep));
			if (!th_expect_closed(fd))
				fail_msg("%s before HELLO: the connection stayed open", fsb_op_name(ops[i]));
		} else if (rc != 1 && rc != -ECONNRESET) {
			fail_msg("%s before HELLO: neither an error reply nor a close (%d)",
			         fsb_op_name(ops[i]), rc);
		}
		th_reply_free(&rep);
		close(fd);
	}
	assert_int_equal(disk_exists(t->export_dir, "pwned"), 0);

	/* Garbage instead of a frame. */
	fd = th_connect(t);
	assert_int_equal(th_send_raw(fd, "GET / HTTP/1.1\r\n\r\n", 18), 0);
	assert_true(th_expect_closed(fd));
	close(fd);
	th_expect_rc("PING on the good connection", th_ping(t, t->fd, 3), 0);
}

static void expect_refused(struct th *t, const char *token, const char *export_path,
                           uint32_t version, int want, const char *what)
{
	struct th_reply rep = { 0 };
	int fd = th_connect(t), rc;

	rc = th_hello(t, fd, token, export_path, version, &rep);
	if (rc != want)
		fail_msg("%s: got %d (%s) \"%s\", want %d (%s)", what, rc, rc ? fsb_strerror(rc) : "OK",
		         th_detail(&rep), want, fsb_strerror(want));
	if (!th_detail(&rep)[0])
		fail_msg("%s: the refusal carries no detail", what);
	th_reply_free(&rep);
	if (!th_expect_closed(fd))
		fail_msg("%s: the connection stayed open after a refused HELLO", what);
	close(fd);
}

static void t_hello_refusals(void **state)
{
	struct th *t = *state;
	struct th_reply rep = { 0 };
	char tok[sizeof(TH_TOKEN) + 1];
	int fd;

	snprintf(tok, sizeof(tok), "%s", TH_TOKEN);
	tok[10] = tok[10] == 'f' ? 'e' : 'f';
	expect_refused(t, tok, t->export_dir, FSB_PROTO_VERSION, -FSB_EAUTH, "HELLO, one wrong character");
	expect_refused(t, "", t->export_dir, FSB_PROTO_VERSION, -FSB_EAUTH, "HELLO, empty token");
	snprintf(tok, sizeof(tok), "%s", TH_TOKEN);
	tok[sizeof(TH_TOKEN) - 2] = '\0';
	expect_refused(t, tok, t->export_dir, FSB_PROTO_VERSION, -FSB_EAUTH, "HELLO, token prefix");
	snprintf(tok, sizeof(tok), "%sx", TH_TOKEN);
	expect_refused(t, tok, t->export_dir, FSB_PROTO_VERSION, -FSB_EAUTH, "HELLO, token + x");
	expect_refused(t, TH_TOKEN, t->export_dir, 0, -FSB_EVERSION, "HELLO, version 0");
	expect_refused(t, TH_TOKEN, "/definitely/not/exported", FSB_PROTO_VERSION, -FSB_ENOEXPORT,
	               "HELLO, unknown export");
	/* The unknown export is named; a bad token must not reveal exports. */
	fd = th_connect(t);
	assert_int_equal(th_hello(t, fd, TH_TOKEN, "/definitely/not/exported", FSB_PROTO_VERSION, &rep),
	                 -FSB_ENOEXPORT);
	assert_string_equal(th_detail(&rep), "export not found: /definitely/not/exported");
	close(fd);
	fd = th_connect(t);
	assert_int_equal(th_hello(t, fd, "nope", "/definitely/not/exported", FSB_PROTO_VERSION, &rep),
	                 -FSB_EAUTH);
	close(fd);

	/* An empty export path picks the first export. */
	fd = th_connect(t);
	th_expect_rc("HELLO with no export", th_hello(t, fd, TH_TOKEN, "", FSB_PROTO_VERSION, &rep), 0);
	assert_int_equal(rep.m.u.hello_rep.root.node, 1);
	assert_int_equal(rep.m.u.hello_rep.root.attr.mode & FSB_S_IFMT, FSB_S_IFDIR);
	assert_int_equal(rep.m.u.hello_rep.caps & FSB_CAP_READONLY, 0);
	assert_true(rep.m.u.hello_rep.caps & FSB_CAP_SYMLINKS);
	/* A second HELLO on a set-up connection is refused, not obeyed. */
	assert_int_equal(th_hello(t, fd, TH_TOKEN, "", FSB_PROTO_VERSION, &rep), -FSB_EPROTO);
	assert_int_equal(th_ping(t, fd, 9), 0);
	th_reply_free(&rep);
	close(fd);
}

/* An export is found by the path as given or by its canonical path. */
static void t_hello_export_names(void **state)
{
	struct th *t = *state;
	struct ws_server_opts o;
	struct ws_export ex;
	struct ws_backend *be;
	struct th_reply rep = { 0 };
	struct ws_server *saved = t->srv;
	char alias[PATH_MAX], slash[PATH_MAX], err[200];
	int fd;

	snprintf(alias, sizeof(alias), "%s/alias", t->base);
	snprintf(slash, sizeof(slash), "%s/", t->export_dir);
	assert_int_equal(symlink("export", alias), 0);
	assert_int_equal(ws_posix_backend_new(alias, &be, err, sizeof(err)), 0);
	memset(&ex, 0, sizeof(ex));
	ex.path = alias;
	ex.canonical = t->export_dir;
	ex.be = be;
	memset(&o, 0, sizeof(o));
	o.exports = &ex;
	o.nexports = 1;
	o.token = TH_TOKEN;
	assert_int_equal(ws_server_new(&o, &t->srv, err, sizeof(err)), 0);

	fd = th_connect(t);
	th_expect_rc("HELLO by the given path", th_hello(t, fd, TH_TOKEN, alias, 1, &rep), 0);
	close(fd);
	fd = th_connect(t);
	th_expect_rc("HELLO by the canonical path", th_hello(t, fd, TH_TOKEN, t->export_dir, 1, &rep), 0);
	close(fd);
	th_reply_free(&rep);
	expect_refused(t, TH_TOKEN, slash, 1, -FSB_ENOEXPORT, "HELLO by another spelling");
	ws_server_free(t->srv);
	t->srv = saved;
	unlink(alias);
}

static void t_corrupt_frame(void **state)
{
	struct th *t = *state;
	struct th_reply rep = { 0 };
	struct fsb_wbuf wb;
	struct fsb_msg m;
	int fd;

	fd = th_connect(t);
	th_expect_rc("HELLO", th_hello(t, fd, TH_TOKEN, t->export_dir, 1, &rep), 0);
	th_reply_free(&rep);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.id = 5;
	fsb_wbuf_init(&wb);
	assert_int_equal(fsb_msg_encode(&wb, &m), 0);
	wb.data[wb.len - 1] ^= 0x40;
	assert_int_equal(th_send_raw(fd, wb.data, wb.len), 0);
	fsb_wbuf_release(&wb);
	assert_true(th_expect_closed(fd));
	close(fd);

	/* A reply frame from a client is a protocol violation too. */
	fd = th_connect(t);
	th_expect_rc("HELLO", th_hello(t, fd, TH_TOKEN, t->export_dir, 1, &rep), 0);
	th_reply_free(&rep);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_PING;
	m.flags = FSB_F_REPLY;
	m.id = 6;
	assert_int_equal(th_send(t, fd, &m), 0);
	assert_true(th_expect_closed(fd));
	close(fd);
	th_expect_rc("PING on the good connection", th_ping(t, t->fd, 4), 0);
}

/* ---- read-only ---------------------------------------------------------------------- */

static void t_readonly(void **state)
{
	struct th *t = *state;
	char p[PATH_MAX];
	struct fsb_entry f, d, l;
	uint64_t fh, dfh;
	int i;

	disk_put(t, "f", "keep");
	snprintf(p, sizeof(p), "%s/d", t->export_dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/ln", t->export_dir);
	assert_int_equal(symlink("f", p), 0);
	assert_true(t->caps & FSB_CAP_READONLY);

	th_expect_rc("ro LOOKUP f", th_lookup(t, t->root, "f", &f), 0);
	th_expect_rc("ro LOOKUP d", th_lookup(t, t->root, "d", &d), 0);
	th_expect_rc("ro LOOKUP ln", th_lookup(t, t->root, "ln", &l), 0);
	th_expect_rc("ro GETATTR", th_getattr(t, f.node, NULL), 0);
	th_expect_rc("ro READLINK", do_node_op(t, FSB_OP_READLINK, l.node), 0);
	th_expect_rc("ro STATFS", do_node_op(t, FSB_OP_STATFS, t->root), 0);
	th_expect_rc("ro OPEN rdonly", th_open(t, f.node, FSB_O_RDONLY, &fh), 0);
	th_expect_rc("ro READ", do_read(t, fh, 100), 0);
	assert_int_equal(th_last()->m.u.read_rep.data.len, 4);
	th_expect_rc("ro WRITE", do_write(t, fh, "x"), -FSB_EROFS);
	expect_detail_names("ro WRITE", "WRITE");
	th_expect_rc("ro RELEASE", th_release(t, fh), 0);
	th_expect_rc("ro OPEN dir", th_open(t, t->root, FSB_O_RDONLY | FSB_O_DIRECTORY, &dfh), 0);
	th_expect_rc("ro READDIRPLUS", th_readdir(t, t->root, dfh, 0, 65536), 0);
	assert_int_equal(th_last()->m.u.readdir_rep.count, 3);
	th_expect_rc("ro RELEASE dir", th_release(t, dfh), 0);

	th_expect_rc("ro OPEN wronly", th_open(t, f.node, FSB_O_WRONLY, &fh), -FSB_EROFS);
	th_expect_rc("ro OPEN rdwr", th_open(t, f.node, FSB_O_RDWR, &fh), -FSB_EROFS);
	th_expect_rc("ro OPEN rdonly|trunc", th_open(t, f.node, FSB_O_RDONLY | FSB_O_TRUNC, &fh), -FSB_EROFS);
	th_expect_rc("ro OPEN creat", th_open(t, f.node, FSB_O_RDONLY | FSB_O_CREAT, &fh), -FSB_EROFS);
	th_expect_rc("ro CREATE", th_create_op(t, FSB_OP_CREATE, t->root, "new", FSB_O_RDWR | FSB_O_CREAT,
	                                    0644, NULL), -FSB_EROFS);
	expect_detail_names("ro CREATE", "CREATE");
	th_expect_rc("ro MKDIR", th_create_op(t, FSB_OP_MKDIR, t->root, "nd", 0, 0755, NULL), -FSB_EROFS);
	th_expect_rc("ro MKNOD", th_create_op(t, FSB_OP_MKNOD, t->root, "nn", 0, FSB_S_IFIFO | 0644, NULL),
	          -FSB_EROFS);
	th_expect_rc("ro SYMLINK", th_symlink(t, t->root, "nl", "f", NULL), -FSB_EROFS);
	th_expect_rc("ro LINK", th_link(t, f.node, t->root, "hard", NULL), -FSB_EROFS);
	th_expect_rc("ro UNLINK", th_name_op(t, FSB_OP_UNLINK, t->root, "f"), -FSB_EROFS);
	th_expect_rc("ro UNLINK ln", th_name_op(t, FSB_OP_UNLINK, t->root, "ln"), -FSB_EROFS);
	th_expect_rc("ro RMDIR", th_name_op(t, FSB_OP_RMDIR, t->root, "d"), -FSB_EROFS);
	th_expect_rc("ro RENAME", th_rename(t, t->root, "f", t->root, "g"), -FSB_EROFS);
	th_expect_rc("ro SETATTR mode", do_setattr(t, f.node, FSB_SET_MODE, 0777, 0), -FSB_EROFS);
	th_expect_rc("ro SETATTR size", do_setattr(t, f.node, FSB_SET_SIZE, 0, 0), -FSB_EROFS);
	th_expect_rc("ro SETATTR mtime", do_setattr(t, f.node, FSB_SET_MTIME, 0, 0), -FSB_EROFS);
	th_expect_rc("ro SETATTR times now", do_setattr(t, d.node, FSB_SET_ATIME_NOW | FSB_SET_MTIME_NOW, 0, 0),
	          -FSB_EROFS);
	th_expect_rc("ro SETATTR owner", do_setattr(t, f.node, FSB_SET_UID | FSB_SET_GID, 0, 0), -FSB_EROFS);
	for (i = 0; i < 3; i++)
		th_expect_rc("ro FSYNC-free PING", th_ping(t, t->fd, (uint64_t)i), 0);

	/* Nothing changed on disk. */
	assert_int_equal(th_count_entries(t->export_dir), 3);
	snprintf(p, sizeof(p), "%s/d", t->export_dir);
	assert_int_equal(th_count_entries(p), 0);
	disk_expect(t, "f", "keep");
	{
		struct stat st;

		snprintf(p, sizeof(p), "%s/f", t->export_dir);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		assert_true(st.st_mtime != 12345);
	}
	expect_outside_empty(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_name_check_unit),
		cmocka_unit_test_setup_teardown(t_bad_names, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_nul_and_long_names, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_hostile_names_every_op, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_symlink_escape, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_dir_replaced_by_link, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_before_hello, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_hello_refusals, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_hello_export_names, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_corrupt_frame, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_readonly, setup_ro, th_teardown),
	};

	return cmocka_run_group_tests_name("winside confinement", tests, NULL, NULL);
}
