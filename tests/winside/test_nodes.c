/*
 * test_nodes.c - the node table and the handle table: exact lookup counts,
 * FORGET freeing, ids never reused, pins outliving FORGET, the per-session
 * handle cap, one node per file whatever the number of hard links, an
 * inode number reused by an object of another type taken for a new node, and
 * everything released when a connection drops. First on the tables alone
 * with a counting fake backend, then through the protocol against the
 * POSIX backend.
 */
#include <errno.h>
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

#include "fsb_proto.h"
#include "harness.h"
#include "ws_handles.h"
#include "ws_nodes.h"
#include "ws_posix.h"

/* ---- a fake backend that only counts what is alive ---------------------- */

static int live_nodes;
static int live_files;

static struct ws_bnode *fake_node(void)
{
	int *p = malloc(sizeof(*p));

	assert_non_null(p);
	live_nodes++;
	return (struct ws_bnode *)(void *)p;
}

static struct ws_bfile *fake_file(void)
{
	int *p = malloc(sizeof(*p));

	assert_non_null(p);
	live_files++;
	return (struct ws_bfile *)(void *)p;
}

static void fake_forget(struct ws_backend *be, struct ws_bnode *n)
{
	free(n);
	live_nodes--;
}

static int fake_release(struct ws_backend *be, struct ws_bfile *f)
{
	free(f);
	live_files--;
	return 0;
}

static const struct ws_backend_ops fake_ops = {
	.name = "fake",
	.forget = fake_forget,
	.release = fake_release,
};

static struct ws_backend fake_be = { &fake_ops };

static struct ws_ident ident(uint64_t ino)
{
	struct ws_ident k = { 1, ino, 0 };

	return k;
}

static uint64_t enter(struct ws_nodes *t, uint64_t ino, struct ws_node **pin)
{
	struct ws_ident k = ident(ino);
	uint64_t id = 0;

	assert_int_equal(ws_nodes_enter(t, fake_node(), &k, &id, pin), 0);
	return id;
}

static void t_unit_nodes(void **state)
{
	struct ws_nodes t;
	struct ws_ident k = ident(1);
	struct ws_node *n, *p;
	uint64_t id;

	live_nodes = 0;
	assert_int_equal(ws_nodes_init(&t, &fake_be, 7, fake_node(), &k), 0);
	assert_int_equal(ws_nodes_count(&t), 1);

	/* One node per identity; the duplicate grip is dropped at once. */
	assert_int_equal(enter(&t, 10, NULL), 2);
	assert_int_equal(enter(&t, 10, NULL), 2);
	assert_int_equal(enter(&t, 10, NULL), 2);
	assert_int_equal(ws_nodes_lookups(&t, 2), 3);
	assert_int_equal(live_nodes, 2);
	assert_int_equal(enter(&t, 11, NULL), 3);
	assert_int_equal(ws_nodes_count(&t), 3);

	/* Exact counts: freed at zero, not before. */
	assert_int_equal(ws_nodes_forget(&t, 2, 2), 0);
	assert_int_equal(ws_nodes_lookups(&t, 2), 1);
	assert_int_equal(live_nodes, 3);
	assert_int_equal(ws_nodes_forget(&t, 2, 1), 0);
	assert_int_equal(ws_nodes_lookups(&t, 2), 0);
	assert_null(ws_nodes_pin(&t, 2));
	assert_int_equal(live_nodes, 2);
	assert_int_equal(ws_nodes_count(&t), 2);

	/* Ids are never reused. */
	assert_int_equal(enter(&t, 10, NULL), 4);
	assert_int_equal(ws_nodes_forget(&t, 99, 1), -FSB_ESTALE);
	assert_int_equal(ws_nodes_forget(&t, 3, 5), -FSB_ERANGE);
	assert_null(ws_nodes_pin(&t, 3));
	assert_int_equal(live_nodes, 2);

	/* The root survives any FORGET. */
	ws_nodes_ref_root(&t);
	assert_int_equal(ws_nodes_forget(&t, WS_ROOT_ID, 1), 0);
	assert_int_equal(ws_nodes_forget(&t, WS_ROOT_ID, 1), -FSB_ERANGE);
	n = ws_nodes_pin(&t, WS_ROOT_ID);
	assert_non_null(n);
	ws_nodes_unpin(&t, n);

	/* A pin keeps a forgotten node alive but unreachable. */
	n = ws_nodes_pin(&t, 4);
	assert_non_null(n);
	assert_int_equal(ws_nodes_forget(&t, 4, 1), 0);
	assert_null(ws_nodes_pin(&t, 4));
	assert_int_equal(live_nodes, 2);
	/* Meanwhile the same identity gets a new node. */
	assert_int_equal(enter(&t, 10, NULL), 5);
	assert_int_equal(live_nodes, 3);
	ws_nodes_unpin(&t, n);
	assert_int_equal(live_nodes, 2);
	assert_int_equal(ws_nodes_lookups(&t, 5), 1);

	/* enter can pin, also when the node already exists. */
	id = enter(&t, 20, &p);
	assert_int_equal(id, 6);
	assert_int_equal(p->pins, 1);
	assert_int_equal(enter(&t, 20, &n), 6);
	assert_ptr_equal(n, p);
	assert_int_equal(p->pins, 2);
	ws_nodes_unpin(&t, p);
	ws_nodes_unpin(&t, p);
	k = ident(20);
	assert_int_equal(ws_nodes_ref_ident(&t, &k, &id), 1);
	assert_int_equal(id, 6);
	assert_int_equal(ws_nodes_lookups(&t, 6), 3);
	k = ident(999);
	assert_int_equal(ws_nodes_ref_ident(&t, &k, &id), 0);

	ws_nodes_release(&t);
	assert_int_equal(live_nodes, 0);
}

