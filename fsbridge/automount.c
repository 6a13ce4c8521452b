/*
 * automount.c - see automount.h.
 *
 * One connection asks the server for its exports (EXPORTS) every
 * interval; each export is mounted by a child `fsbridge mount -f` (this
 * binary), which the automounter owns: an export that goes away has its
 * child stopped, which unmounts it; a child that ends is started again
 * after a pause; when the server comes back after a break, every child is
 * restarted, since their connections went with the server. SIGINT and
 * SIGTERM stop the children and wait for their unmounts.
 *
 * Calls the blocking protocol client and, through exec, `fsbridge mount`.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "automount.h"
#include "clock.h"
#include "config.h"
#include "fsb_client.h"
#include "fsb_net.h"
#include "log.h"

#define MAX_EXPORTS 256
#define RETRY_MS 2000u
#define STOP_WAIT_MS 15000u

struct am_export {
	char name[FSB_NAME_MAX + 1];
	char mp[PATH_MAX];
	pid_t pid;                  /* its mount, 0 when none runs */
	int stopping;               /* that mount was told to end */
	int listed;                 /* in the server's last answer */
	uint64_t next_try_ms;
};

struct am {
	const struct fb_automount_opts *o;
	char self[PATH_MAX];
	char token[FSB_TOKEN_MAX + 1];
	char token_path[PATH_MAX];
	struct fsb_client *c;
	int was_up;                 /* the server answered before */
	int said_down;              /* its absence has been logged */
	struct am_export ex[MAX_EXPORTS];
	size_t n;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void nap(unsigned ms)
{
	struct timespec t = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };

	/* A signal ends it early, which is what stopping wants. */
	nanosleep(&t, NULL);
}

/* ---- the mounts ------------------------------------------------------------ */

static void start_mount(struct am *a, struct am_export *e)
{
	const struct fb_config_export *ce = a->o->config ? fb_config_export(a->o->config, e->name) : NULL;
	char cache[32], events[32];
	char *argv[16];
	pid_t pid;
	int n = 0;

	if (mkdir(e->mp, 0755) < 0 && errno != EEXIST) {
		fb_warn("%s: %s; not mounting %s", e->mp, strerror(errno), e->name);
		e->next_try_ms = fb_mono_ms() + RETRY_MS;
		return;
	}
	argv[n++] = (char *)"fsbridge";
	argv[n++] = (char *)"mount";
	argv[n++] = (char *)"-f";
	argv[n++] = (char *)"--server";
	argv[n++] = (char *)a->o->server;
	argv[n++] = (char *)"--token-file";
	argv[n++] = a->token_path;
	if (ce && ce->m.cache) {
		snprintf(cache, sizeof(cache), "--cache=%s", ce->m.cache);
		argv[n++] = cache;
	}
	if (ce && ce->m.events) {
		snprintf(events, sizeof(events), "--events=%s", ce->m.events);
		argv[n++] = events;
	}
	if (ce && ce->m.options) {
		argv[n++] = (char *)"-o";
		argv[n++] = ce->m.options;
	}
	argv[n++] = e->name;        /* the server knows its exports by name */
	argv[n++] = e->mp;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0) {
		fb_warn("cannot start the mount of %s: %s", e->name, strerror(errno));
		e->next_try_ms = fb_mono_ms() + RETRY_MS;
		return;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv(a->self, argv);
		fprintf(stderr, "fsbridge: cannot run %s: %s\n", a->self, strerror(errno));
		_exit(127);
	}
	e->pid = pid;
	fb_info("mounting export %s on %s", e->name, e->mp);
}

static void stop_mount(struct am_export *e)
{
	if (e->pid > 0 && !e->stopping && kill(e->pid, SIGTERM) == 0)
		e->stopping = 1;
}

