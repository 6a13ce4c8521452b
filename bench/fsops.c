/*
 * fsops.c - the timed file system operations of bench/run.
 *
 * Each command does one workload in this one process, so that no fork or
 * exec lands inside a measurement, and prints what it measured on stdout
 * as "key=value" words (seconds as decimals, counts as integers):
 *
 *   fsops walk DIR              readdir + lstat of every entry below DIR
 *                               -> seconds= entries=
 *   fsops small DIR N SIZE      create N files of SIZE bytes in DIR (which
 *                               must not exist; it is created), then delete
 *                               them and DIR -> create_s= delete_s=
 *   fsops seqwrite FILE MIB     write MIB MiB in 1 MiB writes, fsync, close
 *                               -> seconds= bytes=
 *   fsops seqread FILE          read FILE to its end in 1 MiB reads
 *                               -> seconds= bytes=
 *   fsops sockbw MIB            push MIB MiB through a Unix stream socket
 *                               to another process in 1 MiB writes
 *                               -> seconds= bytes=
 *
 * Built by bench/run with the system compiler; it needs only libc.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "fsops: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
	        strerror(errno));
	exit(1);
}

/* Bytes that neither compress nor repeat within a chunk. */
static char *chunk_alloc(void)
{
	char *buf = malloc(CHUNK);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	if (!buf)
		die("malloc", NULL);
	for (i = 0; i < CHUNK; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)(x >> 56);
	}
	return buf;
}

/* ---- walk ---------------------------------------------------------------- */

static unsigned long walk_dir(int dfd, const char *name)
{
	unsigned long n = 0;
	struct dirent *de;
	DIR *d;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die("open", name);
	d = fdopendir(fd);
	if (!d)
		die("fdopendir", name);
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("lstat", de->d_name);
		n++;
		if (S_ISDIR(st.st_mode))
			n += walk_dir(fd, de->d_name);
	}
	closedir(d);
	return n;
}

static int cmd_walk(char **argv)
{
	double t0 = now();
	unsigned long n = walk_dir(AT_FDCWD, argv[0]);

	printf("seconds=%.6f entries=%lu\n", now() - t0, n);
	return 0;
}

/* ---- small files --------------------------------------------------------- */

static int cmd_small(char **argv)
{
	const char *dir = argv[0];
	long n = atol(argv[1]), size = atol(argv[2]), i;
	char *buf = chunk_alloc();
	char name[64];
	double t0, t1, t2;
	int dfd;

	if (n <= 0 || size < 0 || size > (long)CHUNK) {
		fprintf(stderr, "fsops small: bad N or SIZE\n");
		return 2;
	}
	if (mkdir(dir, 0755) < 0)
		die("mkdir", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open", dir);
	t0 = now();
	for (i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%06ld.js", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create", name);
		if (write(fd, buf, (size_t)size) != (ssize_t)size)
			die("write", name);
		if (close(fd) < 0)
			die("close", name);
	}
	t1 = now();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06ld.js", i);
		if (unlinkat(dfd, name, 0) < 0)
			die("unlink", name);
	}
	t2 = now();
	close(dfd);
	if (rmdir(dir) < 0)
		die("rmdir", dir);
	free(buf);
	printf("create_s=%.6f delete_s=%.6f\n", t1 - t0, t2 - t1);
	return 0;
}

/* ---- sequential I/O ------------------------------------------------------ */

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write", what);
		buf += w;
		len -= (size_t)w;
	}
}

/* Reads fd to its end; returns the byte count. */
static uint64_t drain(int fd, char *buf, const char *what)
{
	uint64_t total = 0;

	for (;;) {
		ssize_t r = read(fd, buf, CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read", what);
		if (r == 0)
			return total;
		total += (uint64_t)r;
	}
}

static int cmd_seqwrite(char **argv)
{
	long mib = atol(argv[1]), i;
	char *buf = chunk_alloc();
	double t0 = now();
	int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("open", argv[0]);
	for (i = 0; i < mib; i++)
		write_all(fd, buf, CHUNK, argv[0]);
	if (fsync(fd) < 0)
		die("fsync", argv[0]);
	if (close(fd) < 0)
		die("close", argv[0]);
	printf("seconds=%.6f bytes=%llu\n", now() - t0,
	       (unsigned long long)mib * CHUNK);
	free(buf);
	return 0;
}

static int cmd_seqread(char **argv)
{
	char *buf = malloc(CHUNK);
	double t0 = now();
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	uint64_t n;

	if (!buf)
		die("malloc", NULL);
	if (fd < 0)
		die("open", argv[0]);
	n = drain(fd, buf, argv[0]);
	close(fd);
	printf("seconds=%.6f bytes=%llu\n", now() - t0, (unsigned long long)n);
	free(buf);
	return 0;
}

/* ---- the transport's anchor ---------------------------------------------- */

static int cmd_sockbw(char **argv)
{
	long mib = atol(argv[0]), i;
	char *buf = chunk_alloc();
	int sv[2], status;
	uint64_t n;
	double t0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", NULL);
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < mib; i++)
			write_all(sv[1], buf, CHUNK, "socket");
		_exit(0);
	}
	close(sv[1]);
	n = drain(sv[0], buf, "socket");
	printf("seconds=%.6f bytes=%llu\n", now() - t0, (unsigned long long)n);
	close(sv[0]);
	waitpid(pid, &status, 0);
	free(buf);
	return n == (uint64_t)mib * CHUNK ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(char **argv);
	} cmds[] = {
		{ "walk", 1, cmd_walk },         { "small", 3, cmd_small },
		{ "seqwrite", 2, cmd_seqwrite }, { "seqread", 1, cmd_seqread },
		{ "sockbw", 1, cmd_sockbw },
	};
	size_t i;

	for (i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name) && argc == cmds[i].nargs + 2)
			return cmds[i].fn(argv + 2);
	fprintf(stderr, "usage: fsops walk DIR | small DIR N SIZE | seqwrite FILE MIB |"
	                " seqread FILE | sockbw MIB\n");
	return 2;
}
