/*
 * event_latency.c - how fast, and how completely, changes made in a
 * directory reach an inotify watcher of another view of it (an fsbridge
 * mount of that directory, or a bind mount of it for a native baseline).
 *
 *   event_latency [-n CHANGES] [-b BURST] [-t TIMEOUT_MS] [-q QUIET_MS]
 *                 CHANGE_DIR WATCH_DIR
 *
 * CHANGE_DIR and WATCH_DIR must show the same directory. Both phases work
 * in a fresh subdirectory evlat.PID, removed at the end, and cycle through
 * the same three changes per file fK: create (IN_CREATE), append a line
 * (IN_MODIFY), delete (IN_DELETE).
 *
 * latency: CHANGES changes (default 1000), one at a time: make it, then
 *   wait up to TIMEOUT_MS (default 2000) for its event on WATCH_DIR. The
 *   latency is from the change's system call returning to the event being
 *   read. After 5 losses in a row the phase stops: nothing is coming.
 * burst: BURST changes (default 10000) as fast as possible (the watcher's
 *   queue is drained between changes, so its own overflow is not what is
 *   measured), then wait until every event came or none came for QUIET_MS
 *   (default 3000). Counts delivered, lost and duplicate events, and
 *   queue overflows.
 *
 * Prints key=value lines (times in microseconds) for bench/events.sh.
 * Exit: 0 when it ran (losses are results, not errors), 1 on a setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum change_bit {
	CH_CREATE = 1 << 0,
	CH_MODIFY = 1 << 1,
	CH_DELETE = 1 << 2,
};

#define MAX_LOSS_RUN 5

struct phase {
	const char *name;
	int dirfd;              /* where changes are made */
	int wd;                 /* the watch on the other view */
	size_t nchanges;
	uint8_t *seen;          /* per file: change bits seen */
	uint64_t *changed_at;   /* per change: when it was made */
	uint64_t *seen_at;      /* per change: when its event was read */
	size_t delivered, duplicates, overflows;
};

static int ifd = -1;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static enum change_bit change_kind(size_t i)
{
	static const enum change_bit order[3] = { CH_CREATE, CH_MODIFY, CH_DELETE };

	return order[i % 3];
}

static size_t change_index(size_t file, enum change_bit kind)
{
	return file * 3 + (kind == CH_CREATE ? 0 : kind == CH_MODIFY ? 1 : 2);
}