/* Children that ended: their exports are mounted again after a pause. */
static void reap(struct am *a)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < a->n; i++) {
			struct am_export *e = &a->ex[i];

			if (e->pid != pid)
				continue;
			e->pid = 0;
			e->next_try_ms = fb_mono_ms() + (e->stopping ? 0 : RETRY_MS);
			e->stopping = 0;
			if (!stopping && e->listed)
				fb_warn("the mount of %s ended (%s %d); trying again", e->name,
				        WIFEXITED(status) ? "status" : "signal",
				        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
}

/* Forget exports that are gone and whose mount has ended. */
static void compact(struct am *a)
{
	size_t i, k = 0;

	for (i = 0; i < a->n; i++) {
		if (!a->ex[i].listed && a->ex[i].pid == 0) {
			rmdir(a->ex[i].mp);
			continue;
		}
		a->ex[k++] = a->ex[i];
	}
	a->n = k;
}

/* ---- the server's list ----------------------------------------------------- */

static void disconnect(struct am *a, const char *why)
{
	if (a->c) {
		fb_warn("lost %s (%s)", a->o->server, why);
		fsb_client_close(a->c);
		a->c = NULL;
	}
}

static int connect_server(struct am *a)
{
	struct fsb_client_opts co = { .token = a->token, .export_path = "",
	                              .caps = FSB_CAP_EXPORTS, .timeout_ms = 10000 };
	char err[512];
	size_t i;
	int rc;

	rc = fsb_client_connect(a->o->server, &co, &a->c, err, sizeof(err));
	if (!rc && !(fsb_client_info(a->c)->caps & FSB_CAP_EXPORTS)) {
		snprintf(err, sizeof(err), "the server does not list its exports (an older winside)");
		fsb_client_close(a->c);
		a->c = NULL;
		rc = -FSB_ENOSYS;
	}
	if (rc) {
		if (!a->said_down)
			fb_warn("cannot reach %s: %s; trying again every %u s", a->o->server, err,
			        RETRY_MS / 1000u);
		a->said_down = 1;
		return rc;
	}
	fb_info("%s: %s", a->was_up ? "back" : "connected", a->o->server);
	/* A server that went away took every mount's connection with it. */
	if (a->was_up)
		for (i = 0; i < a->n; i++)
			stop_mount(&a->ex[i]);
	a->was_up = 1;
	a->said_down = 0;
	return 0;
}

static int valid_name(struct fsb_str n)
{
	uint32_t i;

	if (n.len == 0 || n.len > FSB_NAME_MAX || n.ptr[0] == '.')
		return 0;
	for (i = 0; i < n.len; i++) {
		char ch = n.ptr[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static void reconcile(struct am *a, const struct fsb_exports_rep *r)
{
	char mp[sizeof(a->ex[0].mp)];
	uint64_t now = fb_mono_ms();
	uint32_t k;
	size_t i;

	for (i = 0; i < a->n; i++)
		a->ex[i].listed = 0;
	for (k = 0; k < r->count; k++) {
		const struct fsb_export_item *it = &r->items[k];
		struct am_export *e = NULL;

		if (!valid_name(it->name)) {
			fb_warn("the server names an export '%.*s', which is no folder name: skipped",
			        (int)(it->name.len > 64 ? 64 : it->name.len), it->name.ptr);
			continue;
		}
		for (i = 0; i < a->n && !e; i++)
			if (strlen(a->ex[i].name) == it->name.len &&
			    !memcmp(a->ex[i].name, it->name.ptr, it->name.len))
				e = &a->ex[i];
		if (!e) {
			if (a->n == MAX_EXPORTS)
				continue;
			e = &a->ex[a->n++];
			memset(e, 0, sizeof(*e));
			memcpy(e->name, it->name.ptr, it->name.len);
			/* Through a buffer of its own: gcc cannot tell that the
			 * root given in the options lies outside *a. */
			snprintf(mp, sizeof(mp), "%s/%s", a->o->root, e->name);
			memcpy(e->mp, mp, sizeof(mp));
			fb_info("export %s (%.*s) is served", e->name, (int)it->path.len, it->path.ptr);
		}
		e->listed = 1;
	}
	for (i = 0; i < a->n; i++) {
		struct am_export *e = &a->ex[i];

		if (e->listed && e->pid == 0 && now >= e->next_try_ms)
			start_mount(a, e);
		else if (!e->listed && e->pid > 0 && !e->stopping) {
			fb_info("export %s is no longer served: unmounting %s", e->name, e->mp);
			stop_mount(e);
		}
	}
}

static void poll_server(struct am *a)
{
	struct fsb_msg m = { .op = FSB_OP_EXPORTS };
	struct fsb_reply *rep = NULL;
	int rc;

	if (!a->c && connect_server(a))
		return;
	rc = fsb_client_call(a->c, &m, &rep);
	if (rc == 0)
		reconcile(a, &fsb_reply_msg(rep)->u.exports_rep);
	else if (rc == -FSB_ECONNRESET || rc == -FSB_ETIMEDOUT)
		disconnect(a, rc == -FSB_ECONNRESET ? fsb_client_error(a->c) : "no answer");
	else
		fb_warn("EXPORTS: %s", fsb_strerror(rc));
	fsb_reply_free(rep);
}

/* ---- start and stop ----------------------------------------------------------- */

static void stop_all(struct am *a)
{
	uint64_t deadline = fb_mono_ms() + STOP_WAIT_MS;
	size_t i, left;

	for (i = 0; i < a->n; i++)
		stop_mount(&a->ex[i]);
	for (;;) {
		reap(a);
		for (i = 0, left = 0; i < a->n; i++)
			left += a->ex[i].pid != 0;
		if (!left)
			break;
		if (fb_mono_ms() > deadline) {
			for (i = 0; i < a->n; i++)
				if (a->ex[i].pid > 0)
					kill(a->ex[i].pid, SIGKILL);
			deadline = UINT64_MAX;
		}
		nap(50);
	}
	for (i = 0; i < a->n; i++)
		rmdir(a->ex[i].mp);
}

int fb_automount_run(const struct fb_automount_opts *o)
{
	struct sigaction sa;
	struct am *a = calloc(1, sizeof(*a));
	char err[512];
	ssize_t n;
	int rc;

	if (!a) {
		fb_err("out of memory");
		return 1;
	}
	a->o = o;
	n = readlink("/proc/self/exe", a->self, sizeof(a->self) - 1);
	if (n <= 0) {
		fb_err("cannot find this program (/proc/self/exe): %s", strerror(errno));
		free(a);
		return 1;
	}
	a->self[n] = '\0';
	if (o->token_file)
		snprintf(a->token_path, sizeof(a->token_path), "%s", o->token_file);
	else if (fsb_token_default_path(a->token_path, sizeof(a->token_path))) {
		fb_err("no token file: give --token-file, or set $HOME");
		free(a);
		return 1;
	}
	rc = fsb_token_load(a->token_path, 0, a->token, sizeof(a->token), err, sizeof(err));
	if (rc) {
		fb_err("%s", err);
		free(a);
		return 1;
	}
	if (mkdir(o->root, 0755) < 0 && errno != EEXIST) {
		fb_err("%s: %s", o->root, strerror(errno));
		free(a);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fb_info("automounting the exports of %s under %s", o->server, o->root);
	while (!stopping) {
		reap(a);
		compact(a);
		poll_server(a);
		nap(a->c ? o->interval_ms : RETRY_MS);
	}
	fb_info("stopping: unmounting %zu export%s", a->n, a->n == 1 ? "" : "s");
	stop_all(a);
	if (a->c)
		fsb_client_close(a->c);
	free(a);
	return 0;
}
