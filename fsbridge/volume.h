/*
 * volume.h - `fsbridge volume-plugin`: a Docker volume driver.
 *
 * Docker talks to it over HTTP on a Unix socket in its plugin directory
 * (/run/docker/plugins/NAME.sock) with the VolumeDriver protocol. A volume
 * names an export and how to reach it (`docker volume create -d fsbridge
 * -o export='C:\src' -o server=vsock:2:5000 src`); the first container
 * that mounts it mounts the export with `fsbridge mount` under the plugin's
 * mount root, the last one to unmount it unmounts it. Volumes and who has
 * them mounted are kept on disk, so a restarted plugin takes its mounts
 * back instead of losing track of them.
 */
#ifndef FB_VOLUME_H
#define FB_VOLUME_H

struct fb_volume_opts {
	const char *socket;         /* where Docker finds the plugin */
	const char *state_dir;      /* one file per volume */
	const char *mount_root;     /* mounts go to MOUNT_ROOT/NAME */
	const char *server;         /* default server=, or NULL */
	const char *token_file;     /* default token_file=, or NULL */
	int foreground;             /* unused: the plugin never detaches */
};

/* Serve until SIGINT or SIGTERM. Returns the exit status. */
int fb_volume_run(const struct fb_volume_opts *o);

#endif
