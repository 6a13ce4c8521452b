/*
 * volume.c - see volume.h: Docker's calls, and serving them. A thread per
 * connection, one call at a time under the plugin's lock: Docker's calls
 * are short, except Mount, which waits for `fsbridge mount` to have the
 * mount up or to say why not, and Docker waits for that answer anyway.
 * At start, every volume that has users is checked against
 * /proc/self/mounts and mounted again if it is gone.
 *
 * Calls json.c, http.c and volume_store.c (volumes on disk, mounts).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "options.h"
#include "volume_int.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- the protocol ------------------------------------------------------------- */

struct reply {
	char buf[REPLY_MAX];
	size_t len;
};

static void put(struct reply *r, const char *s)
{
	size_t n = strlen(s);

	if (r->len + n < sizeof(r->buf)) {
		memcpy(r->buf + r->len, s, n + 1);
		r->len += n;
	}
}

static void put_str(struct reply *r, const char *s)
{
	if (fb_json_put_str(r->buf, sizeof(r->buf), &r->len, s))
		r->buf[r->len] = '\0';
}

/* {"Err": msg} (msg "" on success) plus `extra`, a ready member list. */
static void answer(struct reply *r, const char *err, const char *extra)
{
	put(r, "{");
	if (extra) {
		put(r, extra);
		put(r, ",");
	}
	put(r, "\"Err\":");
	put_str(r, err ? err : "");
	put(r, "}");
}

static void mountpoint_member(const struct plugin *pl, const struct vol *v, int mounted,
                              struct reply *r)
{
	char mp[PATH_MAX];

	fb__vol_mountpoint(pl, v, mp, sizeof(mp));
	put(r, "\"Mountpoint\":");
	put_str(r, mounted && fb__vol_is_mounted(mp) ? mp : "");
}

struct create_ctx {
	struct vol *v;
	char err[512];
};

static int create_opt(void *arg, const char *key, const char *value)
{
	struct create_ctx *c = arg;
	int rc = fb__vol_set_key(c->v, key, value);

	if (rc == -ENOENT)
		snprintf(c->err, sizeof(c->err), "unknown option '%s' (fsbridge volumes take export=, "
		         "server=, token_file=, cache=, events= and o=)", key);
	else if (rc)
		snprintf(c->err, sizeof(c->err), "option %s: value not allowed", key);
	return rc ? -1 : 0;
}

static void op_create(struct plugin *pl, const char *name, const struct fb_http_req *req,
                      struct reply *r)
{
	struct create_ctx c = { NULL, "" };
	enum fb_cache_mode cm;
	enum fb_events_mode em;
	int rc;

	if (fb__vol_find(pl, name)) {
		answer(r, NULL, NULL);  /* Docker creates again after a restart */
		return;
	}
	c.v = calloc(1, sizeof(*c.v));
	if (!c.v) {
		answer(r, "out of memory", NULL);
		return;
	}
	snprintf(c.v->name, sizeof(c.v->name), "%s", name);
	rc = fb_json_each_in(req->body, req->body_len, "Opts", create_opt, &c);
	if (rc && rc != -ENOENT && !c.err[0])
		snprintf(c.err, sizeof(c.err), "options: not an object of strings");
	if (!c.err[0] && !c.v->val[K_EXPORT])
		snprintf(c.err, sizeof(c.err), "the export is missing: docker volume create -d "
		         "fsbridge -o export='C:\\src' [-o server=vsock:2:5000] NAME");
	if (!c.err[0] && c.v->val[K_CACHE] && fb_cache_mode_parse(c.v->val[K_CACHE], &cm) < 0)
		snprintf(c.err, sizeof(c.err), "cache=%s: use coherent, strict or none",
		         c.v->val[K_CACHE]);
	if (!c.err[0] && c.v->val[K_EVENTS] && fb_events_mode_parse(c.v->val[K_EVENTS], &em) < 0)
		snprintf(c.err, sizeof(c.err), "events=%s: use replay, invalidate or off",
		         c.v->val[K_EVENTS]);
	if (!c.err[0] && !c.v->val[K_SERVER] && !pl->o->server)
		snprintf(c.err, sizeof(c.err), "the server is missing: give -o server=ADDR "
		         "(vsock:2:5000, tcp:HOST:PORT, unix:PATH) or start the plugin with --server");
	if (!c.err[0] && (rc = fb__vol_save(pl, c.v)))
		snprintf(c.err, sizeof(c.err), "cannot keep the volume in %s: %s", pl->o->state_dir,
		         strerror(-rc));
	if (c.err[0]) {
		fb_warn("volume %s not created: %s", name, c.err);
		fb__vol_free(c.v);
		answer(r, c.err, NULL);
		return;
	}
	c.v->next = pl->vols;
	pl->vols = c.v;
	fb_info("volume %s: created for %s", name, c.v->val[K_EXPORT]);
	answer(r, NULL, NULL);
}

