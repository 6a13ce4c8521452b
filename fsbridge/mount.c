/*
 * mount.c - see mount.h.
 *
 * Order of a mount, chosen so that every error reaches the terminal and
 * nothing is left behind: check the mount point; fork (background mode);
 * start the private winside (--local); connect and HELLO; create the FUSE
 * session and mount; detach; start the connection thread; serve. Teardown
 * runs in reverse: the connection thread is stopped first, so every
 * request still in flight is answered (EIO) while the session and its
 * /dev/fuse descriptor still exist, then the mount is released, then the
 * private winside is reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "conn.h"
#include "daemon.h"
#include "fsb_net.h"
#include "fuse_ops.h"
#include "localserver.h"
#include "log.h"
#include "mount.h"
#include "readahead.h"
#include "session.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#define FUSE_CONF "/etc/fuse.conf"
#define HEARTBEAT_MS 5000u
#define DEAD_MS 15000u

/* Resolve and check the mount point. Returns 0 with the absolute path in
 * out, or 1 after printing why it cannot be used. */
static int check_mountpoint(const char *mp, char *out)
{
	struct statx stx;

	if (statx(AT_FDCWD, mp, AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0) {
		if (errno == ENOENT)
			fb_err("mountpoint %s does not exist", mp);
		else if (errno == ENOTCONN)
			fb_err("mountpoint %s is a dead FUSE mount (%s); run 'fsbridge umount %s'",
			       mp, strerror(errno), mp);
		else
			fb_err("mountpoint %s: %s", mp, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		fb_err("mountpoint %s is not a directory", mp);
		return 1;
	}
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		fb_err("mountpoint %s is busy: something is already mounted there", mp);
		return 1;
	}
	if (!realpath(mp, out)) {
		fb_err("mountpoint %s: %s", mp, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * Whether other users may use the mount: as asked, else when root mounts,
 * as bindfs does. A mount made by root is nearly always made for others:
 * a service, or containers, whose users (node is uid 1000) otherwise get
 * EACCES on everything. It opens nothing a local disk would not, because
 * default_permissions has the kernel check every access against the modes
 * and owners, which the server keeps as Linux would.
 */
static int want_allow_other(const struct fb_mount_opts *o)
{
	if (o->allow_other)
		return o->allow_other > 0;
	return geteuid() == 0;
}

/* fusermount3 grants allow_other to users other than root only when
 * /etc/fuse.conf has a line "user_allow_other". */
static int fuse_conf_allows_other(void)
{
	char line[256];
	FILE *f = fopen(FUSE_CONF, "r");
	int yes = 0;

	if (!f)
		return 0;
	while (!yes && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		size_t n = strcspn(p, " \t\r\n#");

		yes = n == 16 && !memcmp(p, "user_allow_other", 16);
	}
	fclose(f);
	return yes;
}

static int build_fuse_args(struct fuse_args *args, const struct fb_mount_opts *o,
                           int read_only)
{
	char *opts = NULL, *fsname = NULL;
	int rc = -1;

	if (fuse_opt_add_arg(args, "fsbridge") < 0)
		goto out;
	if (o->debug && fuse_opt_add_arg(args, "-d") < 0)
		goto out;
	/* The kernel checks the synthesised modes, as on a local disk. */
	if (fuse_opt_add_opt(&opts, "default_permissions") < 0 ||
	    fuse_opt_add_opt(&opts, "subtype=fsbridge") < 0)
		goto out;
	if (asprintf(&fsname, "fsname=%s", o->export_path) < 0) {
		fsname = NULL;
		goto out;
	}
	/* Escaped: a Windows path has backslashes, a name may have commas. */
	if (fuse_opt_add_opt_escaped(&opts, fsname) < 0)
		goto out;
	if (read_only && fuse_opt_add_opt(&opts, "ro") < 0)
		goto out;
	if (want_allow_other(o) && fuse_opt_add_opt(&opts, "allow_other") < 0)
		goto out;
	if (o->fuse_opts && fuse_opt_add_opt(&opts, o->fuse_opts) < 0)
		goto out;
	if (fuse_opt_add_arg(args, "-o") < 0 || fuse_opt_add_arg(args, opts) < 0)
		goto out;
	rc = 0;
out:
	free(fsname);
	free(opts);
	return rc;
}

static void on_push(void *arg, const struct fsb_event_push *push)
{
	struct fb_fs *fs = arg;

	fb_dirahead_changed(&fs->dirahead);
	fb_events_on_push(&fs->events, push);
}

int fb_mount_run(struct fb_mount_opts *o)
{
	char mp[PATH_MAX], export_buf[PATH_MAX], err[1024];
	char token_buf[FSB_TOKEN_MAX + 1], token_path[PATH_MAX];
	const char *server, *token, *export_path = o->export_path;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config loop_cfg = { .clone_fd = 0, .max_idle_threads = 16 };
	struct fb_conn_config ccfg;
	struct fb_readahead ra = { .started = 0 };
	struct fb_local local;
	struct fuse_session *se = NULL;
	struct fb_fs fs;
	int fd, is_tcp = 0, rc, status = 1, have_local = 0;
	uint64_t caps;

	/* A server that vanished must be a write error, not a dead daemon;
	 * libuv does not use MSG_NOSIGNAL for stream sockets. */
	signal(SIGPIPE, SIG_IGN);
	memset(&fs, 0, sizeof(fs));
	memset(&local, 0, sizeof(local));
	local.pid = -1;
	local.out_fd = -1;

	if (check_mountpoint(o->mountpoint, mp))
		return 1;
	if (want_allow_other(o) && geteuid() != 0 && !fuse_conf_allows_other()) {
		fb_err("allow_other: a mount by a user other than root may let others in only when "
		       "%s has a line 'user_allow_other' (add it as root, or leave allow_other out)",
		       FUSE_CONF);
		return 1;
	}

	if (o->local) {
		struct stat st;

		if (!realpath(o->export_path, export_buf) || stat(export_buf, &st) < 0) {
			fb_err("export directory %s: %s", o->export_path, strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			fb_err("export %s is not a directory", o->export_path);
			return 1;
		}
		export_path = export_buf;
		server = NULL;
		token = NULL;
	} else {
		server = o->server ? o->server : getenv("FSBRIDGE_SERVER");
		if (!server || !*server) {
			fb_err("no server given: use --server ADDR (or -o server=ADDR, or "
			       "$FSBRIDGE_SERVER), or --local DIR");
			return 2;
		}
		if (o->token_file) {
			snprintf(token_path, sizeof(token_path), "%s", o->token_file);
		} else if (fsb_token_default_path(token_path, sizeof(token_path)) < 0) {
			fb_err("no token file: set --token-file, $FSBRIDGE_TOKEN_FILE or $HOME");
			return 1;
		}
		if (fsb_token_load(token_path, 0, token_buf, sizeof(token_buf), err,
		                   sizeof(err)) < 0) {
			fb_err("%s", err);
			return 1;
		}
		token = token_buf;
	}

	if (!o->foreground) {
		rc = fb_daemon_begin();
		if (rc < 0) {
			fb_err("cannot fork into the background: %s", strerror(-rc));
			return 1;
		}
	}

	if (o->local) {
		rc = fb_local_start(&local, export_path, err, sizeof(err));
		if (rc < 0) {
			fb_err("%s", err);
			return 1;
		}
		have_local = 1;
		server = local.addr;
		token = local.token;
	}

	caps = FB_CLIENT_CAPS;
	if (o->events == FB_EVENTS_OFF)
		caps &= ~(uint64_t)FSB_CAP_EVENTS;
	fd = fb_session_open(server, token, export_path, caps, &fs.server, &is_tcp, err,
	                     sizeof(err));
	if (fd < 0) {
		fb_err("%s", err);
		goto out_local;
	}
	fb_dbg("connected to %s (%s), max_io %u, caps 0x%llx", server, fs.server.name,
	       fs.server.max_io, (unsigned long long)fs.server.caps);

	fb_cache_policy_init(&fs.cache, o->cache);
	/* With the writeback cache the kernel keeps its own file sizes and
	 * ignores the server's; only a replayed truncate tells it of a size
	 * changed behind the mount. Without replay, no writeback cache. */
	if (o->events != FB_EVENTS_REPLAY)
		fs.cache.writeback = 0;
	if (o->events != FB_EVENTS_OFF && !(fs.server.caps & FSB_CAP_EVENTS)) {
		fb_warn("%s sends no change events: changes made behind the mount reach no "
		        "watcher%s", fs.server.name[0] ? fs.server.name : "the server",
		        o->cache == FB_CACHE_COHERENT ? ", and stay hidden behind the cache "
		                                        "(consider --cache=strict)" : "");
	} else if (o->events == FB_EVENTS_OFF && o->cache == FB_CACHE_COHERENT) {
		fb_warn("--events=off with --cache=coherent: changes made behind the mount stay "
		        "hidden behind the cache (consider --cache=strict)");
	}
	if (fb_events_init(&fs.events, o->events) < 0) {
		fb_err("out of memory");
		close(fd);
		goto out_local;
	}
	pthread_mutex_init(&fs.dir_ends.lock, NULL);
	fb_dirahead_init(&fs.dirahead);
	if (fb_nodes_init(&fs.nodes) < 0 || fb_dents_init(&fs.dents) < 0 ||
	    fb_fhs_init(&fs.fhs) < 0 || fb_nodes_ref(&fs.nodes, &fs.server.root) < 0 ||
	    fb_resume_init(&fs.resume, &fs, server, token, export_path, caps) < 0) {
		fb_err("out of memory");
		close(fd);
		goto out_nodes;
	}

	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.fd = fd;
	ccfg.is_tcp = is_tcp;
	ccfg.csum = fb_session_csum(&fs.server);
	ccfg.peer = server;
	ccfg.heartbeat_ms = HEARTBEAT_MS;
	ccfg.dead_ms = DEAD_MS;
	ccfg.first_id = 2;     /* HELLO was 1 */
	ccfg.on_push = on_push;
	ccfg.push_arg = &fs;
	ccfg.reconnect = o->reconnect != FB_RECONNECT_OFF;
	ccfg.soft_ms = o->reconnect == FB_RECONNECT_SOFT ? o->timeo * 1000u : 0;
	ccfg.on_down = fb_resume_on_down;
	ccfg.down_arg = &fs.resume;
	if (have_local)
		fs.resume.local = &local;
	if (fb_conn_new(&fs.conn, &ccfg) < 0) {
		fb_err("out of memory");
		close(fd);
		goto out_nodes;
	}

	if (build_fuse_args(&args, o, !!(fs.server.caps & FSB_CAP_READONLY)) < 0) {
		fb_err("out of memory");
		goto out_conn;
	}
	se = fuse_session_new(&args, &fb_fuse_ops, sizeof(fb_fuse_ops), &fs);
	if (!se) {
		fb_err("invalid mount options: %s", o->fuse_opts ? o->fuse_opts : "(none)");
		goto out_args;
	}
	if (fuse_set_signal_handlers(se) < 0) {
		fb_err("cannot install signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(se, mp) < 0) {
		fb_err("cannot mount on %s (see the line above)", mp);
		goto out_signals;
	}
	/* From here on errors no longer reach the terminal: the mount is up. */
	if (!o->foreground)
		fb_daemon_ready();
	fb_info("mounted %s on %s (%s at %s, cache=%s, events=%s)", o->export_path, mp,
	        fs.server.name[0] ? fs.server.name : "winside", o->local ? "private" : server,
	        fb_cache_mode_name(o->cache), fb_events_mode_name(o->events));

	rc = fb_conn_start(fs.conn);
	if (rc < 0) {
		fb_err("cannot start the connection thread: %s", strerror(-rc));
		goto out_unmount;
	}
	rc = fb_events_start(&fs, se, mp);
	if (rc < 0) {
		fb_err("cannot start the event thread: %s", strerror(-rc));
		fb_conn_stop(fs.conn);
		goto out_unmount;
	}
	rc = fb_restat_start(&fs.restat, &fs, mp);
	if (rc < 0)
		fb_warn("cannot start the directory restat thread: %s", strerror(-rc));
	rc = fb_resume_start(&fs.resume);
	if (rc < 0) {
		fb_err("cannot start the reconnect thread: %s", strerror(-rc));
		fb_events_stop(&fs.events);
		fb_conn_stop(fs.conn);
		goto out_unmount;
	}
	fb_readahead_start(&ra, mp, FB_READAHEAD_KB);
	rc = fuse_session_loop_mt(se, &loop_cfg);
	status = rc < 0 ? 1 : 0;
	if (rc < 0)
		fb_err("FUSE session ended with an error: %s", strerror(-rc));
	fb_resume_stop(&fs.resume);
	fb_restat_stop(&fs.restat);
	fb_events_stop(&fs.events);
	fb_conn_stop(fs.conn);
	fb_events_log_summary(&fs.events);
	fb_info("unmounting %s", mp);

out_unmount:
	/* Closing the session aborts whatever the event thread still waits
	 * for on the mount, so it can be joined after this. */
	fuse_session_unmount(se);
	fb_events_join(&fs.events);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	/* After the device is closed: a stat still waiting for the mount
	 * to answer fails then. */
	fb_readahead_join(&ra);
	fb_restat_join(&fs.restat);
out_args:
	fuse_opt_free_args(&args);
out_conn:
	fb_conn_free(fs.conn);
out_nodes:
	fb_resume_release(&fs.resume);
	fb_events_release(&fs.events);
	fb_fhs_release(&fs.fhs);
	fb_dents_release(&fs.dents);
	fb_nodes_release(&fs.nodes);
	pthread_mutex_destroy(&fs.dir_ends.lock);
	fb_dirahead_release(&fs.dirahead);
out_local:
	if (have_local)
		fb_local_stop(&local);
	return status;
}

/* ---- umount ---------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* Find the topmost mount at `path`. Returns 1 with its type in fstype, 0 if
 * nothing is mounted there, -errno if mountinfo is unreadable. */
static int find_mount(const char *path, char *fstype, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], type[256];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s", type) != 1)
			continue;
		unescape_octal(mnt);
		if (!strcmp(mnt, path)) {
			snprintf(fstype, len, "%s", type);
			found = 1;      /* keep going: the last one is on top */
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int run_fusermount(const char *path, int lazy)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		fb_err("cannot run fusermount3: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", "--", path, (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "--", path, (char *)NULL);
		fprintf(stderr, "fsbridge: cannot run fusermount3: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/*
 * The absolute path of a mount point without looking inside it: its
 * parent is resolved, its last name kept. A stat of the mount itself would
 * wait for a server that is away (hard reconnect), or fail with ENOTCONN
 * for a dead mount, and neither may stop an unmount.
 */
static int mountpoint_path(const char *mp, char *out, size_t size)
{
	char buf[PATH_MAX], parent[PATH_MAX];
	const char *dir, *base;
	size_t n = strlen(mp);
	char *slash;

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, mp, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash) {
		dir = ".";
		base = buf;
	} else if (slash == buf) {
		dir = "/";
		base = slash + 1;
	} else {
		*slash = '\0';
		dir = buf;
		base = slash + 1;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return realpath(mp, out) ? 0 : -errno;
	if (!realpath(dir, parent))
		return -errno;
	if ((size_t)snprintf(out, size, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base) >=
	    size)
		return -ENAMETOOLONG;
	return 0;
}

int fb_umount_run(const char *mountpoint, int lazy)
{
	char path[PATH_MAX], fstype[256];
	int rc, tries = 0;

	rc = mountpoint_path(mountpoint, path, sizeof(path));
	if (rc < 0) {
		fb_err("mountpoint %s: %s", mountpoint, strerror(-rc));
		return 1;
	}
	rc = find_mount(path, fstype, sizeof(fstype));
	if (rc < 0) {
		fb_err("cannot read /proc/self/mountinfo: %s", strerror(-rc));
		return 1;
	}
	if (rc == 0) {
		fb_err("%s is not a mount point", path);
		return 1;
	}
	if (strcmp(fstype, "fuse.fsbridge") != 0) {
		fb_err("%s is not an fsbridge mount (it is %s)", path, fstype);
		return 1;
	}
	if (geteuid() != 0)
		return run_fusermount(path, lazy);
	/* The daemon's own replay holds the mount's root for a moment (a
	 * rescan after lost events, a burst of replays): busy for a second
	 * is not busy. */
	while (umount2(path, lazy ? MNT_DETACH : 0) < 0) {
		if (errno == EBUSY && ++tries < 30) {
			usleep(100000);
			continue;
		}
		if (errno == EBUSY)
			fb_err("%s is busy (open files or a process inside); "
			       "'fsbridge umount --lazy %s' detaches it anyway", path, path);
		else
			fb_err("cannot unmount %s: %s", path, strerror(errno));
		return 1;
	}
	return 0;
}