/* An inode number freed by a deleted file and reused by a new directory
 * must not name the file's node, which a client may still hold: creating
 * in the new directory would fail with ENOTDIR. The POSIX backend puts
 * the type in the identity, and the node table keeps one node per
 * identity. */
static void t_reused_number(void **state)
{
	struct stat file, dir;
	struct ws_bstat a, b, c;
	struct ws_nodes t;
	struct ws_ident root = ident(1);
	uint64_t ida, idb, idc;

	memset(&file, 0, sizeof(file));
	file.st_dev = 8;
	file.st_ino = 4242;
	file.st_mode = S_IFREG | 0644;
	dir = file;
	dir.st_mode = S_IFDIR | 0755;
	ws__posix_fill_bstat(&file, &a);
	ws__posix_fill_bstat(&dir, &b);
	ws__posix_fill_bstat(&file, &c);
	assert_memory_not_equal(&a.ident, &b.ident, sizeof(a.ident));
	assert_memory_equal(&a.ident, &c.ident, sizeof(a.ident));

	live_nodes = 0;
	assert_int_equal(ws_nodes_init(&t, &fake_be, 7, fake_node(), &root), 0);
	assert_int_equal(ws_nodes_enter(&t, fake_node(), &a.ident, &ida, NULL), 0);
	assert_int_equal(ws_nodes_enter(&t, fake_node(), &b.ident, &idb, NULL), 0);
	assert_int_equal(ws_nodes_enter(&t, fake_node(), &c.ident, &idc, NULL), 0);
	assert_true(ida != idb);
	assert_int_equal(ida, idc);
	ws_nodes_release(&t);
	assert_int_equal(live_nodes, 0);
}