static void op_remove(struct plugin *pl, struct vol *v, struct reply *r)
{
	char path[PATH_MAX], err[512];
	struct vol **pp;

	if (v->nids) {
		snprintf(err, sizeof(err), "volume %s is in use by %d mount%s", v->name, v->nids,
		         v->nids == 1 ? "" : "s");
		answer(r, err, NULL);
		return;
	}
	if (fb__vol_unmount(pl, v, err, sizeof(err))) {
		answer(r, err, NULL);
		return;
	}
	fb__vol_state_path(pl, v->name, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, sizeof(err), "%.400s: %s", path, strerror(errno));
		answer(r, err, NULL);
		return;
	}
	for (pp = &pl->vols; *pp != v; pp = &(*pp)->next)
		;
	*pp = v->next;
	fb_info("volume %s: removed", v->name);
	fb__vol_free(v);
	answer(r, NULL, NULL);
}

static void op_mount(struct plugin *pl, struct vol *v, const char *id, struct reply *r)
{
	char err[1024];
	int rc;

	if (fb__vol_mount(pl, v, err, sizeof(err))) {
		fb_warn("volume %s: %s", v->name, err);
		answer(r, err, NULL);
		return;
	}
	if ((rc = fb__vol_add_id(v, id)) || (rc = fb__vol_save(pl, v))) {
		snprintf(err, sizeof(err), "volume %s: cannot record mount %s: %s", v->name, id,
		         strerror(-rc));
		answer(r, err, NULL);
		return;
	}
	put(r, "{");
	mountpoint_member(pl, v, 1, r);
	put(r, ",\"Err\":\"\"}");
}

static void op_unmount(struct plugin *pl, struct vol *v, const char *id, struct reply *r)
{
	char err[1024];
	int rc;

	if (fb__vol_drop_id(v, id) == -ENOENT)
		fb_warn("volume %s: unmount of %s, which never mounted it", v->name, id);
	if ((rc = fb__vol_save(pl, v))) {
		snprintf(err, sizeof(err), "volume %s: %s", v->name, strerror(-rc));
		answer(r, err, NULL);
		return;
	}
	/* Shared: the export stays mounted while any container has it. */
	if (!v->nids && fb__vol_unmount(pl, v, err, sizeof(err))) {
		answer(r, err, NULL);
		return;
	}
	answer(r, NULL, NULL);
}

static void volume_member(const struct plugin *pl, const struct vol *v, struct reply *r)
{
	put(r, "{\"Name\":");
	put_str(r, v->name);
	put(r, ",");
	mountpoint_member(pl, v, v->nids > 0, r);
	put(r, ",\"Status\":{\"export\":");
	put_str(r, v->val[K_EXPORT] ? v->val[K_EXPORT] : "");
	put(r, "}}");
}

