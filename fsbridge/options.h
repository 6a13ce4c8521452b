/*
 * options.h - cache modes and mount options.
 */
#ifndef FB_OPTIONS_H
#define FB_OPTIONS_H

#include <stddef.h>

#include "events.h"

enum fb_cache_mode {
	FB_CACHE_COHERENT,      /* cache long, rely on change events */
	FB_CACHE_STRICT,        /* short timeouts, no cache kept across opens */
	FB_CACHE_NONE,          /* direct I/O, nothing cached: for debugging */
};

/* What the kernel is told to cache, derived from the mode alone. */
struct fb_cache_policy {
	enum fb_cache_mode mode;
	double entry_timeout;
	double attr_timeout;
	double negative_timeout;        /* 0: ENOENT is not cached */
	unsigned keep_cache : 1;        /* FOPEN_KEEP_CACHE on open */
	unsigned cache_dir : 1;         /* FOPEN_CACHE_DIR on opendir */
	unsigned direct_io : 1;         /* FOPEN_DIRECT_IO on open */
	unsigned writeback : 1;         /* FUSE_CAP_WRITEBACK_CACHE */
	unsigned cache_symlinks : 1;    /* FUSE_CAP_CACHE_SYMLINKS */
	/* Directories are never opened (FUSE_CAP_NO_OPENDIR_SUPPORT): set
	 * at init when the kernel, the server and the cache mode allow it
	 * (lazy.c, fb__no_opendir). */
	unsigned no_opendir : 1;
};

int fb_cache_mode_parse(const char *s, enum fb_cache_mode *out);
const char *fb_cache_mode_name(enum fb_cache_mode mode);
void fb_cache_policy_init(struct fb_cache_policy *p, enum fb_cache_mode mode);

/* Everything `fsbridge mount` and the mount helper accept. */
struct fb_mount_opts {
	char *export_path;          /* as typed; with local, the directory */
	char *mountpoint;
	char *server;               /* NULL: $FSBRIDGE_SERVER */
	char *token_file;           /* NULL: the default token path */
	enum fb_cache_mode cache;
	enum fb_events_mode events;
	int local;                  /* serve export_path with a private winside */
	int foreground;
	int debug;
	/* Other users (containers, services) may use the mount: 1 asked for
	 * (allow_other), -1 refused (noallow_other), 0 the default: yes when
	 * root mounts, no otherwise (fb_mount_allow_other). */
	int allow_other;
	/* When the server goes away: wait for it (hard), wait at most
	 * timeo seconds and then fail with EIO while reconnecting (soft), or
	 * fail everything with EIO for good (off). */
	enum fb_reconnect { FB_RECONNECT_HARD, FB_RECONNECT_SOFT, FB_RECONNECT_OFF } reconnect;
	unsigned timeo;             /* seconds, soft only */
	int cache_set;              /* cache / events given, not defaults */
	int events_set;
	char *fuse_opts;            /* comma list handed to libfuse, or NULL */
};

void fb_mount_opts_init(struct fb_mount_opts *o);
void fb_mount_opts_release(struct fb_mount_opts *o);

/* Apply one -o list ("server=unix:/s,cache=strict,allow_other"). Our own
 * keys are consumed, options only meaningful to mount(8) or fstab are
 * dropped, the rest is kept for libfuse. Returns 0 or -EINVAL/-ENOMEM with
 * a sentence in err. */
int fb_mount_opts_parse_o(struct fb_mount_opts *o, const char *list, char *err,
                          size_t errlen);

/* Parse an events mode; -EINVAL with a sentence in err. */
int fb_events_mode_check(const char *s, enum fb_events_mode *out, char *err, size_t errlen);

/* Replace *slot with a copy of s. Returns 0 or -ENOMEM. */
int fb_strset(char **slot, const char *s);

struct fb_config;
struct fb_config_mount;
/* Fill what the command line left unset from the configuration file:
 * server and token from [server], and cache, events and options from `m`
 * ([mount], or an export's section; NULL: none). 0 or -errno with err. */
int fb_mount_opts_apply_config(struct fb_mount_opts *o, const struct fb_config *c,
                               const struct fb_config_mount *m, char *err, size_t errlen);

#endif
