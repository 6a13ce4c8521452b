/*
 * posix_suite DIR [CASE...]
 *
 * Runs a fixed list of POSIX behaviour cases inside DIR (each in its own
 * subdirectory DIR/CASE) and prints a normalised transcript: one line per
 * step, "case/step: result". A result is a return value, "-ENAME" for a
 * failure, or an observed value that must be the same on every Linux disk
 * (sizes, nlink, content hashes, mode bits, file types, entry counts).
 * Values that legitimately differ between file systems (inode numbers,
 * devices, absolute times, block counts, directory sizes, readdir order)
 * are never printed; relations between them are ("same inode: yes").
 *
 * The transcript is meant to be diffed against one taken on a native file
 * system: this program does not judge results itself. It exits 0 when every
 * step ran, 2 on usage errors, 3 when it could not set a case up (DIR not
 * writable, out of memory).
 *
 *   posix_suite -l          lists the cases
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define KiB 1024L
#define MiB (1024L * KiB)
#define GiB (1024L * MiB)

static const char *g_case = "main";
static char g_root[PATH_MAX];
static int g_harness_errors;

/* ---- transcript --------------------------------------------------------- */

static void say(const char *step, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const char *step, const char *fmt, ...)
{
	va_list ap;

	printf("%s/%s: ", g_case, step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *ename(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

enum show_kind { SHOW_NUM, SHOW_FD };

static long show(const char *step, long r, int e, enum show_kind kind)
{
	if (r < 0)
		say(step, "-%s", ename(e));
	else if (kind == SHOW_FD)
		say(step, "fd");
	else
		say(step, "%ld", r);
	return r;
}

/* RC prints the return value (or -ERRNO); FD prints "fd" for a descriptor,
 * whose number is nobody's business. Both keep errno. */
#define RC(step, expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
	show((step), r_, e_, SHOW_NUM); errno = e_; r_; })
#define FD(step, expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
	show((step), r_, e_, SHOW_FD); errno = e_; (int)r_; })

static void yesno(const char *step, int cond)
{
	say(step, "%s", cond ? "yes" : "no");
}

/* A set-up step of a case failed: that is an observation like any other
 * (it goes into the transcript, where the diff shows it), not a reason to
 * stop. */
static void harness(const char *what)
{
	say("setup", "%s -%s", what, ename(errno));
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "posix_suite: out of memory\n");
		exit(3);
	}
	return p;
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV0 0xcbf29ce484222325ULL

/* Deterministic, non-periodic bytes: the value depends on the absolute offset
 * so that data landing at the wrong place is caught. */
static unsigned char pat(uint64_t off, unsigned seed)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ULL + seed * 0x632be59bd9b4e019ULL;

	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 17));
}

static void fill(unsigned char *b, size_t n, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i, seed);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates PATH holding N pattern bytes; returns 0 or -1 (errno set). */
static int make_file(const char *path, size_t n, unsigned seed)
{
	unsigned char *b = xmalloc(n ? n : 1);
	int fd, rc = -1;

	fill(b, n, 0, seed);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		rc = write_all(fd, b, n);
		if (close(fd) < 0)
			rc = -1;
	}
	free(b);
	return rc;
}

static int make_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, text, strlen(text));
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Prints "SIZE:HASH" of a file's content, read through a fresh descriptor. */
static void content(const char *step, const char *path)
{
	char buf[65536];
	uint64_t h = FNV0;
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		say(step, "-%s", ename(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, (size_t)n);
		total += n;
	}
	if (n < 0)
		say(step, "-%s after %lld bytes", ename(errno), total);
	else
		say(step, "%lld:%016llx", total, (unsigned long long)h);
	close(fd);
}

/* Same, for the first LEN bytes at OFF of an open descriptor, via pread. */
static void pcontent(const char *step, int fd, off_t off, size_t len)
{
	unsigned char *b = xmalloc(len ? len : 1);
	ssize_t n = pread(fd, b, len, off);

	if (n < 0)
		say(step, "-%s", ename(errno));
	else
		say(step, "%zd:%016llx", n, (unsigned long long)fnv(FNV0, b, (size_t)n));
	free(b);
}

/* Quotes text for a transcript line: one step stays on one line whatever
 * bytes the text holds. Returns a static buffer. */
static const char *q(const char *p, size_t n)
{
	static char out[2][1024];
	static int which;
	char *o = out[which ^= 1];
	size_t k = 0;

	o[k++] = '"';
	for (size_t i = 0; i < n && k < sizeof(out[0]) - 8; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\' || c == '"')
			k += (size_t)sprintf(o + k, "\\%c", c);
		else if (c == '\n')
			k += (size_t)sprintf(o + k, "\\n");
		else if (c < 0x20 || c == 0x7f)
			k += (size_t)sprintf(o + k, "\\x%02x", c);
		else
			o[k++] = (char)c;
	}
	o[k++] = '"';
	o[k] = 0;
	return o;
}

/* Reads exactly what a file should hold and says whether it does. */
static void text_is(const char *step, const char *path, const char *want)
{
	char buf[4096];
	size_t wl = strlen(want);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		say(step, "-%s", ename(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		say(step, "-%s", ename(errno));
		return;
	}
	buf[n] = 0;
	if ((size_t)n == wl && memcmp(buf, want, wl) == 0)
		say(step, "%s", q(want, wl));
	else
		say(step, "MISMATCH (%zd bytes, want %zu)", n, wl);
}

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	default: return "?";
	}
}