static void t_unit_handles(void **state)
{
	struct ws_nodes t;
	struct ws_handles h;
	struct ws_ident k = ident(1);
	struct ws_node *n;
	struct ws_handle *hd;
	uint64_t fh[4], id;
	int i;

	live_nodes = live_files = 0;
	assert_int_equal(ws_nodes_init(&t, &fake_be, 1, fake_node(), &k), 0);
	assert_int_equal(ws_handles_init(&h, &fake_be, &t, 3), 0);
	id = enter(&t, 10, &n);

	for (i = 0; i < 3; i++) {
		assert_int_equal(ws_handles_reserve(&h), 0);
		if (i)
			ws_nodes_repin(&t, n);
		assert_int_equal(ws_handles_add(&h, n, fake_file(), FSB_O_RDONLY, &fh[i]), 0);
		assert_true(fh[i] != 0);
		if (i)
			assert_true(fh[i] > fh[i - 1]);
	}
	assert_int_equal(ws_handles_reserve(&h), -FSB_EMFILE);
	assert_int_equal(ws_handles_count(&h), 3);

	assert_int_equal(ws_handles_remove(&h, fh[1]), 0);
	assert_int_equal(ws_handles_remove(&h, fh[1]), -FSB_EBADF);
	assert_null(ws_handles_get(&h, fh[1]));
	assert_null(ws_handles_get(&h, 0));
	assert_int_equal(ws_handles_remove(&h, 0), -FSB_EBADF);
	assert_int_equal(live_files, 2);

	/* Room again, and the freed number is not handed out again. */
	assert_int_equal(ws_handles_reserve(&h), 0);
	ws_nodes_repin(&t, n);
	assert_int_equal(ws_handles_add(&h, n, fake_file(), FSB_O_RDONLY, &fh[3]), 0);
	assert_true(fh[3] > fh[2]);

	/* RELEASE during an operation: the file closes after it. */
	hd = ws_handles_get(&h, fh[0]);
	assert_non_null(hd);
	assert_int_equal(ws_handles_remove(&h, fh[0]), 0);
	assert_int_equal(live_files, 3);
	assert_int_equal(ws_handles_reserve(&h), 0);   /* the slot is free already */
	ws_handles_unreserve(&h);
	ws_handles_put(&h, hd);
	assert_int_equal(live_files, 2);

	/* Open handles keep their node alive past its last FORGET. */
	assert_int_equal(ws_nodes_forget(&t, id, 1), 0);
	assert_null(ws_nodes_pin(&t, id));
	assert_int_equal(live_nodes, 2);
	hd = ws_handles_get(&h, fh[2]);
	assert_non_null(hd);
	assert_int_equal(hd->node->id, id);
	ws_handles_put(&h, hd);

	/* Teardown closes everything and lets the node go. */
	ws_handles_release(&h);
	assert_int_equal(live_files, 0);
	assert_int_equal(live_nodes, 1);
	ws_nodes_release(&t);
	assert_int_equal(live_nodes, 0);
}

/* ---- through the protocol --------------------------------------------------- */

static void disk_put(const struct th *t, const char *rel)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", t->export_dir, rel);
	f = fopen(p, "w");
	if (!f)
		fail_msg("create %s: %s", p, strerror(errno));
	fputs(rel, f);
	fclose(f);
}

static void disk_mkdir(const struct th *t, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", t->export_dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
	return th_setup_with(state, 0, 0);
}

static int setup_cap4(void **state)
{
	return th_setup_with(state, 0, 4);
}


static void t_lookup_counts(void **state)
{
	struct th *t = *state;
	struct fsb_entry e;
	uint64_t n;
	int i;

	disk_put(t, "f");
	th_expect_rc("LOOKUP f", th_lookup(t, t->root, "f", &e), 0);
	n = e.node;
	assert_true(n > 1);
	for (i = 0; i < 2; i++) {
		th_expect_rc("LOOKUP f again", th_lookup(t, t->root, "f", &e), 0);
		assert_int_equal(e.node, n);
	}
	/* 3 references: forgetting 2 keeps the node. */
	assert_int_equal(th_forget(t, n, 2), 0);
	th_expect_rc("LOOKUP f after FORGET 2", th_lookup(t, t->root, "f", &e), 0);
	assert_int_equal(e.node, n);
	/* Now 2: forgetting both frees it, and the id is not reused. */
	assert_int_equal(th_forget(t, n, 2), 0);
	th_expect_rc("GETATTR a forgotten node", th_getattr(t, n, NULL), -FSB_ESTALE);
	th_expect_rc("LOOKUP f after the last FORGET", th_lookup(t, t->root, "f", &e), 0);
	assert_true(e.node > n);
	/* FORGET of unknown nodes and of too much is ignored. */
	assert_int_equal(th_forget(t, 12345, 1), 0);
	assert_int_equal(th_forget(t, e.node, 100), 0);
	th_expect_rc("PING after odd FORGETs", th_ping(t, t->fd, 1), 0);
	th_expect_rc("GETATTR the root", th_getattr(t, t->root, NULL), 0);
	assert_int_equal(th_forget(t, t->root, 100), 0);
	th_expect_rc("GETATTR the root after FORGET", th_getattr(t, t->root, NULL), 0);
}

