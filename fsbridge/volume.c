/*
 * volume.c - see volume.h. One thread: Docker's calls are short, except
 * Mount, which waits for `fsbridge mount` (this binary) to have the mount
 * up or to say why not; Docker waits for that answer anyway.
 *
 * State, one file per volume in the state dir, NAME.vol, replaced
 * atomically on every change: "key=value" lines for the options, one
 * "id=ID" line per mount Docker has asked for and not yet released. The
 * mount itself is the kernel's: at start every volume with ids is checked
 * against /proc/self/mounts and mounted again if it is gone.
 *
 * Calls json.c, http.c and, through exec, `fsbridge mount` / `umount`.
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

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- volumes -------------------------------------------------------------- */

static void vol_free(struct vol *v)
{
	int i;

	for (i = 0; i < K__COUNT; i++)
		free(v->val[i]);
	for (i = 0; i < v->nids; i++)
		free(v->ids[i]);
	free(v);
}

/* Docker's own rule for volume names, which also keeps them file names. */
static int name_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (len < 1 || len > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		char c = n[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

static struct vol *vol_find(struct plugin *pl, const char *name)
{
	struct vol *v;

	for (v = pl->vols; v; v = v->next)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

static void mountpoint_of(const struct plugin *pl, const struct vol *v, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", pl->o->mount_root, v->name);
}

static void state_path(const struct plugin *pl, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.vol", pl->o->state_dir, name);
}

static int vol_save(const struct plugin *pl, const struct vol *v)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int i, ok;

	state_path(pl, v->name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (i = 0; i < K__COUNT; i++)
		if (v->val[i])
			fprintf(f, "%s=%s\n", key_names[i], v->val[i]);
	for (i = 0; i < v->nids; i++)
		fprintf(f, "id=%s\n", v->ids[i]);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

static int set_key(struct vol *v, const char *key, const char *value)
{
	int i;

	if (strchr(value, '\n') || strlen(value) >= VAL_MAX)
		return -EINVAL;
	for (i = 0; i < K__COUNT; i++) {
		if (strcmp(key, key_names[i]))
			continue;
		free(v->val[i]);
		v->val[i] = strdup(value);
		return v->val[i] ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

static int add_id(struct vol *v, const char *id)
{
	int i;

	for (i = 0; i < v->nids; i++)
		if (!strcmp(v->ids[i], id))
			return 0;       /* Docker repeats itself after a restart */
	if (v->nids == MAX_IDS || strlen(id) >= ID_MAX || strchr(id, '\n'))
		return -EINVAL;
	v->ids[v->nids] = strdup(id);
	if (!v->ids[v->nids])
		return -ENOMEM;
	v->nids++;
	return 0;
}

static int drop_id(struct vol *v, const char *id)
{
	int i;

	for (i = 0; i < v->nids; i++) {
		if (strcmp(v->ids[i], id))
			continue;
		free(v->ids[i]);
		v->ids[i] = v->ids[--v->nids];
		return 0;
	}
	return -ENOENT;
}

static struct vol *vol_load(const char *path, const char *name)
{
	char line[VAL_MAX + 64];
	struct vol *v;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v) {
		fclose(f);
		return NULL;
	}
	snprintf(v->name, sizeof(v->name), "%s", name);
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		size_t n = strlen(line);

		if (n && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(line, "id"))
			add_id(v, eq + 1);
		else if (set_key(v, line, eq + 1))
			fb_warn("volume %s: ignoring '%s' in %s", name, line, path);
	}
	fclose(f);
	return v;
}

/* ---- mounts ------------------------------------------------------------------ */

static int is_mounted(const char *mp)
{
	char line[8192], dev[4096], dir[4096];
	FILE *f = fopen("/proc/self/mounts", "r");
	int yes = 0;

	if (!f)
		return 0;
	while (!yes && fgets(line, sizeof(line), f))
		yes = sscanf(line, "%4095s %4095s", dev, dir) == 2 && !strcmp(dir, mp);
	fclose(f);
	return yes;
}

/*
 * Run this binary with argv, its stderr collected into err (the last line
 * that says something, for Docker's error message). 0 when it exits 0.
 */
static int run_self(const struct plugin *pl, char *const argv[], char *err, size_t errlen)
{
	char buf[8192];
	size_t got = 0;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	err[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		execv(pl->self, argv);
		fprintf(stderr, "fsbridge: cannot run %s: %s\n", pl->self, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n > 0)
			got += (size_t)n;
		if (got == sizeof(buf) - 1)
			got = 0;        /* keep the end, which says why */
	}
	close(pfd[0]);
	buf[got] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		/* The last line that is the command's own: "fsbridge: ..." */
		char *line, *save = NULL, *last = NULL;

		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (!strncmp(line, "fsbridge: ", 10) && !strstr(line, "winside: "))
				last = line + 10;
		snprintf(err, errlen, "%s", last ? last : "fsbridge mount failed");
	}
	return -1;
}

static int vol_mount(struct plugin *pl, struct vol *v, char *err, size_t errlen)
{
	char mp[PATH_MAX], cache[32], events[32];
	const char *server = v->val[K_SERVER] ? v->val[K_SERVER] : pl->o->server;
	const char *token = v->val[K_TOKEN] ? v->val[K_TOKEN] : pl->o->token_file;
	char *argv[16];
	int n = 0;

	mountpoint_of(pl, v, mp, sizeof(mp));
	if (is_mounted(mp))
		return 0;
	if (!server) {
		snprintf(err, errlen, "volume %s: no server: give -o server=ADDR when creating it, "
		         "or start the plugin with --server", v->name);
		return -1;
	}
	if (mkdir(mp, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mount point %.400s: %s", mp, strerror(errno));
		return -1;
	}
	argv[n++] = (char *)"fsbridge";
	argv[n++] = (char *)"mount";
	argv[n++] = (char *)"--server";
	argv[n++] = (char *)server;
	if (token) {
		argv[n++] = (char *)"--token-file";
		argv[n++] = (char *)token;
	}
	if (v->val[K_CACHE]) {
		snprintf(cache, sizeof(cache), "--cache=%s", v->val[K_CACHE]);
		argv[n++] = cache;
	}
	if (v->val[K_EVENTS]) {
		snprintf(events, sizeof(events), "--events=%s", v->val[K_EVENTS]);
		argv[n++] = events;
	}
	if (v->val[K_OPTS]) {
		argv[n++] = (char *)"-o";
		argv[n++] = v->val[K_OPTS];
	}
	argv[n++] = v->val[K_EXPORT];
	argv[n++] = mp;
	argv[n] = NULL;
	if (run_self(pl, argv, err, errlen))
		return -1;
	fb_info("volume %s: mounted %s on %s", v->name, v->val[K_EXPORT], mp);
	return 0;
}

static int vol_unmount(struct plugin *pl, struct vol *v, char *err, size_t errlen)
{
	char mp[PATH_MAX];
	char *argv[] = { (char *)"fsbridge", (char *)"umount", mp, NULL };

	mountpoint_of(pl, v, mp, sizeof(mp));
	if (!is_mounted(mp))
		return 0;
	if (run_self(pl, argv, err, errlen))
		return -1;
	rmdir(mp);
	fb_info("volume %s: unmounted %s", v->name, mp);
	return 0;
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

	mountpoint_of(pl, v, mp, sizeof(mp));
	put(r, "\"Mountpoint\":");
	put_str(r, mounted && is_mounted(mp) ? mp : "");
}

struct create_ctx {
	struct vol *v;
	char err[512];
};

static int create_opt(void *arg, const char *key, const char *value)
{
	struct create_ctx *c = arg;
	int rc = set_key(c->v, key, value);

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

	if (vol_find(pl, name)) {
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
	if (!c.err[0] && (rc = vol_save(pl, c.v)))
		snprintf(c.err, sizeof(c.err), "cannot keep the volume in %s: %s", pl->o->state_dir,
		         strerror(-rc));
	if (c.err[0]) {
		fb_warn("volume %s not created: %s", name, c.err);
		vol_free(c.v);
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
	if (vol_unmount(pl, v, err, sizeof(err))) {
		answer(r, err, NULL);
		return;
	}
	state_path(pl, v->name, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, sizeof(err), "%.400s: %s", path, strerror(errno));
		answer(r, err, NULL);
		return;
	}
	for (pp = &pl->vols; *pp != v; pp = &(*pp)->next)
		;
	*pp = v->next;
	fb_info("volume %s: removed", v->name);
	vol_free(v);
	answer(r, NULL, NULL);
}

static void op_mount(struct plugin *pl, struct vol *v, const char *id, struct reply *r)
{
	char err[1024];
	int rc;

	if (vol_mount(pl, v, err, sizeof(err))) {
		fb_warn("volume %s: %s", v->name, err);
		answer(r, err, NULL);
		return;
	}
	if ((rc = add_id(v, id)) || (rc = vol_save(pl, v))) {
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

	if (drop_id(v, id) == -ENOENT)
		fb_warn("volume %s: unmount of %s, which never mounted it", v->name, id);
	if ((rc = vol_save(pl, v))) {
		snprintf(err, sizeof(err), "volume %s: %s", v->name, strerror(-rc));
		answer(r, err, NULL);
		return;
	}
	/* Shared: the export stays mounted while any container has it. */
	if (!v->nids && vol_unmount(pl, v, err, sizeof(err))) {
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
	if (rc || !name_ok(name)) {
		answer(r, rc == -EINVAL ? "the request is not valid JSON with a Name"
		                        : "a volume name is 1-255 letters, digits, _ . -", NULL);
		return;
	}
	op += 14;
	if (!strcmp(op, "Create")) {
		op_create(pl, name, req, r);
		return;
	}
	v = vol_find(pl, name);
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
		if (!name_ok(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pl->o->state_dir, de->d_name);
		v = vol_load(path, name);
		if (!v || !v->val[K_EXPORT]) {
			fb_warn("ignoring %s: not a volume this plugin wrote", path);
			if (v)
				vol_free(v);
			continue;
		}
		v->next = pl->vols;
		pl->vols = v;
		n++;
		if (!v->nids)
			continue;
		if (vol_mount(pl, v, err, sizeof(err)))
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
		vol_free(v);
	}
	fb_info("volume plugin stopped; its mounts stay up and are taken back at the next start");
	return 0;
}
