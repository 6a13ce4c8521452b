/*
 * mount.h - `fsbridge mount`: connect, mount, serve until unmounted.
 */
#ifndef FB_MOUNT_H
#define FB_MOUNT_H

#include "options.h"

/* Runs the whole life of a mount. Returns the process exit status. */
int fb_mount_run(struct fb_mount_opts *o);

/* `fsbridge umount [-l] MOUNTPOINT`. Returns the exit status. */
int fb_umount_run(const char *mountpoint, int lazy);

#endif