static void t_entry_refs(void **state)
{
	struct th *t = *state;
	struct fsb_entry_rep er;
	struct fsb_entry e, a;
	uint64_t n;

	/* CREATE, MKDIR, MKNOD, SYMLINK, LINK each hand out one reference. */
	th_expect_rc("CREATE c", th_create_op(t, FSB_OP_CREATE, t->root, "c", FSB_O_RDWR | FSB_O_CREAT,
	                                   0644, &er), 0);
	assert_true(er.fh != 0);
	n = er.entry.node;
	th_expect_rc("RELEASE c", th_release(t, er.fh), 0);
	th_expect_rc("LOOKUP c", th_lookup(t, t->root, "c", &e), 0);
	assert_int_equal(e.node, n);
	assert_int_equal(th_forget(t, n, 2), 0);
	th_expect_rc("LOOKUP c after FORGET", th_lookup(t, t->root, "c", &e), 0);
	assert_true(e.node != n);

	th_expect_rc("MKDIR d", th_create_op(t, FSB_OP_MKDIR, t->root, "d", 0, 0755, &er), 0);
	assert_int_equal(er.fh, 0);
	n = er.entry.node;
	assert_int_equal(th_forget(t, n, 1), 0);
	th_expect_rc("LOOKUP d after FORGET", th_lookup(t, t->root, "d", &e), 0);
	assert_true(e.node != n);

	th_expect_rc("MKNOD p", th_create_op(t, FSB_OP_MKNOD, t->root, "p", 0, FSB_S_IFIFO | 0600, &er), 0);
	n = er.entry.node;
	th_expect_rc("LOOKUP p", th_lookup(t, t->root, "p", &e), 0);
	assert_int_equal(e.node, n);
	assert_int_equal(th_forget(t, n, 1), 0);
	th_expect_rc("LOOKUP p with one ref left", th_lookup(t, t->root, "p", &e), 0);
	assert_int_equal(e.node, n);
	assert_int_equal(th_forget(t, n, 2), 0);
	th_expect_rc("LOOKUP p after FORGET", th_lookup(t, t->root, "p", &e), 0);
	assert_true(e.node != n);

	th_expect_rc("SYMLINK s", th_symlink(t, t->root, "s", "c", &er), 0);
	n = er.entry.node;
	assert_int_equal(th_forget(t, n, 1), 0);
	th_expect_rc("LOOKUP s after FORGET", th_lookup(t, t->root, "s", &e), 0);
	assert_true(e.node != n);

	disk_put(t, "a");
	th_expect_rc("LOOKUP a", th_lookup(t, t->root, "a", &a), 0);
	th_expect_rc("LINK a as b", th_link(t, a.node, t->root, "b", &er), 0);
	assert_int_equal(er.entry.node, a.node);
	assert_int_equal(er.entry.attr.nlink, 2);
	/* a: LOOKUP + LINK = 2 */
	assert_int_equal(th_forget(t, a.node, 1), 0);
	th_expect_rc("LOOKUP b", th_lookup(t, t->root, "b", &e), 0);
	assert_int_equal(e.node, a.node);
	assert_int_equal(th_forget(t, a.node, 2), 0);
	th_expect_rc("LOOKUP b after FORGET", th_lookup(t, t->root, "b", &e), 0);
	assert_true(e.node != a.node);
}

