/*
 * config.h - /etc/fsbridge.conf, a small INI file in the manner of WSL's
 * wsl.conf, read by `fsbridge mount`, `automount` and `volume-plugin`
 * alike. Command-line options override it.
 *
 *   [server]
 *   address = vsock:2:5000        # where winside listens
 *   token_file = /etc/fsbridge/token
 *   [mount]
 *   cache = coherent              # coherent, strict, none
 *   events = replay               # replay, invalidate, off
 *   options = noatime             # -o options for every mount
 *   [automount]
 *   root = /mnt/fsb               # exports are mounted at ROOT/NAME
 *   [export NAME]                 # one export's own cache=, events=,
 *   options = ro                  # options= (after [mount]'s)
 *
 * $FSBRIDGE_CONFIG names another file. A missing file is no error.
 */
#ifndef FB_CONFIG_H
#define FB_CONFIG_H

#include <stddef.h>

struct fb_config_mount {
	char *cache;
	char *events;
	char *options;
};

struct fb_config_export {
	char *name;
	struct fb_config_mount m;
};

struct fb_config {
	char *path;                 /* the file read, or NULL */
	char *server;
	char *token_file;
	char *automount_root;
	struct fb_config_mount mount;
	struct fb_config_export *exports;
	size_t nexports;
};

#define FB_CONFIG_PATH "/etc/fsbridge.conf"

/* Read the configuration (FB_CONFIG_PATH or $FSBRIDGE_CONFIG). 0 (also
 * when there is no file), or -errno with "FILE:LINE: what" in err. */
int fb_config_load(struct fb_config *c, char *err, size_t errlen);
/* The same from one file; -ENOENT when it does not exist. */
int fb_config_load_file(struct fb_config *c, const char *path, char *err, size_t errlen);
void fb_config_release(struct fb_config *c);
/* The [export NAME] section, or NULL. */
const struct fb_config_export *fb_config_export(const struct fb_config *c, const char *name);

#endif