static void handle(struct plugin *pl, const struct fb_http_req *req, struct reply *r, int *status)
{
	const char *op = req->path;
	char name[NAME_MAX_LEN + 1], id[ID_MAX + 1], err[512];
	struct vol *v;
	int rc;

	*status = 200;
	r->len = 0;
	r->buf[0] = '\0';
	if (!strcmp(op, "/Plugin.Activate")) {
		put(r, "{\"Implements\":[\"VolumeDriver\"]}");
		return;
	}
	if (!strcmp(op, "/VolumeDriver.Capabilities")) {
		put(r, "{\"Capabilities\":{\"Scope\":\"local\"}}");
		return;
	}
	if (!strcmp(op, "/VolumeDriver.List")) {
		put(r, "{\"Volumes\":[");
		for (v = pl->vols; v; v = v->next) {
			volume_member(pl, v, r);
			if (v->next)
				put(r, ",");
		}
		put(r, "],\"Err\":\"\"}");
		return;
	}
	if (strncmp(op, "/VolumeDriver.", 14)) {
		*status = 404;
		answer(r, "no such call", NULL);
		return;
	}
	rc = fb_json_get(req->body, req->body_len, "Name", name, sizeof(name));
	if (rc || !fb__vol_name_ok(name)) {
		answer(r, rc == -EINVAL ? "the request is not valid JSON with a Name"
		                        : "a volume name is 1-255 letters, digits, _ . -", NULL);
		return;
	}
	op += 14;
	if (!strcmp(op, "Create")) {
		op_create(pl, name, req, r);
		return;
	}
	v = fb__vol_find(pl, name);
	if (!v) {
		snprintf(err, sizeof(err), "no fsbridge volume %s", name);
		answer(r, err, NULL);
		return;
	}
	if (!strcmp(op, "Remove")) {
		op_remove(pl, v, r);
	} else if (!strcmp(op, "Path")) {
		put(r, "{");
		mountpoint_member(pl, v, v->nids > 0, r);
		put(r, ",\"Err\":\"\"}");
	} else if (!strcmp(op, "Get")) {
		put(r, "{\"Volume\":");
		volume_member(pl, v, r);
		put(r, ",\"Err\":\"\"}");
	} else if (!strcmp(op, "Mount") || !strcmp(op, "Unmount")) {
		if (fb_json_get(req->body, req->body_len, "ID", id, sizeof(id))) {
			answer(r, "the request has no ID", NULL);
			return;
		}
		if (op[0] == 'M')
			op_mount(pl, v, id, r);
		else
			op_unmount(pl, v, id, r);
	} else {
		*status = 404;
		answer(r, "no such call", NULL);
	}
}

/* ---- start, serve, stop ---------------------------------------------------------- */