static void t_readdir_refs(void **state)
{
	struct th *t = *state;
	const struct fsb_readdir_rep *rd;
	struct fsb_entry d, x, e;
	uint64_t fh, ids[3] = { 0 }, cookies[3] = { 0 }, cookie;
	char names[3][8];
	uint32_t i, total = 0;
	int pages = 0;

	disk_mkdir(t, "dir");
	disk_put(t, "dir/x");
	disk_put(t, "dir/y");
	disk_put(t, "dir/z");
	th_expect_rc("LOOKUP dir", th_lookup(t, t->root, "dir", &d), 0);
	th_expect_rc("LOOKUP x", th_lookup(t, d.node, "x", &x), 0);
	th_expect_rc("OPEN dir", th_open(t, d.node, FSB_O_RDONLY | FSB_O_DIRECTORY, &fh), 0);
	th_expect_rc("READDIRPLUS", th_readdir(t, d.node, fh, 0, 65536), 0);
	rd = &th_last()->m.u.readdir_rep;
	assert_int_equal(rd->count, 3);
	assert_int_equal(rd->eof, 1);
	for (i = 0; i < 3; i++) {
		const struct fsb_dirent *de = &rd->ents[i];

		assert_int_equal(de->name.len, 1);
		if (de->name.ptr[0] == 'x')
			assert_int_equal(de->entry.node, x.node);
		else
			assert_true(de->entry.node != x.node && de->entry.node > 1);
		assert_int_equal(de->entry.attr.size, 5);
		if (de->name.ptr[0] == 'y')
			ids[1] = de->entry.node;
	}
	/* x: LOOKUP + READDIRPLUS = 2. */
	assert_int_equal(th_forget(t, x.node, 1), 0);
	th_expect_rc("LOOKUP x", th_lookup(t, d.node, "x", &e), 0);
	assert_int_equal(e.node, x.node);
	assert_int_equal(th_forget(t, x.node, 2), 0);
	/* y: READDIRPLUS = 1. */
	assert_int_equal(th_forget(t, ids[1], 1), 0);
	th_expect_rc("LOOKUP y after FORGET", th_lookup(t, d.node, "y", &e), 0);
	assert_true(e.node != ids[1]);

	/* One entry per page: cookies chain, the end is reported, and a
	 * cookie taken earlier resumes right after its entry. */
	cookie = 0;
	for (;;) {
		th_expect_rc("READDIRPLUS page", th_readdir(t, d.node, fh, cookie,
		                                         (uint32_t)fsb_dirent_wire_size(1) + 8), 0);
		rd = &th_last()->m.u.readdir_rep;
		assert_true(++pages <= 5);
		if (rd->count == 0) {
			assert_int_equal(rd->eof, 1);
			break;
		}
		assert_int_equal(rd->count, 1);
		assert_true(total < 3);
		snprintf(names[total], sizeof(names[total]), "%.*s", (int)rd->ents[0].name.len,
		         rd->ents[0].name.ptr);
		cookies[total] = rd->ents[0].cookie;
		cookie = rd->ents[0].cookie;
		total++;
		if (rd->eof)
			break;
	}
	assert_int_equal(total, 3);
	th_expect_rc("READDIRPLUS resume", th_readdir(t, d.node, fh, cookies[0], 65536), 0);
	rd = &th_last()->m.u.readdir_rep;
	assert_int_equal(rd->count, 2);
	assert_memory_equal(rd->ents[0].name.ptr, names[1], 1);
	assert_memory_equal(rd->ents[1].name.ptr, names[2], 1);
	th_expect_rc("READDIRPLUS too small", th_readdir(t, d.node, fh, 0, 16), -FSB_EINVAL);
	th_expect_rc("READDIRPLUS on a file handle", th_readdir(t, d.node, 0, 0, 4096), -FSB_EBADF);
	th_expect_rc("RELEASE dir", th_release(t, fh), 0);
}