/* Make change I; 0 or -errno. */
static int make_change(struct phase *p, size_t i)
{
	char name[32];
	int fd, err = 0;

	snprintf(name, sizeof(name), "f%zu", i / 3);
	switch (change_kind(i)) {
	case CH_CREATE:
		fd = openat(p->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		p->changed_at[i] = now_us();
		close(fd);
		return 0;
	case CH_MODIFY:
		fd = openat(p->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (write(fd, "changed\n", 8) != 8)
			err = -EIO;
		p->changed_at[i] = now_us();
		close(fd);
		return err;
	case CH_DELETE:
		if (unlinkat(p->dirfd, name, 0) < 0)
			return -errno;
		p->changed_at[i] = now_us();
		return 0;
	}
	return -EINVAL;
}

static void on_event(struct phase *p, const struct inotify_event *ev, uint64_t t)
{
	enum change_bit kind;
	unsigned long file;
	char *end;
	size_t ci;

	if (ev->mask & IN_Q_OVERFLOW) {
		p->overflows++;
		return;
	}
	if (ev->wd != p->wd || !ev->len || ev->name[0] != 'f')
		return;
	if (ev->mask & IN_CREATE)
		kind = CH_CREATE;
	else if (ev->mask & IN_MODIFY)
		kind = CH_MODIFY;
	else if (ev->mask & IN_DELETE)
		kind = CH_DELETE;
	else
		return;
	errno = 0;
	file = strtoul(ev->name + 1, &end, 10);
	if (errno || *end || end == ev->name + 1)
		return;
	ci = change_index(file, kind);
	if (ci >= p->nchanges)
		return;
	if (p->seen[file] & kind) {
		p->duplicates++;
		return;
	}
	p->seen[file] |= kind;
	p->seen_at[ci] = t;
	p->delivered++;
}

/* Read what is queued, waiting up to TIMEOUT_MS for something; the
 * number of bytes read, 0 on timeout, -1 on error. */
static ssize_t pump(struct phase *p, int timeout_ms)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd = { .fd = ifd, .events = POLLIN };
	ssize_t n, total = 0;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r == 0)
		return 0;
	for (;;) {
		uint64_t t;
		char *q;

		n = read(ifd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? total : -1;
		t = now_us();
		for (q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)q;

			on_event(p, ev, t);
			q += sizeof(*ev) + ev->len;
		}
		total += n;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50, p99 and max of the latencies of the delivered changes. */
static void print_latencies(const struct phase *p)
{
	uint64_t *lat = malloc((p->nchanges + 1) * sizeof(*lat));
	size_t i, n = 0;

	if (!lat)
		return;
	for (i = 0; i < p->nchanges; i++) {
		if (p->seen_at[i] && p->changed_at[i])
			lat[n++] = p->seen_at[i] > p->changed_at[i] ? p->seen_at[i] - p->changed_at[i] : 0;
	}
	if (n) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		printf("%s_p50_us=%llu\n", p->name, (unsigned long long)lat[(n - 1) * 50 / 100]);
		printf("%s_p99_us=%llu\n", p->name, (unsigned long long)lat[(n - 1) * 99 / 100]);
		printf("%s_max_us=%llu\n", p->name, (unsigned long long)lat[n - 1]);
	}
	free(lat);
}

static int phase_init(struct phase *p, const char *name, const char *change_root,
                      const char *watch_root, const char *sub, size_t nchanges)
{
	char path[PATH_MAX];
	int tries;

	memset(p, 0, sizeof(*p));
	p->name = name;
	p->dirfd = -1;
	p->wd = -1;
	p->nchanges = nchanges;
	p->seen = calloc(nchanges / 3 + 1, 1);
	p->changed_at = calloc(nchanges + 1, sizeof(*p->changed_at));
	p->seen_at = calloc(nchanges + 1, sizeof(*p->seen_at));
	if (!p->seen || !p->changed_at || !p->seen_at) {
		fputs("event_latency: out of memory\n", stderr);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", change_root, sub);
	if (mkdir(path, 0755) < 0) {
		fprintf(stderr, "event_latency: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	p->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		fprintf(stderr, "event_latency: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* The other view learns of the new directory by a lookup at worst. */
	snprintf(path, sizeof(path), "%s/%s", watch_root, sub);
	for (tries = 0; tries < 50; tries++) {
		p->wd = inotify_add_watch(ifd, path, IN_CREATE | IN_MODIFY | IN_DELETE | IN_ONLYDIR);
		if (p->wd >= 0 || errno != ENOENT)
			break;
		usleep(100 * 1000);
	}
	if (p->wd < 0) {
		fprintf(stderr, "event_latency: watch %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void phase_release(struct phase *p)
{
	size_t f;
	char name[32];

	if (p->dirfd >= 0) {
		for (f = 0; f < p->nchanges / 3 + 1; f++) {
			snprintf(name, sizeof(name), "f%zu", f);
			unlinkat(p->dirfd, name, 0);
		}
		close(p->dirfd);
	}
	if (p->wd >= 0)
		inotify_rm_watch(ifd, p->wd);
	free(p->seen);
	free(p->changed_at);
	free(p->seen_at);
}

static int run_latency(struct phase *p, int timeout_ms)
{
	size_t i, done = 0, lost = 0, run = 0;
	int err;

	for (i = 0; i < p->nchanges; i++) {
		size_t file = i / 3;
		enum change_bit kind = change_kind(i);
		uint64_t deadline;

		err = make_change(p, i);
		if (err < 0) {
			fprintf(stderr, "event_latency: change %zu: %s\n", i, strerror(-err));
			return -1;
		}
		done++;
		deadline = p->changed_at[i] + (uint64_t)timeout_ms * 1000u;
		while (!(p->seen[file] & kind)) {
			uint64_t t = now_us();

			if (t >= deadline)
				break;
			if (pump(p, (int)((deadline - t + 999) / 1000)) < 0)
				return -1;
		}
		if (p->seen[file] & kind) {
			run = 0;
		} else {
			lost++;
			if (++run == MAX_LOSS_RUN)
				break;
		}
	}
	printf("latency_changes=%zu\n", done);
	printf("latency_delivered=%zu\n", done - lost);
	printf("latency_lost=%zu\n", lost);
	printf("latency_stopped_early=%d\n", done < p->nchanges);
	printf("latency_overflows=%zu\n", p->overflows);
	print_latencies(p);
	return 0;
}

static int run_burst(struct phase *p, int quiet_ms)
{
	uint64_t start, made, last = 0;
	size_t i, lost[3] = { 0, 0, 0 };
	int err;

	start = now_us();
	for (i = 0; i < p->nchanges; i++) {
		err = make_change(p, i);
		if (err < 0) {
			fprintf(stderr, "event_latency: burst change %zu: %s\n", i, strerror(-err));
			return -1;
		}
		if (pump(p, 0) < 0)
			return -1;
	}
	made = now_us();
	/* Wait for the rest until all came or none came for QUIET_MS. */
	while (p->delivered < p->nchanges) {
		ssize_t n = pump(p, quiet_ms);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
	}
	for (i = 0; i < p->nchanges; i++) {
		if (p->seen_at[i] > last)
			last = p->seen_at[i];
	}
	printf("burst_changes=%zu\n", p->nchanges);
	printf("burst_delivered=%zu\n", p->delivered);
	printf("burst_lost=%zu\n", p->nchanges - p->delivered);
	for (i = 0; i < p->nchanges; i++) {
		if (!p->seen_at[i])
			lost[i % 3]++;
	}
	printf("burst_lost_create=%zu\nburst_lost_modify=%zu\nburst_lost_delete=%zu\n",
	       lost[0], lost[1], lost[2]);
	printf("burst_duplicates=%zu\n", p->duplicates);
	printf("burst_overflows=%zu\n", p->overflows);
	printf("burst_make_us=%llu\n", (unsigned long long)(made - start));
	if (last)
		printf("burst_last_event_us=%llu\n", (unsigned long long)(last - start));
	print_latencies(p);
	return 0;
}

static size_t parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 10000000) {
		fprintf(stderr, "event_latency: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fputs("usage: event_latency [-n CHANGES] [-b BURST] [-t TIMEOUT_MS] [-q QUIET_MS]\n"
	      "                     CHANGE_DIR WATCH_DIR\n"
	      "Changes files in CHANGE_DIR and times their inotify events on WATCH_DIR,\n"
	      "another view of the same directory (a mount of it).\n", stderr);
}

int main(int argc, char **argv)
{
	size_t nlat = 1000, nburst = 10000;
	int timeout_ms = 2000, quiet_ms = 3000, opt, err = 1;
	struct phase lat, burst;
	char sub[64], path[PATH_MAX];

	while ((opt = getopt(argc, argv, "n:b:t:q:h")) != -1) {
		switch (opt) {
		case 'n': nlat = parse_count(optarg, "change count"); break;
		case 'b': nburst = parse_count(optarg, "burst size"); break;
		case 't': timeout_ms = (int)parse_count(optarg, "timeout"); break;
		case 'q': quiet_ms = (int)parse_count(optarg, "quiet time"); break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0) {
		perror("event_latency: inotify_init1");
		return 1;
	}
	snprintf(sub, sizeof(sub), "evlat.%ld", (long)getpid());
	snprintf(path, sizeof(path), "%s/%s", argv[optind], sub);
	if (mkdir(path, 0755) < 0) {
		fprintf(stderr, "event_latency: mkdir %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/lat", sub);
	if (phase_init(&lat, "latency", argv[optind], argv[optind + 1], path, nlat) < 0)
		goto out_lat;
	if (run_latency(&lat, timeout_ms) < 0)
		goto out_lat;
	snprintf(path, sizeof(path), "%s/burst", sub);
	if (phase_init(&burst, "burst", argv[optind], argv[optind + 1], path, nburst) < 0)
		goto out_burst;
	if (run_burst(&burst, quiet_ms) < 0)
		goto out_burst;
	err = 0;
out_burst:
	phase_release(&burst);
	snprintf(path, sizeof(path), "%s/%s/burst", argv[optind], sub);
	rmdir(path);
out_lat:
	phase_release(&lat);
	snprintf(path, sizeof(path), "%s/%s/lat", argv[optind], sub);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/%s", argv[optind], sub);
	rmdir(path);
	close(ifd);
	return err;
}