static int mkdirs(const char *path)
{
	char p[PATH_MAX];
	size_t i;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (i = 1; p[i]; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		p[i] = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* Every volume of the state dir; the mounts that should be up, up. */
static void adopt(struct plugin *pl)
{
	char path[PATH_MAX], err[1024];
	struct dirent *de;
	DIR *d = opendir(pl->o->state_dir);
	int n = 0, up = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[NAME_MAX_LEN + 1];
		struct vol *v;

		if (len < 5 || len - 4 > NAME_MAX_LEN || strcmp(de->d_name + len - 4, ".vol"))
			continue;
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		if (!fb__vol_name_ok(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pl->o->state_dir, de->d_name);
		v = fb__vol_load(path, name);
		if (!v || !v->val[K_EXPORT]) {
			fb_warn("ignoring %s: not a volume this plugin wrote", path);
			if (v)
				fb__vol_free(v);
			continue;
		}
		v->next = pl->vols;
		pl->vols = v;
		n++;
		if (!v->nids)
			continue;
		if (fb__vol_mount(pl, v, err, sizeof(err)))
			fb_warn("volume %s: in use by %d mount%s but cannot be mounted again: %s",
			        v->name, v->nids, v->nids == 1 ? "" : "s", err);
		else
			up++;
	}
	closedir(d);
	fb_info("%d volume%s in %s, %d in use and mounted", n, n == 1 ? "" : "s",
	        pl->o->state_dir, up);
}

/* systemd's socket activation (fsbridge-volume-plugin.socket): the
 * listening socket is descriptor 3, and Docker's first call is waiting. */
static int handed_over;

static int activated(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid() || strtol(fds, NULL, 10) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(3, F_SETFD, FD_CLOEXEC);
	handed_over = 1;
	return 3;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa;
	char dir[PATH_MAX], *slash;
	int fd = activated();

	if (fd >= 0) {
		fb_info("listening on the socket systemd handed over");
		return fd;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fb_err("socket path %s is too long", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdirs(dir) < 0) {
			fb_err("cannot make %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fb_err("socket: %s", strerror(errno));
		return -1;
	}
	/* A socket left by a plugin that died: nobody answers on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		fb_err("%s: another volume plugin is running there", path);
		close(fd);
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		fb_err("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(path, 0600);
	return fd;
}

/* One connection: Docker keeps them open and opens more for calls made
 * at the same time, so each has a thread; the calls themselves take turns
 * on the plugin's lock. */
struct conn_arg {
	struct plugin *pl;
	int fd;
};

static void *serve_conn(void *arg)
{
	struct conn_arg *ca = arg;
	struct plugin *pl = ca->pl;
	struct fb_http_conn c;
	struct fb_http_req req;
	struct reply *r = malloc(sizeof(*r));
	int rc, status;

	fb_http_conn_init(&c, ca->fd);
	free(ca);
	while (r && (rc = fb_http_read(&c, &req)) == 1) {
		pthread_mutex_lock(&pl->lock);
		handle(pl, &req, r, &status);
		pthread_mutex_unlock(&pl->lock);
		fb_dbg("%s %s -> %d %s", req.method, req.path, status, r->buf);
		if (fb_http_reply(&c, status, JSON_TYPE, r->buf, r->len) || req.close)
			break;
	}
	if (r && rc == -EPROTO) {
		static const char bad[] = "{\"Err\":\"bad request\"}";

		fb_http_reply(&c, 400, JSON_TYPE, bad, sizeof(bad) - 1);
	}
	fb_http_conn_release(&c);
	free(r);
	return NULL;
}

int fb_volume_run(const struct fb_volume_opts *o)
{
	struct sigaction sa;
	struct plugin pl;
	pthread_attr_t attr;
	ssize_t n;
	int lfd, rc;

	memset(&pl, 0, sizeof(pl));
	pl.o = o;
	pthread_mutex_init(&pl.lock, NULL);
	n = readlink("/proc/self/exe", pl.self, sizeof(pl.self) - 1);
	if (n <= 0) {
		fb_err("cannot find this program (/proc/self/exe): %s", strerror(errno));
		return 1;
	}
	pl.self[n] = '\0';
	if ((rc = mkdirs(o->state_dir)) || (rc = mkdirs(o->mount_root))) {
		fb_err("cannot make %s or %s: %s", o->state_dir, o->mount_root, strerror(-rc));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	adopt(&pl);
	lfd = listen_on(o->socket);
	if (lfd < 0)
		return 1;
	fb_info("volume plugin listening on %s (state %s, mounts under %s)", o->socket,
	        o->state_dir, o->mount_root);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stopping) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		struct conn_arg *ca;
		pthread_t t;

		if (cfd < 0) {
			if (errno != EINTR)
				fb_warn("accept: %s", strerror(errno));
			continue;
		}
		ca = malloc(sizeof(*ca));
		if (!ca) {
			close(cfd);
			continue;
		}
		ca->pl = &pl;
		ca->fd = cfd;
		if (pthread_create(&t, &attr, serve_conn, ca)) {
			fb_warn("no thread for a connection: %s", strerror(errno));
			close(cfd);
			free(ca);
		}
	}
	pthread_attr_destroy(&attr);
	close(lfd);
	/* systemd owns a socket it handed over, and keeps listening. */
	if (!handed_over)
		unlink(o->socket);
	/* Calls in progress finish under the lock; the state is on disk. */
	pthread_mutex_lock(&pl.lock);
	while (pl.vols) {
		struct vol *v = pl.vols;

		pl.vols = v->next;
		fb__vol_free(v);
	}
	fb_info("volume plugin stopped; its mounts stay up and are taken back at the next start");
	return 0;
}