static void t_handle_cap(void **state)
{
	struct th *t = *state;
	struct fsb_entry e[6], d;
	uint64_t fh[6], extra;
	char name[8];
	int i, j;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		disk_put(t, name);
		th_expect_rc("LOOKUP fN", th_lookup(t, t->root, name, &e[i]), 0);
	}
	disk_mkdir(t, "d");
	th_expect_rc("LOOKUP d", th_lookup(t, t->root, "d", &d), 0);
	for (i = 0; i < 4; i++) {
		th_expect_rc("OPEN fN", th_open(t, e[i].node, FSB_O_RDONLY, &fh[i]), 0);
		assert_true(fh[i] != 0);
		for (j = 0; j < i; j++)
			assert_true(fh[i] != fh[j]);
	}
	th_expect_rc("OPEN past the cap", th_open(t, e[4].node, FSB_O_RDONLY, &extra), -FSB_EMFILE);
	if (!strstr(th_detail(th_last()), "max-handles"))
		fail_msg("EMFILE detail \"%s\" does not point at --max-handles", th_detail(th_last()));
	th_expect_rc("OPEN a directory past the cap", th_open(t, d.node, FSB_O_RDONLY | FSB_O_DIRECTORY,
	          &extra), -FSB_EMFILE);
	th_expect_rc("CREATE past the cap", th_create_op(t, FSB_OP_CREATE, t->root, "new",
	          FSB_O_RDWR | FSB_O_CREAT, 0644, NULL), -FSB_EMFILE);
	{
		char p[PATH_MAX];
		struct stat st;

		snprintf(p, sizeof(p), "%s/new", t->export_dir);
		assert_int_equal(lstat(p, &st), -1);
	}
	th_expect_rc("RELEASE one", th_release(t, fh[2]), 0);
	th_expect_rc("OPEN after RELEASE", th_open(t, e[4].node, FSB_O_RDONLY, &fh[4]), 0);
	assert_true(fh[4] > fh[3]);
	th_expect_rc("RELEASE twice", th_release(t, fh[2]), -FSB_EBADF);
	th_expect_rc("RELEASE fh 0", th_release(t, 0), -FSB_EBADF);
	for (i = 0; i < 5; i++)
		if (i != 2)
			th_expect_rc("RELEASE", th_release(t, fh[i]), 0);
	th_expect_rc("OPEN with all released", th_open(t, e[5].node, FSB_O_RDONLY, &fh[5]), 0);
	th_expect_rc("RELEASE last", th_release(t, fh[5]), 0);
}

static void t_hardlinks_one_node(void **state)
{
	struct th *t = *state;
	char a[PATH_MAX], b[PATH_MAX];
	struct fsb_entry o, e, s;
	struct fsb_entry_rep er;

	disk_put(t, "orig");
	disk_put(t, "other");
	disk_mkdir(t, "sub");
	snprintf(a, sizeof(a), "%s/orig", t->export_dir);
	snprintf(b, sizeof(b), "%s/twin", t->export_dir);
	assert_int_equal(link(a, b), 0);
	snprintf(b, sizeof(b), "%s/sub/third", t->export_dir);
	assert_int_equal(link(a, b), 0);

	th_expect_rc("LOOKUP orig", th_lookup(t, t->root, "orig", &o), 0);
	assert_int_equal(o.attr.nlink, 3);
	th_expect_rc("LOOKUP twin", th_lookup(t, t->root, "twin", &e), 0);
	assert_int_equal(e.node, o.node);
	th_expect_rc("LOOKUP sub", th_lookup(t, t->root, "sub", &s), 0);
	th_expect_rc("LOOKUP sub/third", th_lookup(t, s.node, "third", &e), 0);
	assert_int_equal(e.node, o.node);
	th_expect_rc("LINK orig as sub/fourth", th_link(t, o.node, s.node, "fourth", &er), 0);
	assert_int_equal(er.entry.node, o.node);
	assert_int_equal(er.entry.attr.nlink, 4);
	th_expect_rc("LOOKUP other", th_lookup(t, t->root, "other", &e), 0);
	assert_true(e.node != o.node);
	/* References add up across names: 3 LOOKUPs + 1 LINK. */
	assert_int_equal(th_forget(t, o.node, 3), 0);
	th_expect_rc("LOOKUP twin with one ref left", th_lookup(t, t->root, "twin", &e), 0);
	assert_int_equal(e.node, o.node);
}

