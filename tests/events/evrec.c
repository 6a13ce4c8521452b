/*
 * evrec.c - record the inotify events of a directory tree, one line each.
 *
 *   evrec [-t] [-c] DIR
 *
 * Prints `[TIME ]PATH MASK[ COOKIE]` per event, PATH relative to DIR ("."
 * for DIR itself), MASK the event's flag names joined by '|' (IN_CREATE|IN_ISDIR),
 * COOKIE with -c the event's cookie in decimal (0 but for renames),
 * TIME with -t the CLOCK_MONOTONIC time in microseconds at which the event
 * was read (the same clock in every process, in every mount namespace, so
 * the lines of two recorders can be compared). Every line is flushed as it
 * is written. `READY` is printed once every directory present at start is
 * watched. SIGTERM or SIGINT: read what is still queued, then exit 0.
 *
 * Directories that appear later are watched when their IN_CREATE or
 * IN_MOVED_TO arrives. A created directory may already hold entries made
 * before its watch existed (mkdir -p a/b, or mkdir d && touch d/f): its
 * listing is read right after the watch is added and every entry found is
 * reported as IN_CREATE, as inotifywait and file-watching libraries do, so
 * that no creation is lost to that race. An entry created after the watch
 * but before the listing would then be reported twice; the real IN_CREATE
 * that follows a reported one is dropped. A directory moved in from outside
 * the tree gets watches but no invented events: natively only its
 * IN_MOVED_TO is raised.
 *
 * The recorder's own listing opens directories, so IN_OPEN, IN_ACCESS and
 * IN_CLOSE_NOWRITE on them may follow an IN_CREATE|IN_ISDIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MASK (IN_ALL_EVENTS | IN_DONT_FOLLOW | IN_ONLYDIR)
#define MAX_PENDING_MOVES 64

struct recorder {
	int ifd;
	int stamp;              /* -t */
	int cookies;            /* -c */
	char **paths;           /* by watch descriptor; NULL: not ours */
	size_t npaths;
	char **reported;        /* creations reported from a listing */
	size_t nreported, capreported;
	struct {
		uint32_t cookie;
		char *path;
	} moves[MAX_PENDING_MOVES];
	size_t next_move;
};

