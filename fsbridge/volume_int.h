/*
 * volume_int.h - what the volume plugin's two files share: volume.c (the
 * Docker protocol, serving) and volume_store.c (volumes kept on disk, and
 * their mounts).
 */
#ifndef FB_VOLUME_INT_H
#define FB_VOLUME_INT_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "volume.h"

#define NAME_MAX_LEN 255
#define VAL_MAX 4096
#define MAX_IDS 256
#define ID_MAX 128
#define REPLY_MAX 65536
#define JSON_TYPE "application/vnd.docker.plugins.v1+json"

enum vol_key { K_EXPORT, K_SERVER, K_TOKEN, K_CACHE, K_EVENTS, K_OPTS, K__COUNT };

/* The -o options of `docker volume create`, as `fsbridge mount` spells
 * them; their values never hold a newline (the state file's separator). */
static const char *const key_names[K__COUNT] = {
	[K_EXPORT] = "export",
	[K_SERVER] = "server",
	[K_TOKEN] = "token_file",
	[K_CACHE] = "cache",
	[K_EVENTS] = "events",
	[K_OPTS] = "o",
};

struct vol {
	struct vol *next;
	char name[NAME_MAX_LEN + 1];
	char *val[K__COUNT];        /* NULL: not given */
	char *ids[MAX_IDS];
	int nids;
};

struct plugin {
	pthread_mutex_t lock;           /* one call at a time */
	const struct fb_volume_opts *o;
	char self[PATH_MAX];
	struct vol *vols;
};

/* ---- volume_store.c ---- */

void fb__vol_free(struct vol *v);
/* Docker's own rule for volume names, which also keeps them file names. */
int fb__vol_name_ok(const char *n);
struct vol *fb__vol_find(struct plugin *pl, const char *name);
void fb__vol_mountpoint(const struct plugin *pl, const struct vol *v, char *out, size_t n);
void fb__vol_state_path(const struct plugin *pl, const char *name, char *out, size_t n);
/* The volume's state file, replaced atomically. 0 or -errno. */
int fb__vol_save(const struct plugin *pl, const struct vol *v);
/* One option; -ENOENT for a key volumes do not take, -EINVAL for a value
 * the state file cannot hold. */
int fb__vol_set_key(struct vol *v, const char *key, const char *value);
int fb__vol_add_id(struct vol *v, const char *id);
int fb__vol_drop_id(struct vol *v, const char *id);
struct vol *fb__vol_load(const char *path, const char *name);
int fb__vol_is_mounted(const char *mp);
/* Mount or unmount the volume's export with this binary; 0, or -1 with
 * the reason in err. */
int fb__vol_mount(struct plugin *pl, struct vol *v, char *err, size_t errlen);
int fb__vol_unmount(struct plugin *pl, struct vol *v, char *err, size_t errlen);

#endif