static void t_pipelined(void **state)
{
	struct th *t = *state;
	struct th_reply rep = { 0 };
	struct fsb_entry f;
	struct fsb_msg m;
	uint64_t fh;
	char seen[401] = { 0 };
	int i;

	disk_put(t, "f");
	th_expect_rc("LOOKUP f", th_lookup(t, t->root, "f", &f), 0);
	th_expect_rc("OPEN f", th_open(t, f.node, FSB_O_RDONLY, &fh), 0);
	/* Everything goes out before any reply is read: many requests in
	 * flight, replies in any order, each exactly once. */
	for (i = 1; i <= 400; i++) {
		memset(&m, 0, sizeof(m));
		m.id = 100000 + (uint64_t)i;
		switch (i % 4) {
		case 0:
			m.op = FSB_OP_PING;
			m.u.ping.nonce = (uint64_t)i;
			break;
		case 1:
			m.op = FSB_OP_GETATTR;
			m.u.node.node = f.node;
			break;
		case 2:
			m.op = FSB_OP_READ;
			m.u.io.fh = fh;
			m.u.io.size = 100;
			break;
		default:
			m.op = FSB_OP_LOOKUP;
			m.u.name.parent = t->root;
			m.u.name.name = th_s("f");
			break;
		}
		assert_int_equal(th_send(t, t->fd, &m), 0);
	}
	for (i = 1; i <= 400; i++) {
		uint64_t k;

		assert_int_equal(th_recv(t->fd, &rep), 0);
		k = rep.m.id - 100000;
		assert_true(k >= 1 && k <= 400);
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		assert_int_equal(rep.m.status, 0);
		if (rep.m.op == FSB_OP_READ)
			assert_int_equal(rep.m.u.read_rep.data.len, 1);
		if (rep.m.op == FSB_OP_PING)
			assert_int_equal(rep.m.u.ping.nonce, k);
	}
	th_reply_free(&rep);
	assert_int_equal(th_forget(t, f.node, 101), 0);
	th_expect_rc("RELEASE f", th_release(t, fh), 0);
}

static int do_io(struct th *t, uint16_t op, uint64_t fh, uint64_t off, const char *data,
                 uint32_t size)
{
	struct fsb_msg m;

	memset(&m, 0, sizeof(m));
	m.op = op;
	m.u.io.fh = fh;
	m.u.io.offset = off;
	m.u.io.size = size;
	if (data) {
		m.u.io.data.ptr = (const uint8_t *)data;
		m.u.io.data.len = size;
	}
	return th_call(t, t->fd, &m, th_last());
}