static void print_stat(const char *step, int r, const struct stat *st, int with_size)
{
	if (r < 0) {
		say(step, "-%s", ename(errno));
		return;
	}
	if (with_size)
		say(step, "%s %04o nlink=%lu size=%lld", ftype(st->st_mode),
		    (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink,
		    (long long)st->st_size);
	else
		say(step, "%s %04o nlink=%lu", ftype(st->st_mode),
		    (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink);
}

/* stat, lstat and fstat summaries: type, permission bits, nlink, size.
 * Directory sizes differ between file systems, so they are left out. */
static void st(const char *step, const char *path)
{
	struct stat s;
	int r = stat(path, &s);

	print_stat(step, r, &s, r == 0 && !S_ISDIR(s.st_mode));
}

static void lst(const char *step, const char *path)
{
	struct stat s;
	int r = lstat(path, &s);

	print_stat(step, r, &s, r == 0 && !S_ISDIR(s.st_mode));
}

static void fst(const char *step, int fd)
{
	struct stat s;
	int r = fstat(fd, &s);

	print_stat(step, r, &s, r == 0 && !S_ISDIR(s.st_mode));
}

static long long size_of(const char *path)
{
	struct stat s;

	return stat(path, &s) < 0 ? -1 : (long long)s.st_size;
}

static int same_inode(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return 0;
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

/* Timestamps come from a clock that ticks in jiffies; sleeping past a tick
 * makes "the operation changed ctime" a deterministic observation. */
static void tick(void)
{
	struct timespec t = { 0, 30 * 1000 * 1000 };

	nanosleep(&t, NULL);
}

/* Sets a fixed, long-past mtime so that "mtime changed" after an operation
 * does not depend on clock granularity. */
static const struct timespec OLD_TIMES[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

static void set_old_times(const char *path)
{
	if (utimensat(AT_FDCWD, path, OLD_TIMES, 0) < 0)
		harness("utimensat (old times)");
}

static int mtime_changed(const char *path)
{
	struct stat s;

	if (stat(path, &s) < 0)
		return 0;
	return ts_cmp(s.st_mtim, OLD_TIMES[1]) != 0;
}

static int fmtime_changed(int fd)
{
	struct stat s;

	if (fstat(fd, &s) < 0)
		return 0;
	return ts_cmp(s.st_mtim, OLD_TIMES[1]) != 0;
}

static struct timespec ctime_of(const char *path)
{
	struct stat s;
	struct timespec zero = { 0, 0 };

	return lstat(path, &s) < 0 ? zero : s.st_ctim;
}

/* Number of entries in a directory other than "." and "..". */
static long dir_count(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	long n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void count(const char *step, const char *path)
{
	long n = dir_count(path);

	if (n < 0)
		say(step, "-%s", ename((int)-n));
	else
		say(step, "%ld", n);
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static long renameat2_(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* ---- cases -------------------------------------------------------------- */

static void c_excl(void)
{
	char name[300];
	int fd;

	fd = FD("open_excl_new", open("f", O_WRONLY | O_CREAT | O_EXCL, 0666));
	RC("write", write(fd, "abc", 3));
	close(fd);
	st("stat_new", "f");
	fd = FD("open_excl_existing", open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (fd >= 0)
		close(fd);
	fd = FD("open_creat_existing", open("f", O_WRONLY | O_CREAT, 0600));
	if (fd >= 0)
		close(fd);
	st("creat_keeps_content_and_mode", "f");
	fd = FD("open_excl_mode0600", open("g", O_WRONLY | O_CREAT | O_EXCL, 0600));
	if (fd >= 0)
		close(fd);
	st("stat_mode0600", "g");
	fd = FD("open_excl_mode0777", open("x", O_WRONLY | O_CREAT | O_EXCL, 0777));
	if (fd >= 0)
		close(fd);
	st("stat_mode0777_umask022", "x");

	RC("symlink_dangling", symlink("target-created-through-link", "dl"));
	fd = FD("open_excl_on_dangling_symlink", open("dl", O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (fd >= 0)
		close(fd);
	fd = FD("open_creat_through_dangling_symlink", open("dl", O_WRONLY | O_CREAT, 0644));
	if (fd >= 0)
		close(fd);
	st("link_target_created", "target-created-through-link");

	fd = FD("open_missing", open("missing", O_RDONLY));
	RC("mkdir", mkdir("d", 0755));
	fd = FD("open_dir_wronly", open("d", O_WRONLY));
	fd = FD("open_dir_rdonly", open("d", O_RDONLY));
	if (fd >= 0)
		close(fd);
	fd = FD("open_creat_dir", open("d", O_RDONLY | O_CREAT, 0644));
	if (fd >= 0)
		close(fd);
	fd = FD("open_file_o_directory", open("f", O_RDONLY | O_DIRECTORY));
	fd = FD("open_file_as_dir_component", open("f/x", O_RDONLY));
	fd = FD("open_creat_missing_parent", open("nope/x", O_WRONLY | O_CREAT, 0644));
	fd = FD("open_creat_trailing_slash", open("newname/", O_WRONLY | O_CREAT, 0644));

	memset(name, 'n', 255);
	name[255] = 0;
	fd = FD("open_name_255", open(name, O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (fd >= 0)
		close(fd);
	st("stat_name_255", name);
	memset(name, 'm', 256);
	name[256] = 0;
	fd = FD("open_name_256", open(name, O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (fd >= 0)
		close(fd);
	st("stat_name_256", name);
	RC("mkdir_name_256", mkdir(name, 0755));
	RC("symlink_name_256", symlink("f", name));
	RC("link_name_256", link("f", name));
	RC("rename_to_name_256", rename("f", name));
	RC("mkfifo_name_256", mkfifo(name, 0644));
	fd = FD("write_to_rdonly_fd", open("f", O_RDONLY));
	if (fd >= 0) {
		RC("write_ebadf", write(fd, "x", 1));
		close(fd);
	}
	count("entries", ".");
}

static void c_trunc(void)
{
	int fd;

	if (make_file("f", 1000, 1) < 0)
		harness("make_file");
	set_old_times("f");
	fd = FD("open_trunc", open("f", O_WRONLY | O_TRUNC));
	fst("fstat_after_trunc", fd);
	yesno("mtime_changed", fmtime_changed(fd));
	RC("write", write(fd, "0123456789", 10));
	close(fd);
	st("stat_after_write", "f");
	text_is("content", "f", "0123456789");

	fd = FD("open_rdwr_trunc", open("f", O_RDWR | O_TRUNC));
	RC("lseek_cur", lseek(fd, 0, SEEK_CUR));
	RC("lseek_end", lseek(fd, 0, SEEK_END));
	RC("write2", write(fd, "xy", 2));
	close(fd);
	text_is("content2", "f", "xy");

	/* Linux truncates even when the file is opened read-only. */
	fd = FD("open_rdonly_trunc", open("f", O_RDONLY | O_TRUNC));
	if (fd >= 0) {
		fst("fstat_rdonly_trunc", fd);
		close(fd);
	}
	st("stat_rdonly_trunc", "f");
}

static void c_append(void)
{
	char line[64];
	int a, b;

	if (make_text("f", "start\n") < 0)
		harness("make_text");
	a = FD("open_append_a", open("f", O_WRONLY | O_APPEND));
	b = FD("open_append_b", open("f", O_WRONLY | O_APPEND));
	if (a < 0 || b < 0)
		return;
	int bad = 0;
	for (int i = 0; i < 50; i++) {
		int n = snprintf(line, sizeof(line), "a-%02d\n", i);
		if (write(a, line, (size_t)n) != n)
			bad++;
		n = snprintf(line, sizeof(line), "bb-%02d\n", i);
		if (write(b, line, (size_t)n) != n)
			bad++;
	}
	say("short_or_failed_writes", "%d", bad);
	RC("offset_a", lseek(a, 0, SEEK_CUR));
	RC("offset_b", lseek(b, 0, SEEK_CUR));
	RC("lseek_a_0", lseek(a, 0, SEEK_SET));
	RC("write_after_seek0", write(a, "end-a\n", 6));
	/* Linux appends on O_APPEND even with pwrite's offset. */
	RC("pwrite_at_0", pwrite(b, "end-b\n", 6, 0));
	RC("offset_b_after_pwrite", lseek(b, 0, SEEK_CUR));
	fst("fstat_a", a);
	fst("fstat_b", b);
	close(a);
	close(b);
	st("stat", "f");
	content("content", "f");

	int ro = FD("open_append_rdwr", open("f", O_RDWR | O_APPEND));
	if (ro >= 0) {
		char buf[8] = { 0 };
		RC("read_at_start", read(ro, buf, 6));
		say("read_text", "%s", q(buf, 6));
		RC("write_appends", write(ro, "z\n", 2));
		RC("offset_after", lseek(ro, 0, SEEK_CUR));
		close(ro);
	}
	st("stat_final", "f");
}

static void c_pread(void)
{
	unsigned char buf[8192], want[8192];
	int fd;

	if (make_file("f", 64 * KiB, 2) < 0)
		harness("make_file");
	fd = FD("open", open("f", O_RDWR));
	if (fd < 0)
		return;
	static const long offs[] = { 0, 1, 4095, 4096, 65535, 65536, 70000 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		char step[64];
		snprintf(step, sizeof(step), "pread_%ld", offs[i]);
		ssize_t n = pread(fd, buf, 100, offs[i]);
		if (n < 0) {
			say(step, "-%s", ename(errno));
			continue;
		}
		fill(want, (size_t)n, (uint64_t)offs[i], 2);
		say(step, "%zd %s", n, memcmp(buf, want, (size_t)n) ? "WRONG" : "right");
	}
	RC("offset_after_preads", lseek(fd, 0, SEEK_CUR));
	RC("pwrite_100", pwrite(fd, "HELLO", 5, 100));
	RC("pwrite_across_page", pwrite(fd, "PAGEBOUNDARY", 12, 4090));
	RC("pwrite_across_64k", pwrite(fd, "SIXTYFOUR", 9, 65532));
	RC("offset_after_pwrites", lseek(fd, 0, SEEK_CUR));
	pcontent("pread_100", fd, 100, 5);
	pcontent("pread_4090", fd, 4090, 12);
	fst("fstat_after_extend", fd);
	RC("pwrite_beyond_eof", pwrite(fd, "FAR", 3, 100000));
	fst("fstat_far", fd);
	ssize_t n = pread(fd, buf, 8192, 70000);
	say("gap_is_zero", "%zd %s", n, n == 8192 && all_zero(buf, 8192) ? "yes" : "no");
	RC("lseek_end", lseek(fd, 0, SEEK_END));
	RC("lseek_negative", lseek(fd, -1, SEEK_SET));
	RC("pread_negative", pread(fd, buf, 1, -1));
	RC("read_at_eof", read(fd, buf, 10));
	RC("seek_data_0", lseek(fd, 0, SEEK_DATA));
	RC("seek_data_at_eof", lseek(fd, 100003, SEEK_DATA));
	RC("seek_hole_past_eof", lseek(fd, 200000, SEEK_HOLE));
	close(fd);
	content("content", "f");
	fd = FD("open_rdonly", open("f", O_RDONLY));
	RC("pwrite_rdonly", pwrite(fd, "x", 1, 0));
	close(fd);
	fd = FD("open_wronly", open("f", O_WRONLY));
	RC("pread_wronly", pread(fd, buf, 1, 0));
	close(fd);
}

static void c_sparse(void)
{
	static unsigned char buf[65536];
	const off_t five = 5 * GiB, four = 4 * GiB;
	int fd;

	fd = FD("open", open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
	if (fd < 0)
		return;
	RC("pwrite_5g", pwrite(fd, "tail-5GiB", 9, five));
	fst("fstat", fd);
	st("stat", "f");
	pcontent("pread_5g", fd, five, 9);
	RC("pread_5g_past_eof", pread(fd, buf, 100, five + 9));
	ssize_t n = pread(fd, buf, sizeof(buf), four);
	say("hole_at_4g_zero", "%zd %s", n, n == (ssize_t)sizeof(buf) && all_zero(buf, sizeof(buf)) ? "yes" : "no");
	n = pread(fd, buf, sizeof(buf), 0);
	say("hole_at_0_zero", "%zd %s", n, n == (ssize_t)sizeof(buf) && all_zero(buf, sizeof(buf)) ? "yes" : "no");
	n = pread(fd, buf, 200, five - 100);
	say("around_5g", "%zd zero_before=%s text=%s", n, n >= 100 && all_zero(buf, 100) ? "yes" : "no",
	    q((char *)buf + 100, n > 100 ? (size_t)n - 100 : 0));
	RC("pwrite_across_4g", pwrite(fd, "ABCDEFGH", 8, four - 4));
	pcontent("pread_across_4g", fd, four - 4, 8);
	n = pread(fd, buf, 4, four - 4);
	say("across_4g_text", "%zd %s", n, q((char *)buf, n > 0 ? (size_t)n : 0));
	RC("lseek_end", lseek(fd, 0, SEEK_END));
	RC("ftruncate_6g", ftruncate(fd, 6 * GiB));
	fst("fstat_6g", fd);
	n = pread(fd, buf, sizeof(buf), 5 * GiB + GiB / 2);
	say("hole_at_5_5g_zero", "%zd %s", n, n == (ssize_t)sizeof(buf) && all_zero(buf, sizeof(buf)) ? "yes" : "no");
	pcontent("pread_5g_after_grow", fd, five, 9);
	RC("ftruncate_4g_plus_2", ftruncate(fd, four + 2));
	fst("fstat_shrunk", fd);
	pcontent("pread_across_4g_after_shrink", fd, four - 4, 8);
	close(fd);
	st("stat_final", "f");
	fd = FD("reopen", open("f", O_RDONLY));
	pcontent("reread_across_4g", fd, four - 4, 8);
	close(fd);
	RC("unlink", unlink("f"));
}

static void c_truncate(void)
{
	unsigned char buf[8192];
	int fd;

	if (make_file("f", 100, 3) < 0)
		harness("make_file");
	fd = FD("open", open("f", O_RDWR));
	if (fd < 0)
		return;
	set_old_times("f");
	RC("ftruncate_grow_5000", ftruncate(fd, 5000));
	fst("fstat_5000", fd);
	st("stat_5000", "f");
	yesno("mtime_changed", fmtime_changed(fd));
	ssize_t n = pread(fd, buf, 4900, 100);
	say("grown_tail_zero", "%zd %s", n, n == 4900 && all_zero(buf, 4900) ? "yes" : "no");
	pcontent("head_5000", fd, 0, 100);
	RC("ftruncate_shrink_50", ftruncate(fd, 50));
	fst("fstat_50", fd);
	pcontent("head_50", fd, 0, 100);
	/* Bytes cut off and then grown back must read as zeros, not as the
	 * stale contents of a cached page. */
	RC("ftruncate_regrow_100", ftruncate(fd, 100));
	n = pread(fd, buf, 100, 0);
	say("regrown_tail_zero", "%zd %s", n, n == 100 && all_zero(buf + 50, 50) ? "yes" : "no");
	RC("truncate_path_8192", truncate("f", 8192));
	fst("fstat_after_path_truncate", fd);
	n = pread(fd, buf, 8192, 0);
	say("read_via_fd_after_path_truncate", "%zd", n);
	RC("truncate_path_0", truncate("f", 0));
	fst("fstat_0", fd);
	RC("read_empty", pread(fd, buf, 10, 0));
	RC("write_after_0", pwrite(fd, "abc", 3, 10));
	st("stat_sparse_13", "f");
	n = pread(fd, buf, 13, 0);
	say("leading_zeros", "%zd %s", n, n == 13 && all_zero(buf, 10) && memcmp(buf + 10, "abc", 3) == 0 ? "yes" : "no");
	RC("ftruncate_negative", ftruncate(fd, -1));
	close(fd);
	fd = FD("open_rdonly", open("f", O_RDONLY));
	RC("ftruncate_rdonly", ftruncate(fd, 0));
	close(fd);
	RC("truncate_missing", truncate("missing", 0));
	RC("mkdir", mkdir("d", 0755));
	RC("truncate_dir", truncate("d", 0));
	st("stat_final", "f");
}

static void c_rename(void)
{
	struct timespec ct;
	int fd;

	/* file over file; an open descriptor on the victim keeps its data */
	if (make_text("a", "content A\n") < 0 || make_text("b", "content B\n") < 0)
		harness("make_text");
	fd = FD("open_victim", open("b", O_RDONLY));
	ct = ctime_of("a");
	tick();
	RC("rename_file_over_file", rename("a", "b"));
	st("old_name_gone", "a");
	st("new_name", "b");
	text_is("new_name_content", "b", "content A\n");
	yesno("renamed_ctime_changed", ts_cmp(ctime_of("b"), ct) != 0);
	if (fd >= 0) {
		char buf[32] = { 0 };
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		say("victim_fd_reads", "%zd %s", n, q(buf, n > 0 ? (size_t)n : 0));
		fst("victim_fstat", fd);
		close(fd);
	}

	/* directories */
	RC("mkdir_d1", mkdir("d1", 0755));
	if (make_text("d1/inside", "in d1\n") < 0)
		harness("make_text");
	RC("mkdir_d2_empty", mkdir("d2", 0755));
	RC("rename_dir_over_empty_dir", rename("d1", "d2"));
	st("d1_gone", "d1");
	text_is("d2_has_inside", "d2/inside", "in d1\n");
	RC("rename_file_over_dir", rename("b", "d2"));
	RC("rename_dir_over_file", rename("d2", "b"));
	RC("mkdir_d3", mkdir("d3", 0755));
	if (make_text("d3/keep", "keep\n") < 0)
		harness("make_text");
	RC("rename_dir_over_nonempty_dir", rename("d2", "d3"));
	RC("mkdir_d2_sub", mkdir("d2/sub", 0755));
	RC("rename_dir_into_itself", rename("d2", "d2/sub/x"));
	RC("rename_missing", rename("missing", "x"));
	RC("rename_to_missing_dir", rename("b", "nodir/b"));
	RC("rename_to_itself", rename("b", "b"));
	text_is("still_there", "b", "content A\n");
	RC("rename_dot", rename(".", "dotdir"));

	/* two names for one inode: rename does nothing */
	RC("link_b_c", link("b", "c"));
	RC("rename_hardlink_onto_itself", rename("b", "c"));
	st("b_after", "b");
	st("c_after", "c");

	/* directory moves fix nlink of both parents and ".." */
	RC("mkdir_p1", mkdir("p1", 0755));
	RC("mkdir_p2", mkdir("p2", 0755));
	RC("mkdir_p1_sub", mkdir("p1/sub", 0755));
	st("p1_before", "p1");
	st("p2_before", "p2");
	RC("rename_dir_across", rename("p1/sub", "p2/sub"));
	st("p1_after", "p1");
	st("p2_after", "p2");
	yesno("dotdot_is_new_parent", same_inode("p2/sub/..", "p2"));
	RC("rename_file_across", rename("c", "p1/c"));
	text_is("across_content", "p1/c", "content A\n");
	st("across_nlink", "b");

	/* renameat2 */
	if (make_text("x", "XXXX\n") < 0 || make_text("y", "YY\n") < 0)
		harness("make_text");
	RC("noreplace_existing", renameat2_("x", "y", RENAME_NOREPLACE));
	text_is("noreplace_kept_x", "x", "XXXX\n");
	text_is("noreplace_kept_y", "y", "YY\n");
	RC("noreplace_new", renameat2_("x", "x2", RENAME_NOREPLACE));
	st("noreplace_old_gone", "x");
	text_is("noreplace_moved", "x2", "XXXX\n");
	RC("exchange_files", renameat2_("x2", "y", RENAME_EXCHANGE));
	text_is("exchanged_x2", "x2", "YY\n");
	text_is("exchanged_y", "y", "XXXX\n");
	RC("exchange_file_dir", renameat2_("y", "p2", RENAME_EXCHANGE));
	st("exchanged_y_is_dir", "y");
	st("exchanged_p2_is_file", "p2");
	yesno("exchanged_dir_child", access("y/sub", F_OK) == 0);
	text_is("exchanged_p2_content", "p2", "XXXX\n");
	RC("exchange_missing", renameat2_("x2", "nothere", RENAME_EXCHANGE));
	RC("exchange_and_noreplace", renameat2_("x2", "y", RENAME_EXCHANGE | RENAME_NOREPLACE));
	count("entries", ".");
}

static void c_unlink_open(void)
{
	char buf[64] = { 0 };
	int fd;

	if (make_text("f", "data that survives\n") < 0)
		harness("make_text");
	fd = FD("open", open("f", O_RDWR));
	if (fd < 0)
		return;
	RC("unlink", unlink("f"));
	st("stat_after_unlink", "f");
	fst("fstat_after_unlink", fd);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	say("read_after_unlink", "%zd %s", n, q(buf, n > 0 ? (size_t)n : 0));
	RC("write_after_unlink", pwrite(fd, "more\n", 5, 19));
	fst("fstat_after_write", fd);
	pcontent("content_after_write", fd, 0, 100);
	count("dir_while_open", ".");
	RC("fsync_unlinked", fsync(fd));
	RC("ftruncate_unlinked", ftruncate(fd, 4));
	fst("fstat_after_ftruncate", fd);
	RC("close", close(fd));
	count("dir_after_close", ".");
	fd = FD("open_again", open("f", O_RDONLY));
	fd = FD("create_same_name", open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
	if (fd >= 0) {
		fst("new_file_fresh", fd);
		close(fd);
	}
	RC("unlink_missing", unlink("missing"));
	RC("mkdir", mkdir("d", 0755));
	RC("unlink_dir", unlink("d"));
	RC("unlink_trailing_slash", unlink("f/"));

	/* an open directory that is removed */
	int dfd = FD("open_dir", open("d", O_RDONLY | O_DIRECTORY));
	RC("rmdir_open_dir", rmdir("d"));
	if (dfd >= 0) {
		fst("fstat_removed_dir", dfd);
		RC("create_in_removed_dir", openat(dfd, "x", O_WRONLY | O_CREAT, 0644));
		close(dfd);
	}
}

static void c_hardlink(void)
{
	struct timespec ct;
	int fd;

	if (make_text("f", "linked\n") < 0)
		harness("make_text");
	ct = ctime_of("f");
	tick();
	RC("link", link("f", "g"));
	st("f_nlink", "f");
	st("g_nlink", "g");
	yesno("same_inode", same_inode("f", "g"));
	yesno("ctime_changed_by_link", ts_cmp(ctime_of("f"), ct) != 0);
	fd = FD("open_g", open("g", O_WRONLY | O_APPEND));
	RC("write_g", write(fd, "via g\n", 6));
	close(fd);
	text_is("read_f", "f", "linked\nvia g\n");
	RC("mkdir", mkdir("sub", 0755));
	RC("link_into_subdir", link("f", "sub/h"));
	st("nlink_3", "f");
	fd = FD("open_f", open("f", O_RDONLY));
	fst("fstat_nlink_3", fd);
	RC("unlink_f", unlink("f"));
	fst("fstat_after_unlink_f", fd);
	close(fd);
	st("g_after_unlink_f", "g");
	RC("unlink_sub_h", unlink("sub/h"));
	st("nlink_back_to_1", "g");
	RC("link_dir", link("sub", "subl"));
	RC("link_missing", link("missing", "m2"));
	if (make_text("other", "o\n") < 0)
		harness("make_text");
	RC("link_over_existing", link("g", "other"));
	RC("link_into_missing_dir", link("g", "nodir/x"));
	RC("symlink_to_g", symlink("g", "sl"));
	RC("link_symlink_itself", link("sl", "sl2"));
	lst("lstat_sl2", "sl2");
	lst("lstat_sl_nlink", "sl");
	RC("linkat_follow", linkat(AT_FDCWD, "sl", AT_FDCWD, "g2", AT_SYMLINK_FOLLOW));
	st("g_nlink_after_follow", "g");
	yesno("g2_is_g", same_inode("g", "g2"));
	st("dir_nlink", "sub");
	count("entries", ".");
}

static void c_symlink(void)
{
	char abs[PATH_MAX + 64], buf[PATH_MAX];
	ssize_t n;
	int fd;

	if (make_text("target.txt", "target content\n") < 0)
		harness("make_text");
	RC("symlink_rel", symlink("target.txt", "rel"));
	n = readlink("rel", buf, sizeof(buf));
	say("readlink_rel", "%zd %s", n, q(buf, n > 0 ? (size_t)n : 0));
	lst("lstat_rel", "rel");
	st("stat_rel", "rel");
	text_is("read_rel", "rel", "target content\n");

	snprintf(abs, sizeof(abs), "%s/symlink/target.txt", g_root);
	RC("symlink_abs", symlink(abs, "abs"));
	n = readlink("abs", buf, sizeof(buf));
	yesno("readlink_abs_is_target", n == (ssize_t)strlen(abs) && memcmp(buf, abs, (size_t)n) == 0);
	struct stat s;
	yesno("lstat_abs_size_is_len", lstat("abs", &s) == 0 && s.st_size == (off_t)strlen(abs));
	text_is("read_abs", "abs", "target content\n");

	RC("symlink_dangling", symlink("missing", "dangling"));
	st("stat_dangling", "dangling");
	lst("lstat_dangling", "dangling");
	fd = FD("open_dangling", open("dangling", O_RDONLY));

	fd = FD("open_nofollow", open("rel", O_RDONLY | O_NOFOLLOW));
	fd = FD("open_path_nofollow", open("rel", O_PATH | O_NOFOLLOW));
	if (fd >= 0) {
		fst("fstat_path_nofollow", fd);
		close(fd);
	}
	fd = FD("open_nofollow_regular", open("target.txt", O_RDONLY | O_NOFOLLOW));
	if (fd >= 0)
		close(fd);
	n = readlink("target.txt", buf, sizeof(buf));
	say("readlink_regular", "%s", n < 0 ? ename(errno) : "ok?");
	RC("readlink_missing", readlink("nothere", buf, sizeof(buf)));
	RC("readlink_short_buffer", readlink("rel", buf, 4));
	say("short_buffer_text", "%s", q(buf, 4));
	RC("symlink_over_existing", symlink("x", "rel"));

	RC("symlink_loop1", symlink("loop2", "loop1"));
	RC("symlink_loop2", symlink("loop1", "loop2"));
	st("stat_loop", "loop1");
	fd = FD("open_loop", open("loop1", O_RDONLY));

	RC("mkdir_sub", mkdir("sub", 0755));
	RC("symlink_dir", symlink("sub", "dlink"));
	fd = FD("create_through_dir_link", open("dlink/file", O_WRONLY | O_CREAT, 0644));
	if (fd >= 0)
		close(fd);
	st("created_in_sub", "sub/file");
	st("stat_dir_link", "dlink");
	lst("lstat_dir_link", "dlink");
	st("stat_dir_link_slash", "dlink/");
	RC("rmdir_dir_link", rmdir("dlink"));
	RC("unlink_dir_link", unlink("dlink"));
	st("sub_survives", "sub");

	RC("symlink_dotdot", symlink("../target.txt", "sub/up"));
	text_is("read_dotdot", "sub/up", "target content\n");

	memset(buf, 'L', 1000);
	buf[1000] = 0;
	RC("symlink_long_target", symlink(buf, "long"));
	n = readlink("long", buf, sizeof(buf));
	say("readlink_long", "%zd", n);
	RC("symlink_empty_target", symlink("", "empty"));

	RC("chmod_through_link", chmod("rel", 0600));
	st("target_mode", "target.txt");
	RC("lchown_link", lchown("rel", 0, 0));
	RC("rename_link", rename("rel", "rel2"));
	n = readlink("rel2", buf, sizeof(buf));
	say("readlink_renamed", "%zd %s", n, q(buf, n > 0 ? (size_t)n : 0));
	RC("unlink_link", unlink("rel2"));
	st("target_survives", "target.txt");
	count("entries", ".");
}

static void c_dirs(void)
{
	RC("mkdir", mkdir("d", 0777));
	st("stat_d", "d");
	RC("mkdir_existing", mkdir("d", 0755));
	RC("mkdir_0700", mkdir("d2", 0700));
	st("stat_d2", "d2");
	RC("mkdir_sticky", mkdir("d3", 01777));
	st("stat_d3", "d3");
	if (make_text("file", "f\n") < 0)
		harness("make_text");
	RC("mkdir_over_file", mkdir("file", 0755));
	RC("mkdir_under_file", mkdir("file/x", 0755));
	RC("mkdir_missing_parent", mkdir("nope/x", 0755));
	RC("mkdir_trailing_slash", mkdir("d4/", 0755));
	st("stat_dot", ".");
	if (make_text("d/f", "in d\n") < 0)
		harness("make_text");
	RC("rmdir_nonempty", rmdir("d"));
	RC("rmdir_file", rmdir("file"));
	RC("rmdir_missing", rmdir("missing"));
	RC("rmdir_dot", rmdir("."));
	RC("rmdir_dotdot", rmdir("d/.."));
	RC("unlink_dir", unlink("d"));
	st("stat_file_slash", "file/");
	RC("unlink_d_f", unlink("d/f"));
	RC("rmdir_now_empty", rmdir("d/"));
	st("d_gone", "d");
	RC("mkdir_nested_a", mkdir("a", 0755));
	RC("mkdir_nested_b", mkdir("a/b", 0755));
	RC("mkdir_nested_c", mkdir("a/b/c", 0755));
	st("stat_a", "a");
	st("stat_a_b_c", "a/b/c");
	RC("rmdir_a", rmdir("a"));
	RC("rmdir_c", rmdir("a/b/c"));
	st("stat_b_after", "a/b");
	RC("rmdir_b", rmdir("a/b"));
	RC("rmdir_a_again", rmdir("a"));
	st("stat_dot_final", ".");
	RC("mkdir_after_rmdir", mkdir("a", 0755));
	count("a_is_empty", "a");
	count("entries", ".");

	/* d_type of a small mixed directory */
	RC("mkfifo", mkfifo("fifo", 0644));
	lst("lstat_fifo", "fifo");
	RC("symlink", symlink("file", "link"));
	DIR *dp = opendir(".");
	struct dirent *e;
	int reg = 0, dir = 0, lnk = 0, fifo = 0, other = 0;
	if (!dp) {
		say("opendir", "-%s", ename(errno));
		return;
	}
	while ((e = readdir(dp))) {
		switch (e->d_type) {
		case DT_REG: reg++; break;
		case DT_DIR: dir++; break;
		case DT_LNK: lnk++; break;
		case DT_FIFO: fifo++; break;
		default: other++; break;
		}
	}
	closedir(dp);
	say("d_types", "reg=%d dir=%d lnk=%d fifo=%d other=%d", reg, dir, lnk, fifo, other);
}

static void c_chmod(void)
{
	static const mode_t modes[] = { 0600, 0755, 0644, 0000, 0444, 04755, 02755, 06711, 01644, 0777 };
	struct timespec ct;
	int fd;

	if (make_text("f", "mode\n") < 0)
		harness("make_text");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char step[32];
		snprintf(step, sizeof(step), "chmod_%04o", (unsigned)modes[i]);
		RC(step, chmod("f", modes[i]));
		snprintf(step, sizeof(step), "stat_%04o", (unsigned)modes[i]);
		st(step, "f");
	}
	ct = ctime_of("f");
	tick();
	RC("chmod_0640", chmod("f", 0640));
	yesno("ctime_changed_by_chmod", ts_cmp(ctime_of("f"), ct) != 0);
	fd = FD("open", open("f", O_RDWR));
	RC("fchmod_0604", fchmod(fd, 0604));
	fst("fstat_0604", fd);
	close(fd);
	st("stat_after_close", "f");
	RC("chmod_0000", chmod("f", 0));
	/* root is not stopped by the mode bits */
	fd = FD("root_opens_mode_0000", open("f", O_RDWR));
	if (fd >= 0) {
		RC("root_writes_mode_0000", write(fd, "x", 1));
		close(fd);
	}
	RC("chmod_0644", chmod("f", 0644));
	RC("mkdir", mkdir("d", 0755));
	RC("chmod_dir_1777", chmod("d", 01777));
	st("stat_dir", "d");
	RC("chmod_dir_0500", chmod("d", 0500));
	st("stat_dir_0500", "d");
	RC("chmod_dir_0755", chmod("d", 0755));
	RC("chmod_missing", chmod("missing", 0644));
	fd = FD("open_path", open("f", O_PATH));
	RC("fchmod_o_path", fchmod(fd, 0600));
	close(fd);
	RC("fchmodat_0622", fchmodat(AT_FDCWD, "f", 0622, 0));
	st("stat_0622", "f");
	RC("chmod_type_bits_ignored", chmod("f", S_IFDIR | 0640));
	st("stat_type_kept", "f");

	/* ownership, which tar and npm as root restore */
	RC("chown", chown("f", 1234, 5678));
	struct stat s;
	if (stat("f", &s) == 0)
		say("owner", "%u:%u", (unsigned)s.st_uid, (unsigned)s.st_gid);
	else
		say("owner", "-%s", ename(errno));
	RC("chown_keep", chown("f", (uid_t)-1, (gid_t)-1));
	RC("chmod_4755_owned", chmod("f", 04755));
	RC("chown_clears_suid", chown("f", 4321, (gid_t)-1));
	st("mode_after_chown", "f");
	RC("chown_back", chown("f", 0, 0));

	/* root may execute only what has an x bit somewhere */
	RC("chmod_0644_for_access", chmod("f", 0644));
	RC("access_x_0644", access("f", X_OK));
	RC("access_rw_0644", access("f", R_OK | W_OK));
	RC("chmod_0744", chmod("f", 0744));
	RC("access_x_0744", access("f", X_OK));
	RC("chmod_0000_for_access", chmod("f", 0));
	RC("access_rw_0000", access("f", R_OK | W_OK));
	RC("access_missing", access("missing", F_OK));

	/* a setgid directory hands its group down */
	RC("mkdir_sgid", mkdir("sg", 0755));
	RC("chown_sgid_dir", chown("sg", 0, 5678));
	RC("chmod_sgid_dir", chmod("sg", 02775));
	st("stat_sgid_dir", "sg");
	fd = FD("create_in_sgid", open("sg/f", O_WRONLY | O_CREAT, 0644));
	if (fd >= 0)
		close(fd);
	RC("mkdir_in_sgid", mkdir("sg/sub", 0755));
	st("stat_sub_of_sgid", "sg/sub");
	if (stat("sg/f", &s) == 0)
		say("sgid_file_group", "%u", (unsigned)s.st_gid);
	if (stat("sg/sub", &s) == 0)
		say("sgid_subdir_group", "%u", (unsigned)s.st_gid);
}

static void show_times(const char *step, const char *path, int follow)
{
	struct stat s;
	int r = follow ? stat(path, &s) : lstat(path, &s);

	if (r < 0)
		say(step, "-%s", ename(errno));
	else
		say(step, "atime=%lld.%09ld mtime=%lld.%09ld", (long long)s.st_atim.tv_sec,
		    s.st_atim.tv_nsec, (long long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
}

static void near_now(const char *step, const char *path, time_t t0, time_t t1)
{
	struct stat s;

	if (stat(path, &s) < 0) {
		say(step, "-%s", ename(errno));
		return;
	}
	say(step, "atime %s mtime %s",
	    s.st_atim.tv_sec >= t0 - 2 && s.st_atim.tv_sec <= t1 + 2 ? "now" : "other",
	    s.st_mtim.tv_sec >= t0 - 2 && s.st_mtim.tv_sec <= t1 + 2 ? "now" : "other");
}

static void c_utimens(void)
{
	struct timespec ts[2];
	time_t t0, t1;
	int fd;

	if (make_text("f", "times\n") < 0)
		harness("make_text");
	ts[0] = (struct timespec){ 1000000000, 123456789 };
	ts[1] = (struct timespec){ 1100000000, 987654321 };
	RC("explicit", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_explicit", "f", 1);

	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 1200000000, 500000000 };
	RC("omit_atime", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_omit_atime", "f", 1);

	ts[0] = (struct timespec){ 1300000000, 1 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	RC("omit_mtime", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_omit_mtime", "f", 1);

	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	RC("omit_both", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_omit_both", "f", 1);

	t0 = time(NULL);
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_NOW };
	RC("now_mtime", utimensat(AT_FDCWD, "f", ts, 0));
	t1 = time(NULL);
	near_now("after_now_mtime", "f", t0, t1);

	t0 = time(NULL);
	RC("now_both", utimensat(AT_FDCWD, "f", NULL, 0));
	t1 = time(NULL);
	near_now("after_now_both", "f", t0, t1);

	fd = FD("open", open("f", O_RDWR));
	ts[0] = (struct timespec){ 1400000000, 0 };
	ts[1] = (struct timespec){ 1500000000, 999999999 };
	RC("futimens", futimens(fd, ts));
	show_times("after_futimens", "f", 1);
	close(fd);
	show_times("after_close", "f", 1);

	ts[0] = (struct timespec){ 4102444800LL, 0 };
	ts[1] = (struct timespec){ 4102444800LL + 86399, 5 };
	RC("year_2100", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_year_2100", "f", 1);

	ts[0] = (struct timespec){ -86400, 250000000 };
	ts[1] = (struct timespec){ -1, 0 };
	RC("before_1970", utimensat(AT_FDCWD, "f", ts, 0));
	show_times("after_before_1970", "f", 1);

	ts[0] = (struct timespec){ 1000, 1000000000 };
	ts[1] = (struct timespec){ 1000, 0 };
	RC("bad_nsec", utimensat(AT_FDCWD, "f", ts, 0));
	RC("missing", utimensat(AT_FDCWD, "missing", NULL, 0));

	RC("symlink", symlink("f", "l"));
	ts[0] = (struct timespec){ 1111111111, 0 };
	ts[1] = (struct timespec){ 1222222222, 0 };
	RC("nofollow", utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	show_times("link_times", "l", 0);
	show_times("target_untouched", "f", 1);

	RC("mkdir", mkdir("d", 0755));
	ts[0] = (struct timespec){ 1333333333, 333 };
	ts[1] = (struct timespec){ 1444444444, 444 };
	RC("dir_explicit", utimensat(AT_FDCWD, "d", ts, 0));
	show_times("dir_times", "d", 1);
	set_old_times("d");
	if (make_text("d/child", "c\n") < 0)
		harness("make_text");
	yesno("dir_mtime_changed_by_create", mtime_changed("d"));
	set_old_times("d");
	RC("unlink_child", unlink("d/child"));
	yesno("dir_mtime_changed_by_unlink", mtime_changed("d"));

	set_old_times("f");
	fd = FD("open_write", open("f", O_WRONLY));
	RC("write", write(fd, "w", 1));
	yesno("mtime_changed_by_write_fstat", fmtime_changed(fd));
	close(fd);
	yesno("mtime_changed_by_write_stat", mtime_changed("f"));
}

static void c_statfs(void)
{
	struct statfs s;
	int fd;

	if (RC("statfs", statfs(".", &s)) == 0) {
		say("namelen", "%ld", (long)s.f_namelen);
		yesno("bsize_positive", s.f_bsize > 0);
		yesno("frsize_positive", s.f_frsize > 0);
		yesno("blocks_positive", s.f_blocks > 0);
		yesno("bfree_le_blocks", s.f_bfree <= s.f_blocks);
		yesno("bavail_le_bfree", s.f_bavail <= s.f_bfree);
		yesno("ffree_le_files", s.f_ffree <= s.f_files);
	}
	fd = FD("open", open(".", O_RDONLY | O_DIRECTORY));
	if (RC("fstatfs", fstatfs(fd, &s)) == 0)
		say("fstatfs_namelen", "%ld", (long)s.f_namelen);
	close(fd);
	RC("statfs_missing", statfs("missing", &s));
}

#define BIG_N 10000

static void c_readdir_big(void)
{
	static const int probe[] = { 9999, 0, 1234 };
	long probe_pos[3];
	unsigned char *seen;
	char **names;
	char name[32];
	size_t total = 0, cap = BIG_N + 16;
	int created = 0, dups = 0, strangers = 0, dot = 0, dotdot = 0, reg = 0, dir = 0, other = 0;
	DIR *d;
	struct dirent *e;

	for (int i = 0; i < BIG_N; i++) {
		snprintf(name, sizeof(name), "e%05d", i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0) {
			created++;
			close(fd);
		}
	}
	say("created", "%d", created);

	seen = calloc(BIG_N, 1);
	names = calloc(cap, sizeof(*names));
	if (!seen || !names) {
		fprintf(stderr, "posix_suite: out of memory\n");
		exit(3);
	}
	d = opendir(".");
	if (!d) {
		say("opendir", "-%s", ename(errno));
		free(seen);
		free(names);
		return;
	}
	for (;;) {
		long pos = telldir(d);
		for (int k = 0; k < 3; k++)
			if ((size_t)probe[k] == total)
				probe_pos[k] = pos;
		errno = 0;
		e = readdir(d);
		if (!e)
			break;
		if (total < cap)
			names[total] = strdup(e->d_name);
		total++;
		if (!strcmp(e->d_name, "."))
			dot++;
		else if (!strcmp(e->d_name, ".."))
			dotdot++;
		else {
			char *end;
			long i = e->d_name[0] == 'e' ? strtol(e->d_name + 1, &end, 10) : -1;
			if (i < 0 || i >= BIG_N || *end || strlen(e->d_name) != 6)
				strangers++;
			else if (seen[i]++)
				dups++;
		}
		if (e->d_type == DT_REG)
			reg++;
		else if (e->d_type == DT_DIR)
			dir++;
		else
			other++;
	}
	say("readdir_end", "%s", errno ? ename(errno) : "ok");
	int missing = 0;
	for (int i = 0; i < BIG_N; i++)
		missing += !seen[i];
	say("entries", "%zu", total);
	say("dot_dotdot", "%d %d", dot, dotdot);
	say("duplicates", "%d", dups);
	say("missing", "%d", missing);
	say("strangers", "%d", strangers);
	say("d_types", "reg=%d dir=%d other=%d", reg, dir, other);

	for (int k = 0; k < 3; k++) {
		char step[48];
		int ok = 1, got = 0;
		snprintf(step, sizeof(step), "seekdir_%d_next3", probe[k]);
		if ((size_t)probe[k] >= total) {
			say(step, "not reached");
			continue;
		}
		seekdir(d, probe_pos[k]);
		for (int j = 0; j < 3; j++) {
			size_t idx = (size_t)probe[k] + (size_t)j;
			e = readdir(d);
			if (!e)
				break;
			got++;
			if (idx >= total || idx >= cap || !names[idx] || strcmp(names[idx], e->d_name))
				ok = 0;
		}
		if (probe[k] + 3 > (int)total && got == (int)total - probe[k])
			got = 3;
		say(step, "%s", ok && got == 3 ? "match" : "MISMATCH");
		snprintf(step, sizeof(step), "telldir_%d_stable", probe[k]);
		seekdir(d, probe_pos[k]);
		yesno(step, telldir(d) == probe_pos[k]);
	}
	rewinddir(d);
	size_t again = 0;
	while (readdir(d))
		again++;
	say("after_rewind", "%zu", again);

	/* rm -rf style: unlink each name right after reading it */
	rewinddir(d);
	int deleted = 0, del_err = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlink(e->d_name) == 0)
			deleted++;
		else
			del_err++;
	}
	closedir(d);
	say("deleted_while_reading", "%d errors=%d", deleted, del_err);
	count("left", ".");
	for (size_t i = 0; i < total && i < cap; i++)
		free(names[i]);
	free(names);
	free(seen);
}

static void c_mmap(void)
{
	const size_t len = 3 * 4096 + 100;
	unsigned char *want = xmalloc(len), buf[16];
	void *m;
	int fd;

	if (make_file("f", len, 4) < 0)
		harness("make_file");
	fill(want, len, 0, 4);
	fd = FD("open_rdonly", open("f", O_RDONLY));
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	say("mmap_read", "%s", m == MAP_FAILED ? ename(errno) : "ok");
	if (m != MAP_FAILED) {
		yesno("mapped_content_right", memcmp(m, want, len) == 0);
		munmap(m, len);
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	say("mmap_shared_write_on_rdonly", "%s", m == MAP_FAILED ? ename(errno) : "ok");
	if (m != MAP_FAILED)
		munmap(m, len);
	close(fd);

	set_old_times("f");
	fd = FD("open_rdwr", open("f", O_RDWR));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	say("mmap_shared_write", "%s", m == MAP_FAILED ? ename(errno) : "ok");
	if (m != MAP_FAILED) {
		memcpy((char *)m + 5000, "MMAPWRITE", 9);
		memcpy((char *)m + len - 4, "TAIL", 4);
		RC("msync", msync(m, len, MS_SYNC));
		memset(buf, 0, sizeof(buf));
		RC("pread_5000", pread(fd, buf, 9, 5000));
		say("pread_sees_write", "%s", q((char *)buf, 9));
		memcpy(want + 5000, "MMAPWRITE", 9);
		memcpy(want + len - 4, "TAIL", 4);
		RC("munmap", munmap(m, len));
	}
	yesno("mtime_changed_by_mmap_write", fmtime_changed(fd));
	close(fd);
	content("content_after", "f");
	say("expected", "%zu:%016llx", len, (unsigned long long)fnv(FNV0, want, len));

	fd = FD("open_private", open("f", O_RDWR));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	say("mmap_private", "%s", m == MAP_FAILED ? ename(errno) : "ok");
	if (m != MAP_FAILED) {
		memcpy(m, "PRIVATE", 7);
		munmap(m, len);
	}
	close(fd);
	content("private_write_invisible", "f");

	/* write(), then a fresh mapping sees it */
	fd = FD("open_write", open("f", O_RDWR));
	RC("pwrite_8192", pwrite(fd, "WRITTEN", 7, 8192));
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		say("map_sees_pwrite", "%s", q((char *)m + 8192, 7));
		munmap(m, len);
	} else {
		say("map_sees_pwrite", "-%s", ename(errno));
	}
	close(fd);
	free(want);
}

static void c_fsync(void)
{
	int fd;

	fd = FD("open", open("f", O_RDWR | O_CREAT, 0644));
	RC("write", write(fd, "sync me\n", 8));
	RC("fsync", fsync(fd));
	RC("fdatasync", fdatasync(fd));
	RC("syncfs", syncfs(fd));
	close(fd);
	fd = FD("open_rdonly", open("f", O_RDONLY));
	RC("fsync_rdonly", fsync(fd));
	close(fd);
	fd = FD("open_dir", open(".", O_RDONLY | O_DIRECTORY));
	RC("fsync_dir", fsync(fd));
	RC("fdatasync_dir", fdatasync(fd));
	close(fd);
	fd = FD("open_sync", open("g", O_WRONLY | O_CREAT | O_SYNC, 0644));
	RC("write_o_sync", write(fd, "osync\n", 6));
	close(fd);
	fd = FD("open_dsync", open("h", O_WRONLY | O_CREAT | O_DSYNC, 0644));
	RC("write_o_dsync", write(fd, "dsync\n", 6));
	close(fd);
	content("g", "g");
	content("h", "h");
}

#define THREADS 4
#define REGION (1 * MiB)
#define CHUNK (64 * KiB)

struct worker {
	int fd;              /* shared descriptor, or -1 to open a private one */
	const char *path;
	int index;
	int errors;
};

static void *writer(void *arg)
{
	struct worker *w = arg;
	unsigned char *b = malloc(CHUNK);
	int fd = w->fd;

	if (!b) {
		w->errors++;
		return NULL;
	}
	if (fd < 0)
		fd = open(w->path, O_WRONLY);
	if (fd < 0) {
		w->errors++;
		free(b);
		return NULL;
	}
	/* Chunks go out of order so that regions interleave in time. */
	for (int k = 0; k < REGION / CHUNK; k++) {
		int c = (k * 7 + w->index) % (REGION / CHUNK);
		off_t off = (off_t)w->index * REGION + (off_t)c * CHUNK;
		fill(b, CHUNK, (uint64_t)off, 5);
		if (pwrite(fd, b, CHUNK, off) != CHUNK)
			w->errors++;
	}
	if (w->fd < 0 && close(fd) < 0)
		w->errors++;
	free(b);
	return NULL;
}

static void verify_threads(const char *prefix, const char *path)
{
	unsigned char *b = xmalloc(128 * KiB), *want = xmalloc(128 * KiB);
	long long bad = 0, total = 0;
	char step[64];
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		snprintf(step, sizeof(step), "%s_verify", prefix);
		say(step, "-%s", ename(errno));
		free(b);
		free(want);
		return;
	}
	for (;;) {
		ssize_t n = pread(fd, b, 128 * KiB, total);
		if (n <= 0)
			break;
		fill(want, (size_t)n, (uint64_t)total, 5);
		for (ssize_t i = 0; i < n; i++)
			bad += b[i] != want[i];
		total += n;
	}
	close(fd);
	snprintf(step, sizeof(step), "%s_bytes_read", prefix);
	say(step, "%lld", total);
	snprintf(step, sizeof(step), "%s_mismatched_bytes", prefix);
	say(step, "%lld", bad);
	free(b);
	free(want);
}

static void run_writers(const char *prefix, const char *path, int shared_fd)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char step[64];
	int errors = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ shared_fd, path, i, 0 };
		if (pthread_create(&t[i], NULL, writer, &w[i]) != 0) {
			errno = EAGAIN;
			harness("pthread_create");
			g_harness_errors++;
			w[i].errors = -1000;
		}
	}
	for (int i = 0; i < THREADS; i++) {
		if (w[i].errors != -1000)
			pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	snprintf(step, sizeof(step), "%s_writer_errors", prefix);
	say(step, "%d", errors);
}

static void c_threads(void)
{
	int fd = FD("create_shared", open("shared", O_RDWR | O_CREAT | O_EXCL, 0644));

	if (fd >= 0) {
		run_writers("shared_fd", "shared", fd);
		fst("shared_fstat", fd);
		close(fd);
	}
	st("shared_stat", "shared");
	verify_threads("shared_fd", "shared");

	fd = FD("create_private", open("private", O_RDWR | O_CREAT | O_EXCL, 0644));
	if (fd >= 0)
		close(fd);
	run_writers("private_fd", "private", -1);
	st("private_stat", "private");
	verify_threads("private_fd", "private");
}

/* Sequential I/O in odd sizes across large-request boundaries. */
static void c_bigio(void)
{
	const size_t total = 8 * MiB + 12345;
	size_t wsz[] = { 12345, 131072, 1, 4096, 1048576 + 3, 65536 };
	size_t rsz[] = { 7777, 1048576, 3, 262144 };
	unsigned char *b = xmalloc(2 * MiB), *want = xmalloc(2 * MiB);
	size_t off = 0, k = 0;
	long long bad = 0;
	int fd;

	fd = FD("create", open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (fd < 0) {
		free(b);
		free(want);
		return;
	}
	int err = 0;
	while (off < total) {
		size_t n = wsz[k++ % 6];
		if (n > total - off)
			n = total - off;
		fill(b, n, off, 6);
		if (write_all(fd, b, n) < 0)
			err++;
		off += n;
	}
	say("write_errors", "%d", err);
	RC("close", close(fd));
	st("stat", "f");
	fd = FD("open", open("f", O_RDONLY));
	off = 0;
	k = 0;
	for (;;) {
		ssize_t n = read(fd, b, rsz[k++ % 4]);
		if (n <= 0) {
			if (n < 0)
				say("read_error", "-%s", ename(errno));
			break;
		}
		fill(want, (size_t)n, off, 6);
		for (ssize_t i = 0; i < n; i++)
			bad += b[i] != want[i];
		off += (size_t)n;
	}
	close(fd);
	say("bytes_read", "%zu", off);
	say("mismatched_bytes", "%lld", bad);
	free(b);
	free(want);
}

/* What one process changes, its next call sees, whatever the caches hold. */
static void c_coherence(void)
{
	char buf[64];
	int a, b;

	a = FD("open_a", open("f", O_RDWR | O_CREAT, 0644));
	b = FD("open_b", open("f", O_RDWR));
	RC("write_a", write(a, "0123456789", 10));
	say("stat_size", "%lld", size_of("f"));
	memset(buf, 0, sizeof(buf));
	RC("read_b", pread(b, buf, sizeof(buf), 0));
	say("read_b_text", "%s", q(buf, strlen(buf)));
	RC("ftruncate_a", ftruncate(a, 4));
	say("stat_size_after_ftruncate", "%lld", size_of("f"));
	fst("fstat_b", b);
	memset(buf, 0, sizeof(buf));
	RC("read_b_after_ftruncate", pread(b, buf, sizeof(buf), 0));
	RC("pwrite_b", pwrite(b, "XY", 2, 2));
	memset(buf, 0, sizeof(buf));
	RC("read_a", pread(a, buf, sizeof(buf), 0));
	say("read_a_text", "%s", q(buf, strlen(buf)));
	close(a);
	close(b);
	RC("rename", rename("f", "g"));
	st("old_name", "f");
	st("new_name", "g");
	RC("unlink", unlink("g"));
	st("after_unlink", "g");
	a = FD("recreate", open("g", O_RDWR | O_CREAT, 0644));
	fst("recreated_empty", a);
	close(a);
	RC("mkdir", mkdir("d", 0755));
	RC("rmdir", rmdir("d"));
	st("dir_gone", "d");
	if (make_text("d", "now a file\n") < 0)
		harness("make_text");
	st("file_where_dir_was", "d");
	RC("unlink_d", unlink("d"));
	RC("mkdir_again", mkdir("d", 0700));
	st("dir_where_file_was", "d");

	/* a descriptor follows its file through renames of it and its dir */
	RC("mkdir_moving", mkdir("moving", 0755));
	a = FD("open_in_moving", open("moving/f", O_RDWR | O_CREAT, 0644));
	RC("rename_file_under_fd", rename("moving/f", "moving/g"));
	RC("rename_dir_under_fd", rename("moving", "moved"));
	RC("write_via_fd", write(a, "followed", 8));
	fst("fstat_via_fd", a);
	close(a);
	text_is("read_new_path", "moved/g", "followed");
	count("entries", ".");
}

/* Names that are fine on Linux whatever another OS thinks of them. */
static void c_names(void)
{
	static const char *const names[] = {
		"space name", "colon:name", "star*", "question?", "quote\"", "lt<gt>",
		"pipe|", "back\\slash", "trailing.", "trailing ", " leading", "CON", "nul",
		"aux.txt", "COM1", "LPT9.c", "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9-\xe5\x90\x8d\xe5\x89\x8d",
		"emoji-\xf0\x9f\x98\x80", ".hidden", "-dash", "tab\tname", "new\nline", "Case", "case",
		"CASE.md", "...", "a.b.c.d", "x~1", "file::$DATA",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	int created = 0, found = 0;

	for (size_t i = 0; i < n; i++) {
		char step[16];
		snprintf(step, sizeof(step), "create_%02zu", i);
		int fd = FD(step, open(names[i], O_WRONLY | O_CREAT | O_EXCL, 0644));
		if (fd >= 0) {
			created++;
			if (write_all(fd, names[i], strlen(names[i])) < 0)
				harness("write");
			close(fd);
		}
	}
	say("created", "%d of %zu", created, n);
	DIR *d = opendir(".");
	struct dirent *e;
	long entries = 0;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		entries++;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(e->d_name, names[i]))
				found++;
	}
	if (d)
		closedir(d);
	say("listed", "%ld exact=%d", entries, found);
	for (size_t i = 0; i < n; i++) {
		char step[16];
		snprintf(step, sizeof(step), "read_%02zu", i);
		text_is(step, names[i], names[i]);
	}
	st("other_case_missing", "cASE");
	RC("mkdir_odd", mkdir("dir:with*odd?chars", 0755));
	RC("create_inside_odd", make_text("dir:with*odd?chars/in|side", "x"));
	RC("rename_odd", rename("dir:with*odd?chars", "renamed<odd>"));
	text_is("read_renamed_odd", "renamed<odd>/in|side", "x");
}

static void c_locks(void)
{
	struct flock fl;
	int fd, st_child;
	pid_t pid;

	if (make_text("f", "locked\n") < 0)
		harness("make_text");
	fd = FD("open", open("f", O_RDWR));
	if (fd < 0)
		return;
	RC("flock_ex", flock(fd, LOCK_EX));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4 };
	RC("setlk_write_0_4", fcntl(fd, F_SETLK, &fl));
	fflush(stdout);
	/* Another process sees both locks. Its results travel in the exit code
	 * so that the transcript stays in one process's order. */
	pid = fork();
	if (pid == 0) {
		int cfd = open("f", O_RDWR), code = 0;
		struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		if (cfd < 0)
			_exit(100);
		if (flock(cfd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
			code |= 1;
		if (fcntl(cfd, F_SETLK, &c) == 0 || (errno != EAGAIN && errno != EACCES))
			code |= 2;
		if (fcntl(cfd, F_GETLK, &c) < 0 || c.l_type != F_WRLCK || c.l_pid != getppid() ||
		    c.l_start != 0 || c.l_len != 4)
			code |= 4;
		c = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 4, .l_len = 4 };
		if (fcntl(cfd, F_SETLK, &c) < 0)
			code |= 8;
		_exit(code);
	}
	if (pid < 0) {
		harness("fork");
		close(fd);
		return;
	}
	if (waitpid(pid, &st_child, 0) < 0 || !WIFEXITED(st_child))
		say("child", "did not exit");
	else {
		int code = WEXITSTATUS(st_child);
		say("child_flock_blocked", "%s", code == 100 ? "?" : code & 1 ? "no" : "yes");
		say("child_setlk_blocked", "%s", code == 100 ? "?" : code & 2 ? "no" : "yes");
		say("child_getlk_sees_parent", "%s", code == 100 ? "?" : code & 4 ? "no" : "yes");
		say("child_setlk_other_range", "%s", code == 100 ? "?" : code & 8 ? "no" : "yes");
	}
	RC("flock_un", flock(fd, LOCK_UN));
	fl.l_type = F_UNLCK;
	RC("setlk_unlock", fcntl(fd, F_SETLK, &fl));
	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	RC("setlk_read_whole", fcntl(fd, F_SETLK, &fl));
	close(fd);
	fd = FD("open_rdonly", open("f", O_RDONLY));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	RC("setlk_write_on_rdonly", fcntl(fd, F_SETLK, &fl));
	RC("flock_sh_rdonly", flock(fd, LOCK_SH | LOCK_NB));
	close(fd);
}

static void c_fallocate(void)
{
	unsigned char buf[8192];
	int fd;

	fd = FD("open", open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
	if (fd < 0)
		return;
	RC("fallocate_64k", fallocate(fd, 0, 0, 65536));
	fst("fstat_64k", fd);
	ssize_t n = pread(fd, buf, sizeof(buf), 4096);
	say("allocated_reads_zero", "%zd %s", n, n == (ssize_t)sizeof(buf) && all_zero(buf, sizeof(buf)) ? "yes" : "no");
	RC("fallocate_keep_size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 65536));
	fst("fstat_keep_size", fd);
	RC("posix_fallocate_grow", posix_fallocate(fd, 0, 100000));
	fst("fstat_posix_fallocate", fd);
	memset(buf, 'x', sizeof(buf));
	RC("pwrite_x", pwrite(fd, buf, sizeof(buf), 0));
	RC("punch_hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1024, 2048));
	fst("fstat_after_punch", fd);
	n = pread(fd, buf, 4096, 0);
	say("punched_range_zero", "%zd %s", n,
	    n == 4096 && buf[1023] == 'x' && all_zero(buf + 1024, 2048) && buf[3072] == 'x' ? "yes" : "no");
	RC("fallocate_negative", fallocate(fd, 0, -1, 10));
	RC("fallocate_zero_len", fallocate(fd, 0, 0, 0));
	close(fd);
	fd = FD("open_rdonly", open("f", O_RDONLY));
	RC("fallocate_rdonly", fallocate(fd, 0, 0, 10));
	close(fd);
}

static void c_copy(void)
{
	const size_t len = 300000;
	int in, out;

	if (make_file("src", len, 7) < 0)
		harness("make_file");
	in = FD("open_src", open("src", O_RDONLY));
	out = FD("open_dst", open("dst", O_WRONLY | O_CREAT | O_EXCL, 0644));
	if (in < 0 || out < 0)
		return;
	size_t done = 0;
	int err = 0;
	while (done < len) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, len - done, 0);
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}
		done += (size_t)n;
	}
	say("copy_file_range", "%zu %s", done, err ? ename(err) : "ok");
	fst("fstat_dst", out);
	close(out);
	content("src", "src");
	content("dst", "dst");
	loff_t ioff = 1000, ooff = 5;
	out = FD("open_dst2", open("dst2", O_WRONLY | O_CREAT | O_EXCL, 0644));
	RC("copy_file_range_offsets", copy_file_range(in, &ioff, out, &ooff, 4096, 0));
	say("offsets_advanced", "%lld %lld", (long long)ioff, (long long)ooff);
	RC("src_offset_untouched", lseek(in, 0, SEEK_CUR));
	close(out);
	content("dst2", "dst2");
	RC("lseek_src_0", lseek(in, 0, SEEK_SET));
	out = FD("open_dst3", open("dst3", O_WRONLY | O_CREAT | O_EXCL, 0644));
	done = 0;
	err = 0;
	while (done < len) {
		ssize_t n = sendfile(out, in, NULL, len - done);
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}
		done += (size_t)n;
	}
	say("sendfile", "%zu %s", done, err ? ename(err) : "ok");
	close(out);
	close(in);
	content("dst3", "dst3");
}

/* ---- ownership and permissions for users other than root ------------------ */

#define USER_A 1234     /* the container user */
#define USER_B 5678     /* someone else */

/* "uid:gid type mode" of a name, not following links. */
static void own(const char *step, const char *path)
{
	struct stat s;

	if (lstat(path, &s) < 0)
		say(step, "-%s", ename(errno));
	else
		say(step, "%u:%u %s %04o", (unsigned)s.st_uid, (unsigned)s.st_gid,
		    ftype(s.st_mode), (unsigned)(s.st_mode & 07777));
}

/* Runs fn in a child that is uid:gid with no other groups (as setpriv
 * --reuid --regid --clear-groups), in the current directory, and waits. */
static void as_user(uid_t uid, void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		harness("fork");
		return;
	}
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			harness("drop to a user");
			fflush(stdout);
			_exit(1);
		}
		umask(022);
		fn();
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		harness("user child");
}

static void owners_user_a(void)
{
	static const struct timespec past[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	static const struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	int fd;

	/* What a container user does in a folder of its own. */
	fd = FD("a_create", open("home/f", O_WRONLY | O_CREAT | O_EXCL, 0666));
	if (fd >= 0) {
		RC("a_write", write(fd, "one\n", 4));
		close(fd);
	}
	fd = FD("a_append", open("home/f", O_WRONLY | O_APPEND));
	if (fd >= 0) {
		RC("a_append_write", write(fd, "two\n", 4));
		close(fd);
	}
	content("a_content", "home/f");
	own("a_f", "home/f");
	RC("a_mkdir", mkdir("home/d", 0777));
	own("a_d", "home/d");
	RC("a_create_in_own_dir", make_text("home/d/g", "g\n"));
	own("a_d_g", "home/d/g");
	RC("a_mkdir_private", mkdir("home/p", 0700));
	RC("a_create_in_private", make_text("home/p/x", "x\n"));
	RC("a_symlink", symlink("f", "home/l"));
	own("a_l", "home/l");
	RC("a_mkfifo", mkfifo("home/fifo", 0666));
	own("a_fifo", "home/fifo");
	RC("a_rename", rename("home/f", "home/f2"));
	RC("a_link", link("home/f2", "home/f3"));
	lst("a_link_count", "home/f2");
	RC("a_chmod_own", chmod("home/f2", 0640));
	own("a_f2", "home/f2");
	RC("a_chown_to_self", chown("home/f2", USER_A, (gid_t)-1));
	RC("a_chown_to_other", chown("home/f2", USER_B, (gid_t)-1));
	RC("a_chgrp_not_member", chown("home/f2", (uid_t)-1, USER_B));
	RC("a_chgrp_own_group", chown("home/f2", (uid_t)-1, USER_A));
	RC("a_lchown_link_other", lchown("home/l", USER_B, USER_B));
	RC("a_utimens_own_explicit", utimensat(AT_FDCWD, "home/f2", past, 0));
	RC("a_truncate_own", truncate("home/f2", 2));
	RC("a_unlink_own", unlink("home/f3"));
	RC("a_rmdir_nonempty", rmdir("home/d"));
	RC("a_unlink_in_dir", unlink("home/d/g"));
	RC("a_rmdir_own", rmdir("home/d"));

	/* Root's files and folders. */
	fd = FD("a_open_root_file_rdonly", open("rootfile", O_RDONLY));
	if (fd >= 0)
		close(fd);
	RC("a_open_root_file_wronly", open("rootfile", O_WRONLY));
	RC("a_open_root_file_trunc", open("rootfile", O_RDONLY | O_TRUNC));
	RC("a_truncate_root_file", truncate("rootfile", 0));
	RC("a_chmod_root_file", chmod("rootfile", 0666));
	RC("a_chown_root_file", chown("rootfile", USER_A, USER_A));
	RC("a_utimens_root_explicit", utimensat(AT_FDCWD, "rootfile", past, 0));
	RC("a_utimens_root_now", utimensat(AT_FDCWD, "rootfile", now, 0));
	RC("a_create_in_root_dir", open("new", O_WRONLY | O_CREAT, 0644));
	RC("a_mkdir_in_root_dir", mkdir("newdir", 0755));
	RC("a_symlink_in_root_dir", symlink("x", "newlink"));
	RC("a_mkfifo_in_root_dir", mkfifo("newfifo", 0644));
	RC("a_unlink_in_root_dir", unlink("rootfile"));
	RC("a_rename_in_root_dir", rename("rootfile", "rootfile2"));
	RC("a_rename_into_root_dir", rename("home/f2", "f2"));
	RC("a_link_into_root_dir", link("home/f2", "f2"));
	RC("a_rmdir_in_root_dir", rmdir("home"));
	RC("a_mknod_chr", mknod("home/null", S_IFCHR | 0666, makedev(1, 3)));

	/* A /tmp-like folder (1777). */
	RC("a_tmp_create", make_text("tmp/mine", "mine\n"));
	own("a_tmp_mine", "tmp/mine");
	RC("a_tmp_rename_own", rename("tmp/mine", "tmp/mine2"));
	RC("a_tmp_unlink_root_file", unlink("tmp/rootfile"));
	RC("a_tmp_rename_root_file", rename("tmp/rootfile", "tmp/stolen"));
	RC("a_tmp_rename_over_root_file", rename("tmp/mine2", "tmp/rootfile"));
	RC("a_tmp_rmdir_root_dir", rmdir("tmp/rootdir"));
	RC("a_tmp_append_world_writable", make_text("tmp/world", "a\n"));

	/* A set-group-ID folder of another group. */
	RC("a_sgid_create", make_text("sgid/file", "f\n"));
	own("a_sgid_file", "sgid/file");
	RC("a_sgid_mkdir", mkdir("sgid/sub", 0775));
	own("a_sgid_sub", "sgid/sub");
}

static void owners_user_b(void)
{
	RC("b_open_a_private_file", open("home/f2", O_RDONLY));
	RC("b_list_a_private_dir", open("home/p", O_RDONLY | O_DIRECTORY));
	RC("b_create_in_a_home", open("home/b", O_WRONLY | O_CREAT, 0644));
	RC("b_tmp_unlink_a_file", unlink("tmp/mine2"));
	RC("b_tmp_rename_a_file", rename("tmp/mine2", "tmp/b"));
	RC("b_chmod_a_file", chmod("home/f2", 0777));
	RC("b_tmp_unlink_a_world_file", unlink("tmp/world"));
	RC("b_tmp_create", make_text("tmp/bs", "b\n"));
}

static void owners_user_a_again(void)
{
	RC("a_tmp_unlink_b_file", unlink("tmp/bs"));
	RC("a_rmdir_private_nonempty", rmdir("home/p"));
}

/* A write by a user without CAP_FSETID clears set-user-ID and
 * set-group-ID (with group execute), as the kernel does on a local disk.
 * Not compared: set-group-ID without group execute, which a local disk
 * clears for a writer outside the group and FUSE never does (the kernel's
 * fuse_setattr recomputes the bits to kill itself). */
static void suid_write_user(void)
{
	int fd = FD("open", open("suid", O_WRONLY));

	if (fd >= 0) {
		RC("write", write(fd, "x", 1));
		close(fd);
	}
}

static void c_suid_write(void)
{
	if (make_text("suid", "s\n") < 0 || chmod("suid", 06777) < 0) {
		harness("suid setup");
		return;
	}
	as_user(USER_A, suid_write_user);
	own("suid_after_write", "suid");
}

static void c_owners(void)
{
	/* Set up as root: a home for A, a sticky tmp, a setgid folder of
	 * B's group, a root file readable by all. */
	if (mkdir("home", 0755) < 0 || chown("home", USER_A, USER_A) < 0 ||
	    mkdir("tmp", 0777) < 0 || chmod("tmp", 01777) < 0 ||
	    make_text("tmp/rootfile", "root\n") < 0 || mkdir("tmp/rootdir", 0755) < 0 ||
	    make_text("tmp/world", "w\n") < 0 || chmod("tmp/world", 0666) < 0 ||
	    mkdir("sgid", 0777) < 0 || chown("sgid", 0, USER_B) < 0 ||
	    chmod("sgid", 02777) < 0 || make_text("rootfile", "root\n") < 0) {
		harness("owners setup");
		return;
	}
	own("setup_home", "home");
	own("setup_tmp", "tmp");
	own("setup_sgid", "sgid");
	as_user(USER_A, owners_user_a);
	as_user(USER_B, owners_user_b);
	as_user(USER_A, owners_user_a_again);
	/* Root sees what each user made, and may give it away. */
	own("root_sees_f2", "home/f2");
	own("root_sees_tmp_mine2", "tmp/mine2");
	RC("root_chown_to_b", chown("home/f2", USER_B, USER_B));
	own("root_chowned", "home/f2");
	RC("root_lchown_link", lchown("home/l", USER_B, USER_A));
	own("root_lchowned", "home/l");
	RC("root_tmp_unlink_a_file", unlink("tmp/mine2"));
}

struct testcase {
	const char *name;
	void (*fn)(void);
};

static const struct testcase cases[] = {
	{ "excl", c_excl },
	{ "trunc", c_trunc },
	{ "append", c_append },
	{ "pread", c_pread },
	{ "sparse", c_sparse },
	{ "truncate", c_truncate },
	{ "rename", c_rename },
	{ "unlink_open", c_unlink_open },
	{ "hardlink", c_hardlink },
	{ "symlink", c_symlink },
	{ "dirs", c_dirs },
	{ "chmod", c_chmod },
	{ "utimens", c_utimens },
	{ "statfs", c_statfs },
	{ "readdir_big", c_readdir_big },
	{ "mmap", c_mmap },
	{ "fsync", c_fsync },
	{ "threads", c_threads },
	{ "bigio", c_bigio },
	{ "coherence", c_coherence },
	{ "locks", c_locks },
	{ "fallocate", c_fallocate },
	{ "copy", c_copy },
	{ "names", c_names },
	{ "owners", c_owners },
	{ "suid_write", c_suid_write },
};

static int wanted(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return 1;
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);

	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (size_t i = 0; i < ncases; i++)
			puts(cases[i].name);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: posix_suite DIR [CASE...]\n       posix_suite -l\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		size_t k = 0;
		while (k < ncases && strcmp(cases[k].name, argv[i]))
			k++;
		if (k == ncases) {
			fprintf(stderr, "posix_suite: unknown case '%s' (see -l)\n", argv[i]);
			return 2;
		}
	}
	if (!realpath(argv[1], g_root)) {
		fprintf(stderr, "posix_suite: %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	/* Line buffering: a hang or a crash still leaves the steps so far. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);

	for (size_t i = 0; i < ncases; i++) {
		if (!wanted(cases[i].name, argc, argv))
			continue;
		g_case = cases[i].name;
		if (chdir(g_root) < 0) {
			fprintf(stderr, "posix_suite: %s: %s\n", g_root, strerror(errno));
			return 3;
		}
		if (mkdir(g_case, 0755) < 0 || chdir(g_case) < 0) {
			harness("case directory");
			continue;
		}
		cases[i].fn();
	}
	if (chdir(g_root) < 0)
		g_harness_errors++;
	fflush(stdout);
	return g_harness_errors ? 3 : 0;
}