static const struct {
	uint32_t bit;
	const char *name;
} mask_names[] = {
	{ IN_ACCESS, "IN_ACCESS" },
	{ IN_MODIFY, "IN_MODIFY" },
	{ IN_ATTRIB, "IN_ATTRIB" },
	{ IN_CLOSE_WRITE, "IN_CLOSE_WRITE" },
	{ IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE" },
	{ IN_OPEN, "IN_OPEN" },
	{ IN_MOVED_FROM, "IN_MOVED_FROM" },
	{ IN_MOVED_TO, "IN_MOVED_TO" },
	{ IN_CREATE, "IN_CREATE" },
	{ IN_DELETE, "IN_DELETE" },
	{ IN_DELETE_SELF, "IN_DELETE_SELF" },
	{ IN_MOVE_SELF, "IN_MOVE_SELF" },
	{ IN_UNMOUNT, "IN_UNMOUNT" },
	{ IN_Q_OVERFLOW, "IN_Q_OVERFLOW" },
	{ IN_IGNORED, "IN_IGNORED" },
	{ IN_ISDIR, "IN_ISDIR" },
};

static void die_oom(void)
{
	fputs("evrec: out of memory\n", stderr);
	exit(1);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die_oom();
	return d;
}

/* "a/b" + "c" = "a/b/c"; "." + "c" = "c". */
static char *join(const char *dir, const char *name)
{
	size_t ld = strlen(dir), ln = strlen(name);
	char *p;

	if (strcmp(dir, ".") == 0)
		return xstrdup(name);
	p = malloc(ld + 1 + ln + 1);
	if (!p)
		die_oom();
	memcpy(p, dir, ld);
	p[ld] = '/';
	memcpy(p + ld + 1, name, ln + 1);
	return p;
}

static void emit(struct recorder *r, const char *path, uint32_t mask, uint32_t cookie,
                 uint64_t now_us)
{
	size_t i;
	int first = 1;

	if (r->stamp)
		printf("%llu ", (unsigned long long)now_us);
	printf("%s ", path);
	for (i = 0; i < sizeof(mask_names) / sizeof(mask_names[0]); i++) {
		if (!(mask & mask_names[i].bit))
			continue;
		printf("%s%s", first ? "" : "|", mask_names[i].name);
		first = 0;
	}
	if (first)
		printf("0x%x", (unsigned)mask);
	if (r->cookies)
		printf(" %u", (unsigned)cookie);
	putchar('\n');
	fflush(stdout);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void remember_reported(struct recorder *r, const char *path)
{
	if (r->nreported == r->capreported) {
		size_t cap = r->capreported ? r->capreported * 2 : 64;
		char **n = realloc(r->reported, cap * sizeof(*n));

		if (!n)
			die_oom();
		r->reported = n;
		r->capreported = cap;
	}
	r->reported[r->nreported++] = xstrdup(path);
}

/* Forget PATH if it was reported from a listing; 1 when it was. */
static int forget_reported(struct recorder *r, const char *path)
{
	size_t i;

	for (i = 0; i < r->nreported; i++) {
		if (strcmp(r->reported[i], path) == 0) {
			free(r->reported[i]);
			r->reported[i] = r->reported[--r->nreported];
			return 1;
		}
	}
	return 0;
}

static void set_path(struct recorder *r, int wd, const char *path)
{
	size_t w = (size_t)wd;

	if (w >= r->npaths) {
		size_t n = r->npaths ? r->npaths : 64;
		char **p;

		while (n <= w)
			n *= 2;
		p = realloc(r->paths, n * sizeof(*p));
		if (!p)
			die_oom();
		memset(p + r->npaths, 0, (n - r->npaths) * sizeof(*p));
		r->paths = p;
		r->npaths = n;
	}
	free(r->paths[w]);
	r->paths[w] = xstrdup(path);
}

static const char *path_of(struct recorder *r, int wd)
{
	if (wd < 0 || (size_t)wd >= r->npaths)
		return NULL;
	return r->paths[wd];
}

static int is_dir_at(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return S_ISDIR(st.st_mode);
}

/*
 * Watch directory REL and everything below it. With REPORT, entries found
 * are reported as created (see the header). A directory that vanished
 * meanwhile is not an error: its removal events tell the story.
 */
static void watch_tree(struct recorder *r, const char *rel, int report)
{
	int wd, dfd;
	DIR *d;
	struct dirent *de;

	wd = inotify_add_watch(r->ifd, rel, WATCH_MASK);
	if (wd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			fprintf(stderr, "evrec: watch %s: %s\n", rel, strerror(errno));
		return;
	}
	set_path(r, wd, rel);
	dfd = openat(AT_FDCWD, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *child;
		int dir;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		dir = is_dir_at(dfd, de);
		if (!dir && !report)
			continue;
		child = join(rel, de->d_name);
		if (report) {
			emit(r, child, IN_CREATE | (dir ? IN_ISDIR : 0), 0, now_us());
			remember_reported(r, child);
		}
		if (dir)
			watch_tree(r, child, report);
		free(child);
	}
	closedir(d);
}

/* A watched directory moved from OLD to NEW inside the tree. */
static void rename_watches(struct recorder *r, const char *old, const char *new)
{
	size_t i, lo = strlen(old);

	for (i = 0; i < r->npaths; i++) {
		char *p = r->paths[i], *n;

		if (!p || strncmp(p, old, lo) != 0 || (p[lo] != '\0' && p[lo] != '/'))
			continue;
		n = malloc(strlen(new) + strlen(p + lo) + 1);
		if (!n)
			die_oom();
		strcpy(n, new);
		strcat(n, p + lo);
		free(p);
		r->paths[i] = n;
	}
}

static void on_event(struct recorder *r, const struct inotify_event *ev, uint64_t t)
{
	const char *dir = path_of(r, ev->wd);
	char *path;
	size_t i;

	if (ev->mask & IN_Q_OVERFLOW) {
		emit(r, ".", ev->mask, 0, t);
		return;
	}
	if (!dir)
		return;         /* a watch already forgotten */
	path = ev->len ? join(dir, ev->name) : xstrdup(dir);

	if ((ev->mask & IN_CREATE) && forget_reported(r, path)) {
		free(path);     /* already reported from a listing */
		return;
	}
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		forget_reported(r, path);
	emit(r, path, ev->mask, ev->cookie, t);

	if ((ev->mask & IN_ISDIR) && (ev->mask & IN_CREATE)) {
		watch_tree(r, path, 1);
	} else if ((ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_FROM)) {
		i = r->next_move++ % MAX_PENDING_MOVES;
		free(r->moves[i].path);
		r->moves[i].cookie = ev->cookie;
		r->moves[i].path = xstrdup(path);
	} else if ((ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_TO)) {
		for (i = 0; i < MAX_PENDING_MOVES; i++) {
			if (r->moves[i].path && r->moves[i].cookie == ev->cookie)
				break;
		}
		if (i < MAX_PENDING_MOVES) {
			rename_watches(r, r->moves[i].path, path);
			free(r->moves[i].path);
			r->moves[i].path = NULL;
		} else {
			watch_tree(r, path, 0);
		}
	} else if (ev->mask & IN_IGNORED) {
		free(r->paths[ev->wd]);
		r->paths[ev->wd] = NULL;
	}
	free(path);
}

/* Read and print what is queued; 0, or -1 on a read error. */
static int drain(struct recorder *r)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(r->ifd, buf, sizeof(buf));
		uint64_t t = now_us();
		char *p;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			on_event(r, ev, t);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void usage(void)
{
	fputs("usage: evrec [-t] [-c] DIR\n"
	      "Print the inotify events of the tree DIR, one per line: [TIME ]PATH MASK[ COOKIE].\n"
	      "  -t   prefix each line with CLOCK_MONOTONIC microseconds\n"
	      "  -c   end each line with the event's cookie\n", stderr);
}

int main(int argc, char **argv)
{
	struct recorder r;
	struct pollfd pfd[2];
	sigset_t sigs;
	int opt, sfd, err = 0;
	size_t i;

	memset(&r, 0, sizeof(r));
	while ((opt = getopt(argc, argv, "tch")) != -1) {
		switch (opt) {
		case 't':
			r.stamp = 1;
			break;
		case 'c':
			r.cookies = 1;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage();
		return 2;
	}
	/* Paths are kept relative to DIR: work from inside it. */
	if (chdir(argv[optind]) < 0) {
		fprintf(stderr, "evrec: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		perror("evrec: signalfd");
		return 1;
	}
	r.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r.ifd < 0) {
		perror("evrec: inotify_init1");
		return 1;
	}
	watch_tree(&r, ".", 0);
	if (r.npaths == 0) {
		fprintf(stderr, "evrec: cannot watch %s\n", argv[optind]);
		return 1;
	}
	puts("READY");
	fflush(stdout);

	pfd[0].fd = r.ifd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("evrec: poll");
			err = 1;
			break;
		}
		if ((pfd[0].revents & POLLIN) && drain(&r) < 0) {
			perror("evrec: read");
			err = 1;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			/* Stop: print what the kernel still holds first. */
			if (drain(&r) < 0)
				err = 1;
			break;
		}
	}
	for (i = 0; i < r.npaths; i++)
		free(r.paths[i]);
	free(r.paths);
	for (i = 0; i < r.nreported; i++)
		free(r.reported[i]);
	free(r.reported);
	for (i = 0; i < MAX_PENDING_MOVES; i++)
		free(r.moves[i].path);
	close(r.ifd);
	close(sfd);
	return err;
}
