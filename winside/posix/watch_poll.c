/*
 * watch_poll.c - the part of the export inotify cannot watch: directories
 * whose watch was refused with ENOSPC (fs.inotify.max_user_watches). Each
 * is remembered by its path and a fingerprint of its whole subtree (every
 * entry's name, inode, type, mode, size, mtime and ctime), walked again
 * every POLL_MS; a subtree whose fingerprint changed, or that is gone, is
 * reported as a RESCAN of that path, which the clients diff against their
 * cache. Slower than inotify, and it costs a walk of the unwatched part per
 * period, but nothing is lost in silence.
 *
 * Calls watch_batch.c (the RESCAN) and watch_tree.c (paths).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_hash.h"
#include "ws_posix.h"

/* Below this depth a subtree is fingerprinted as a whole directory. */
#define POLL_DEPTH_MAX 256

struct polled {
	struct polled *next;
	uint64_t print;                 /* 0: could not be opened */
	size_t len;
	char path[];                    /* below the root, '/'-separated */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return ws_hash_u64(h ^ v) + 0x9E3779B97F4A7C15ull;
}

/* Fold every entry below the open directory dfd (taken) into *h. */
static void print_dir(int dfd, uint64_t *h, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *dp = fdopendir(dfd);
	int sub;

	if (!dp) {
		close(dfd);
		*h = mix(*h, 1);
		return;
	}
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] ||
		    (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		*h = mix(*h, ws__hash_bytes(0, de->d_name, strlen(de->d_name)));
		if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		*h = mix(*h, (uint64_t)st.st_ino);
		*h = mix(*h, (uint64_t)st.st_mode);
		*h = mix(*h, (uint64_t)st.st_size);
		*h = mix(*h, (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
		*h = mix(*h, (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec);
		if (!S_ISDIR(st.st_mode) || depth >= POLL_DEPTH_MAX)
			continue;
		sub = openat(dirfd(dp), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			print_dir(sub, h, depth + 1);
	}
	closedir(dp);
}

/* The fingerprint of the subtree at p, or 0 (gone) when it cannot be
 * opened below the root, one component at a time, never following a link. */
static uint64_t print_of(struct ws_watch *w, const struct polled *p)
{
	char comp[NAME_MAX + 1];
	const char *at = p->path, *slash;
	uint64_t h = 0x2545F4914F6CDD1Dull;
	int fd, next;
	size_t n;

	fd = fcntl(ws__posix_root_fd(w->be), F_DUPFD_CLOEXEC, 0);
	while (fd >= 0 && *at) {
		slash = strchr(at, '/');
		n = slash ? (size_t)(slash - at) : strlen(at);
		if (n > NAME_MAX) {
			close(fd);
			return 0;
		}
		memcpy(comp, at, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		at += n + (slash ? 1 : 0);
	}
	if (fd < 0)
		return 0;
	next = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (next < 0)
		return 0;
	print_dir(next, &h, 0);
	return h ? h : 1;
}

/* Poll the directory `name` in `parent` from now on. */
void ws__watch_poll_add(struct ws_watch *w, struct wdir *parent, const char *name)
{
	size_t dlen = ws__watch_dir_path_len(parent), nlen = strlen(name), len;
	struct polled *p;

	len = dlen + (dlen && nlen ? 1 : 0) + nlen;
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return;         /* the RESCAN the caller sent still stands */
	ws__watch_dir_path_write(parent, p->path + dlen);
	if (dlen && nlen)
		p->path[dlen] = '/';
	memcpy(p->path + len - nlen, name, nlen);
	p->path[len] = '\0';
	p->len = len;
	for (struct polled *q = w->polled; q; q = q->next) {
		if (q->len == len && !memcmp(q->path, p->path, len)) {
			free(p);
			return;
		}
	}
	p->print = print_of(w, p);
	p->next = w->polled;
	w->polled = p;
	w->npolled++;
	w->polled_bytes += sizeof(*p) + len + 1;
}

/* One period: a RESCAN for every polled subtree that changed. */
void ws__watch_poll_run(struct ws_watch *w)
{
	struct polled **pp = &w->polled, *p;
	uint64_t h;

	while ((p = *pp)) {
		h = print_of(w, p);
		if (h != p->print)
			ws__watch_emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, w->root, p->path, 0);
		p->print = h;
		if (!h) {
			/* Gone (or moved: where it went is watched, or polled
			 * on its own). */
			*pp = p->next;
			w->polled_bytes -= sizeof(*p) + p->len + 1;
			free(p);
			w->npolled--;
			continue;
		}
		pp = &p->next;
	}
}

void ws__watch_poll_free(struct ws_watch *w)
{
	struct polled *p;

	while ((p = w->polled)) {
		w->polled = p->next;
		free(p);
	}
	w->npolled = 0;
	w->polled_bytes = 0;
}