/* A handle keeps the semantics it was opened with. */
static void t_handle_flags(void **state)
{
	struct th *t = *state;
	struct fsb_entry_rep er;
	struct fsb_entry d;
	uint64_t ro, dfh;

	th_expect_rc("CREATE log append", th_create_op(t, FSB_OP_CREATE, t->root, "log",
	          FSB_O_WRONLY | FSB_O_CREAT | FSB_O_APPEND, 0644, &er), 0);
	th_expect_rc("WRITE at 0", do_io(t, FSB_OP_WRITE, er.fh, 0, "one,", 4), 0);
	th_expect_rc("WRITE at 0 again", do_io(t, FSB_OP_WRITE, er.fh, 0, "two", 3), 0);
	assert_int_equal(th_last()->m.u.write_rep.written, 3);
	assert_int_equal(th_last()->m.u.write_rep.attr.size, 7);
	th_expect_rc("READ via a write-only handle", do_io(t, FSB_OP_READ, er.fh, 0, NULL, 10), -FSB_EBADF);
	th_expect_rc("RELEASE log", th_release(t, er.fh), 0);

	th_expect_rc("OPEN log ro", th_open(t, er.entry.node, FSB_O_RDONLY, &ro), 0);
	th_expect_rc("READ log", do_io(t, FSB_OP_READ, ro, 0, NULL, 100), 0);
	assert_int_equal(th_last()->m.u.read_rep.data.len, 7);
	assert_memory_equal(th_last()->m.u.read_rep.data.ptr, "one,two", 7);
	th_expect_rc("WRITE via a read-only handle", do_io(t, FSB_OP_WRITE, ro, 0, "x", 1), -FSB_EBADF);
	th_expect_rc("RELEASE ro", th_release(t, ro), 0);

	disk_mkdir(t, "dd");
	th_expect_rc("LOOKUP dd", th_lookup(t, t->root, "dd", &d), 0);
	th_expect_rc("OPEN dd as a file for writing", th_open(t, d.node, FSB_O_RDWR, &dfh), -FSB_EISDIR);
	th_expect_rc("OPEN log as a directory", th_open(t, er.entry.node, FSB_O_RDONLY | FSB_O_DIRECTORY,
	          &dfh), -FSB_ENOTDIR);
	th_expect_rc("OPEN dd", th_open(t, d.node, FSB_O_RDONLY | FSB_O_DIRECTORY, &dfh), 0);
	th_expect_rc("READ a directory handle", do_io(t, FSB_OP_READ, dfh, 0, NULL, 10), -FSB_EISDIR);
	th_expect_rc("RELEASE dd", th_release(t, dfh), 0);
}

static void t_disconnect_releases(void **state)
{
	struct th *t = *state;
	struct th_reply rep = { 0 };
	struct fsb_entry e;
	uint64_t fh;
	char name[16];
	int baseline, fd, saved, i, n;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "g%02d", i);
		disk_put(t, name);
	}
	baseline = th_count_fds();
	fd = th_connect(t);
	th_expect_rc("HELLO", th_hello(t, fd, TH_TOKEN, t->export_dir, FSB_PROTO_VERSION, &rep), 0);
	th_reply_free(&rep);
	saved = t->fd;
	t->fd = fd;
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "g%02d", i);
		th_expect_rc("LOOKUP gNN", th_lookup(t, t->root, name, &e), 0);
		if (i % 2 == 0)
			th_expect_rc("OPEN gNN", th_open(t, e.node, i % 4 ? FSB_O_RDWR : FSB_O_RDONLY, &fh), 0);
	}
	t->fd = saved;
	n = th_count_fds();
	/* 10 open files, two socket ends, and a grip per node where the file
	 * system gives no file handles. */
	if (n < baseline + 10)
		fail_msg("%d fds with 20 nodes and 10 handles, baseline %d", n, baseline);
	close(fd);
	assert_int_equal(th_wait_sessions(t, 1), 0);
	n = th_count_fds();
	if (n != baseline)
		fail_msg("%d fds after the connection dropped, baseline %d", n, baseline);
	th_expect_rc("PING on the remaining connection", th_ping(t, t->fd, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_unit_nodes),
		cmocka_unit_test(t_unit_handles),
		cmocka_unit_test(t_reused_number),
		cmocka_unit_test_setup_teardown(t_lookup_counts, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_entry_refs, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_readdir_refs, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_handle_cap, setup_cap4, th_teardown),
		cmocka_unit_test_setup_teardown(t_hardlinks_one_node, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_handle_flags, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_pipelined, setup, th_teardown),
		cmocka_unit_test_setup_teardown(t_disconnect_releases, setup, th_teardown),
	};

	return cmocka_run_group_tests_name("winside nodes and handles", tests, NULL, NULL);
}
