/*
 * volume_store.c - the volume plugin's volumes: one state file each in the
 * state dir (NAME.vol: "key=value" option lines and one "id=ID" line per
 * mount Docker has asked for), and their mounts, made and undone by
 * running this binary's `mount` and `umount`. Calls log.c only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "volume_int.h"

/* ---- volumes -------------------------------------------------------------- */

void fb__vol_free(struct vol *v)
{
	int i;

	for (i = 0; i < K__COUNT; i++)
		free(v->val[i]);
	for (i = 0; i < v->nids; i++)
		free(v->ids[i]);
	free(v);
}

/* Docker's own rule for volume names, which also keeps them file names. */
int fb__vol_name_ok(const char *n)
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

struct vol *fb__vol_find(struct plugin *pl, const char *name)
{
	struct vol *v;

	for (v = pl->vols; v; v = v->next)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

void fb__vol_mountpoint(const struct plugin *pl, const struct vol *v, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", pl->o->mount_root, v->name);
}

void fb__vol_state_path(const struct plugin *pl, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.vol", pl->o->state_dir, name);
}

int fb__vol_save(const struct plugin *pl, const struct vol *v)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int i, ok;

	fb__vol_state_path(pl, v->name, path, sizeof(path));
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

int fb__vol_set_key(struct vol *v, const char *key, const char *value)
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

int fb__vol_add_id(struct vol *v, const char *id)
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

int fb__vol_drop_id(struct vol *v, const char *id)
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

struct vol *fb__vol_load(const char *path, const char *name)
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
			fb__vol_add_id(v, eq + 1);
		else if (fb__vol_set_key(v, line, eq + 1))
			fb_warn("volume %s: ignoring '%s' in %s", name, line, path);
	}
	fclose(f);
	return v;
}

/* ---- mounts ------------------------------------------------------------------ */

int fb__vol_is_mounted(const char *mp)
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

int fb__vol_mount(struct plugin *pl, struct vol *v, char *err, size_t errlen)
{
	char mp[PATH_MAX], cache[32], events[32];
	const char *server = v->val[K_SERVER] ? v->val[K_SERVER] : pl->o->server;
	const char *token = v->val[K_TOKEN] ? v->val[K_TOKEN] : pl->o->token_file;
	char *argv[16];
	int n = 0;

	fb__vol_mountpoint(pl, v, mp, sizeof(mp));
	if (fb__vol_is_mounted(mp))
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

int fb__vol_unmount(struct plugin *pl, struct vol *v, char *err, size_t errlen)
{
	char mp[PATH_MAX];
	char *argv[] = { (char *)"fsbridge", (char *)"umount", mp, NULL };

	fb__vol_mountpoint(pl, v, mp, sizeof(mp));
	if (!fb__vol_is_mounted(mp))
		return 0;
	if (run_self(pl, argv, err, errlen))
		return -1;
	rmdir(mp);
	fb_info("volume %s: unmounted %s", v->name, mp);
	return 0;
}

