/*
 * readahead.c - the mount's readahead window.
 *
 * A FUSE mount starts with the kernel's default of 128 KiB, and the
 * INIT reply can only lower it (fs/fuse/inode.c, process_init_reply:
 * ra_pages = min(ra_pages, max_readahead)). With 128 KiB a sequential
 * read has one or two READs in flight and waits a server round trip for
 * each: it is latency-bound far below the transport's bandwidth. The
 * window belongs to the mount's backing_dev_info, named after its
 * device number, and only root may change it, in
 * /sys/class/bdi/MAJOR:MINOR/read_ahead_kb.
 *
 * It must be set after the kernel has applied the INIT reply, or the
 * reply's min() takes it back down; so a thread stat()s the mount
 * point, which returns only once the mount answers, then writes it.
 */
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "readahead.h"

static int set_window(dev_t dev, unsigned kb)
{
	char path[96], val[32];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(dev), minor(dev));
	n = snprintf(val, sizeof(val), "%u\n", kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, (size_t)n) != n)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

static void *readahead_thread(void *arg)
{
	struct fb_readahead *ra = arg;
	struct stat st;
	int err;

	pthread_setname_np(pthread_self(), "fb-readahead");
	if (stat(ra->mountpoint, &st) < 0) {
		fb_dbg("readahead of %s left as it is: %s", ra->mountpoint, strerror(errno));
		return NULL;
	}
	err = set_window(st.st_dev, ra->kb);
	if (err == -EACCES || err == -EPERM || err == -EROFS)
		fb_dbg("readahead of %s left at the kernel's default: only root may widen it",
		       ra->mountpoint);
	else if (err)
		fb_warn("cannot set the readahead of %s to %u KiB: %s", ra->mountpoint, ra->kb,
		        strerror(-err));
	else
		fb_dbg("readahead of %s set to %u KiB", ra->mountpoint, ra->kb);
	return NULL;
}

void fb_readahead_start(struct fb_readahead *ra, const char *mountpoint, unsigned kb)
{
	int err;

	ra->mountpoint = mountpoint;
	ra->kb = kb;
	ra->started = 0;
	if (!kb)
		return;
	err = pthread_create(&ra->thread, NULL, readahead_thread, ra);
	if (err)
		fb_warn("cannot start a thread to set the readahead: %s", strerror(err));
	else
		ra->started = 1;
}

void fb_readahead_join(struct fb_readahead *ra)
{
	if (ra->started)
		pthread_join(ra->thread, NULL);
	ra->started = 0;
}
