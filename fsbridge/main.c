/*
 * main.c - the fsbridge command line.
 *
 *   fsbridge mount [options] EXPORT MOUNTPOINT
 *   fsbridge mount --local DIR MOUNTPOINT
 *   fsbridge umount [--lazy] MOUNTPOINT
 *   fsbridge automount [options]                       (every export)
 *   fsbridge volume-plugin [options]                   (Docker volume driver)
 *   mount.fuse.fsbridge EXPORT MOUNTPOINT [-o opts]   (mount(8) helper)
 *
 * The helper is this binary under another name (argv[0]). The same form
 * is accepted as `fsbridge EXPORT MOUNTPOINT -o opts`, which is how
 * mount.fuse3 runs a `fuse.fsbridge` type whose helper is not installed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "automount.h"
#include "config.h"
#include "fsb_proto.h"
#include "log.h"
#include "mount.h"
#include "options.h"
#include "volume.h"

static const char usage_main[] =
	"usage: fsbridge <command> [options]\n"
	"\n"
	"Mount a folder served by winside (a Windows folder, usually) as a Linux\n"
	"filesystem.\n"
	"\n"
	"commands:\n"
	"  mount    mount an export:        fsbridge mount --server ADDR EXPORT MOUNTPOINT\n"
	"           or a local directory:   fsbridge mount --local DIR MOUNTPOINT\n"
	"  umount   unmount:                fsbridge umount MOUNTPOINT\n"
	"  stats    event counters, memory: fsbridge stats MOUNTPOINT\n"
	"  automount  mount every export:   fsbridge automount --server ADDR\n"
	"  volume-plugin  the Docker volume driver:  fsbridge volume-plugin\n"
	"\n"
	"  fsbridge <command> --help   explains a command\n"
	"  fsbridge --version\n";

static const char usage_mount[] =
	"usage: fsbridge mount [options] EXPORT MOUNTPOINT\n"
	"       fsbridge mount --local DIR MOUNTPOINT\n"
	"\n"
	"Connect to a running winside and mount its export EXPORT on MOUNTPOINT.\n"
	"EXPORT is passed to the server as typed: a Windows path ('C:\\src') or a\n"
	"POSIX path. The command returns once the mount is up (or prints why it\n"
	"could not be) and serves it in the background until unmounted.\n"
	"\n"
	"options:\n"
	"  --server ADDR      winside's address: unix:PATH, unix:@NAME, tcp:HOST:PORT,\n"
	"                     vsock:CID:PORT (default: $FSBRIDGE_SERVER)\n"
	"  --token-file FILE  the access token (default: $FSBRIDGE_TOKEN_FILE, else\n"
	"                     ~/.config/fsbridge/token)\n"
	"  --cache=MODE       coherent (default): cache everything, long timeouts,\n"
	"                       relying on the server's change events;\n"
	"                     strict: 1 s timeouts, no cache kept across opens;\n"
	"                     none: direct I/O, nothing cached (debugging)\n"
	"  --events=MODE      what changes made behind the mount do:\n"
	"                     replay (default): raise the same inotify/fanotify\n"
	"                       events a local change would, for every watcher\n"
	"                       (containers included), and keep the cache exact;\n"
	"                     invalidate: keep the cache exact, raise no events;\n"
	"                     off: ignore them (use with --cache=strict or none)\n"
	"  --local            EXPORT is a local directory: start a private winside\n"
	"                     for it (on a private socket, with a random token); it\n"
	"                     stops when the mount goes away. winside is taken from\n"
	"                     $FSBRIDGE_WINSIDE, next to this program, or PATH\n"
	"  -o OPTS            comma-separated mount options: allow_other (other users,\n"
	"                     containers included, may use the mount, with the same\n"
	"                     permission checks as a local disk; the default when root\n"
	"                     mounts, noallow_other turns it off; a user other than\n"
	"                     root needs user_allow_other in /etc/fuse.conf for it),\n"
	"                     ro, noexec, nosuid, ...; also server=, token_file=,\n"
	"                     cache=, events= as above, and:\n"
	"                     reconnect=hard (default): when the server goes away\n"
	"                       (restart, sleep, dropped connection), requests wait\n"
	"                       until it is back, then carry on: open files stay\n"
	"                       open, unsynced writes are written; a signal (Ctrl-C,\n"
	"                       kill) ends a waiting request with EINTR;\n"
	"                     reconnect=soft: the same, but requests fail with EIO\n"
	"                       once the server has been away timeo=SECONDS\n"
	"                       (default 30); the mount stays and recovers;\n"
	"                     reconnect=off: every request fails with EIO for good\n"
	"\n"
	"Files made through the mount belong to the user who made them, on the\n"
	"server too, when winside runs as root (Linux) and can give them away.\n"
	"  -f, --foreground   stay in the foreground, log to stderr\n"
	"  -d, --debug        foreground, and log every request\n"
	"  -h, --help         this text\n"
	"\n"
	"Logs go to stderr, or to syslog once in the background. SIGINT or SIGTERM\n"
	"unmounts cleanly.\n"
	"\n"
	"What the command line leaves unset comes from /etc/fsbridge.conf\n"
	"($FSBRIDGE_CONFIG names another file): [server] address and token_file,\n"
	"[mount] cache, events and options (see fsbridge.conf(5)).\n"
	"\n"
	"mount(8) and /etc/fstab use the helper mount.fuse.fsbridge (installed in\n"
	"sbin), with the same options given as -o:\n"
	"  mount -t fuse.fsbridge 'C:\\src' /mnt/src -o server=vsock:2:5000,allow_other\n"
	"  # /etc/fstab\n"
	"  C:\\src  /mnt/src  fuse.fsbridge  server=vsock:2:5000,allow_other,_netdev  0  0\n"
	"  /srv    /mnt/srv  fuse.fsbridge  server=unix:/run/winside.sock,token_file=/etc/fsbridge/token,cache=strict  0  0\n";

static const char usage_umount[] =
	"usage: fsbridge umount [--lazy] MOUNTPOINT\n"
	"\n"
	"Unmount an fsbridge mount; the daemon serving it then exits (and stops its\n"
	"private winside, if any). Root unmounts directly, other users through\n"
	"fusermount3 -u.\n"
	"\n"
	"options:\n"
	"  -l, --lazy   detach now even if busy; finish when no longer in use\n"
	"  -h, --help   this text\n";

static const char usage_helper[] =
	"usage: mount.fuse.fsbridge EXPORT MOUNTPOINT [-o OPTS]\n"
	"\n"
	"The mount(8) helper for filesystem type fuse.fsbridge. OPTS are the\n"
	"options of 'fsbridge mount' written as key=value: server=ADDR,\n"
	"token_file=FILE, cache=MODE, local, plus FUSE and mount options\n"
	"(allow_other, ro, ...). Options only meaningful to mount(8) (noauto,\n"
	"_netdev, nofail, user, x-*) are ignored.\n"
	"\n"
	"  # /etc/fstab\n"
	"  C:\\src  /mnt/src  fuse.fsbridge  server=vsock:2:5000,allow_other,_netdev  0  0\n";

static const char usage_volume[] =
	"usage: fsbridge volume-plugin [options]\n"
	"\n"
	"Serve Docker's volume plugin protocol, so that containers can use exports\n"
	"as named volumes:\n"
	"  docker volume create -d fsbridge -o export='C:\\src' -o server=vsock:2:5000 src\n"
	"  docker run -v src:/app ...\n"
	"Volume options: export= (required), server=, token_file=, cache=, events=,\n"
	"o= (mount options, as fsbridge mount -o). The first container that mounts a\n"
	"volume mounts its export under the mount root; the last one to unmount it\n"
	"unmounts it. Volumes and their users are kept in the state directory, so a\n"
	"restarted plugin takes its mounts back. Runs in the foreground, as root;\n"
	"SIGINT or SIGTERM stops it and leaves the mounts up.\n"
	"\n"
	"options:\n"
	"  --socket PATH      where Docker finds it (default\n"
	"                     /run/docker/plugins/fsbridge.sock: driver name fsbridge)\n"
	"  --state-dir DIR    volumes (default /var/lib/fsbridge/volumes)\n"
	"  --mount-root DIR   mounts (default /var/lib/fsbridge/mounts)\n"
	"  --server ADDR      server for volumes that name none (default:\n"
	"                     $FSBRIDGE_SERVER, else [server] address in\n"
	"                     /etc/fsbridge.conf)\n"
	"  --token-file FILE  token for volumes that name none (default: [server]\n"
	"                     token_file in /etc/fsbridge.conf)\n"
	"  -d, --debug        log every call\n"
	"  -h, --help         this text\n";

static const char usage_automount[] =
	"usage: fsbridge automount [--server ADDR] [--token-file FILE] [--root DIR]\n"
	"\n"
	"Ask the server which folders it exports and keep each one mounted at\n"
	"ROOT/NAME, as WSL mounts every drive under /mnt: exports that appear later\n"
	"are mounted, those that go away are unmounted, and when the server comes\n"
	"back after a break every export is mounted again. Runs in the foreground;\n"
	"SIGINT or SIGTERM unmounts everything it mounted.\n"
	"\n"
	"options:\n"
	"  --server ADDR      the server (default: $FSBRIDGE_SERVER, else [server]\n"
	"                     address in /etc/fsbridge.conf)\n"
	"  --token-file FILE  the token (default: [server] token_file, else\n"
	"                     ~/.config/fsbridge/token)\n"
	"  --root DIR         where (default: [automount] root, else /mnt/fsb)\n"
	"  --interval SECS    how often to ask for the list (default 2)\n"
	"Each export's mount takes the [mount] options of /etc/fsbridge.conf, and\n"
	"those of its [export NAME] section.\n";

static int cmd_automount(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "server", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "root", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_automount_opts o = { .server = getenv("FSBRIDGE_SERVER"), .interval_ms = 2000 };
	struct fb_config cfg;
	char err[512], *end;
	unsigned long secs;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "dh", longs, NULL)) != -1) {
		switch (c) {
		case 'a': o.server = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'r': o.root = optarg; break;
		case 'i':
			errno = 0;
			secs = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || secs < 1 || secs > 3600) {
				fb_err("--interval %s: seconds, 1 to 3600", optarg);
				return 2;
			}
			o.interval_ms = (unsigned)secs * 1000u;
			break;
		case 'd': fb_log_set_debug(1); break;
		case 'h':
			fputs(usage_automount, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_automount);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fsbridge: automount takes no arguments\n\n%s", usage_automount);
		return 2;
	}
	if (fb_config_load(&cfg, err, sizeof(err)) < 0) {
		fb_err("%s", err);
		return 2;
	}
	if (!o.server || !*o.server)
		o.server = cfg.server;
	if (!o.token_file)
		o.token_file = cfg.token_file;
	if (!o.root)
		o.root = cfg.automount_root ? cfg.automount_root : "/mnt/fsb";
	o.config = &cfg;
	if (!o.server) {
		fb_err("no server: give --server ADDR, set $FSBRIDGE_SERVER, or [server] address "
		       "in %s", FB_CONFIG_PATH);
		rc = 2;
	} else if (o.root[0] != '/') {
		fb_err("--root %s: an absolute path", o.root);
		rc = 2;
	} else {
		rc = fb_automount_run(&o);
	}
	fb_config_release(&cfg);
	return rc;
}

static int cmd_volume(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "mount-root", required_argument, NULL, 'm' },
		{ "server", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_volume_opts o = {
		.socket = "/run/docker/plugins/fsbridge.sock",
		.state_dir = "/var/lib/fsbridge/volumes",
		.mount_root = "/var/lib/fsbridge/mounts",
		.server = getenv("FSBRIDGE_SERVER"),
	};
	struct fb_config cfg;
	char err[512];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "dh", longs, NULL)) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 'S': o.state_dir = optarg; break;
		case 'm': o.mount_root = optarg; break;
		case 'a': o.server = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'd': fb_log_set_debug(1); break;
		case 'h':
			fputs(usage_volume, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_volume);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fsbridge: volume-plugin takes no arguments\n\n%s", usage_volume);
		return 2;
	}
	if (o.server && !*o.server)
		o.server = NULL;
	if (fb_config_load(&cfg, err, sizeof(err)) < 0) {
		fb_err("%s", err);
		return 2;
	}
	if (!o.server)
		o.server = cfg.server;
	if (!o.token_file)
		o.token_file = cfg.token_file;
	if (o.state_dir[0] != '/' || o.mount_root[0] != '/' || o.socket[0] != '/') {
		fb_err("--socket, --state-dir and --mount-root must be absolute paths");
		return 2;
	}
	rc = fb_volume_run(&o);
	fb_config_release(&cfg);
	return rc;
}

static void print_version(void)
{
	printf("fsbridge %s (protocol %u)\n", PACKAGE_VERSION, FSB_PROTO_VERSION);
}

static int set_positional(struct fb_mount_opts *o, int argc, char **argv, int first,
                          const char *usage)
{
	if (argc - first != 2) {
		fprintf(stderr, "fsbridge: %s\n\n%s",
		        argc - first < 2 ? "EXPORT and MOUNTPOINT are required"
		                         : "too many arguments", usage);
		return 2;
	}
	if (fb_strset(&o->export_path, argv[first]) < 0 ||
	    fb_strset(&o->mountpoint, argv[first + 1]) < 0) {
		fb_err("out of memory");
		return 1;
	}
	return 0;
}

static int apply_o(struct fb_mount_opts *o, const char *list)
{
	char err[256];

	if (fb_mount_opts_parse_o(o, list, err, sizeof(err)) < 0) {
		fb_err("%s", err);
		return 2;
	}
	return 0;
}

/* What the command line left unset, from /etc/fsbridge.conf. */
static int with_config(struct fb_mount_opts *o)
{
	struct fb_config cfg;
	char err[512];
	int rc;

	if (fb_config_load(&cfg, err, sizeof(err)) < 0) {
		fb_err("%s", err);
		return 2;
	}
	rc = fb_mount_opts_apply_config(o, &cfg, &cfg.mount, err, sizeof(err));
	if (rc < 0)
		fb_err("%s", rc == -ENOMEM ? "out of memory" : err);
	fb_config_release(&cfg);
	return rc < 0 ? 2 : 0;
}

static int cmd_mount(int argc, char **argv)
{
	enum { OPT_SERVER = 256, OPT_TOKEN, OPT_CACHE, OPT_EVENTS, OPT_LOCAL, OPT_VERSION };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "token-file", required_argument, NULL, OPT_TOKEN },
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "local", no_argument, NULL, OPT_LOCAL },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_mount_opts o;
	int c, rc;

	fb_mount_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:fdh", longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case OPT_SERVER:
			rc = fb_strset(&o.server, optarg) < 0 ? 1 : 0;
			break;
		case OPT_TOKEN:
			rc = fb_strset(&o.token_file, optarg) < 0 ? 1 : 0;
			break;
		case OPT_CACHE:
			o.cache_set = 1;
			if (fb_cache_mode_parse(optarg, &o.cache) < 0) {
				fb_err("unknown cache mode '%s' (use coherent, strict or none)",
				       optarg);
				rc = 2;
			}
			break;
		case OPT_EVENTS: {
			char err[128];

			o.events_set = 1;
			if (fb_events_mode_check(optarg, &o.events, err, sizeof(err)) < 0) {
				fb_err("%s", err);
				rc = 2;
			}
			break;
		}
		case OPT_LOCAL:
			o.local = 1;
			break;
		case 'o':
			rc = apply_o(&o, optarg);
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'd':
			o.debug = 1;
			o.foreground = 1;
			break;
		case 'h':
			fputs(usage_mount, stdout);
			fb_mount_opts_release(&o);
			return 0;
		case OPT_VERSION:
			print_version();
			fb_mount_opts_release(&o);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_mount);
			rc = 2;
			break;
		}
		if (rc) {
			fb_mount_opts_release(&o);
			return rc;
		}
	}
	rc = set_positional(&o, argc, argv, optind, usage_mount);
	if (rc == 0)
		rc = with_config(&o);
	if (rc == 0) {
		fb_log_set_debug(o.debug);
		rc = fb_mount_run(&o);
	}
	fb_mount_opts_release(&o);
	return rc;
}

static int cmd_umount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lazy", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, lazy = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+lzh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'z':
			lazy = 1;
			break;
		case 'h':
			fputs(usage_umount, stdout);
			return 0;
		case 'V':
			print_version();
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_umount);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "fsbridge: %s\n\n%s",
		        argc - optind < 1 ? "MOUNTPOINT is required" : "too many arguments",
		        usage_umount);
		return 2;
	}
	return fb_umount_run(argv[optind], lazy);
}

static const char usage_stats[] =
	"usage: fsbridge stats MOUNTPOINT\n"
	"\n"
	"Print the change-event counters of the daemon serving MOUNTPOINT: events\n"
	"received from the server (by kind), replayed through the mount, used only\n"
	"to invalidate the cache, echoes of the mount's own changes suppressed,\n"
	"skipped because nothing under them was cached, failed replays, and\n"
	"rescans after lost events; and the connection's: up or down, reconnects,\n"
	"time spent disconnected, requests sent again, nodes and open files\n"
	"restored or lost across reconnects; and what the daemon holds: the nodes\n"
	"the kernel knows, the names it mirrors, the open handles, the bytes each\n"
	"table allocates, per node, and the daemon's resident size.\n";

static int cmd_stats(int argc, char **argv)
{
	char path[4096], line[4200];
	struct statx stx;
	FILE *f;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage_stats, stdout);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "fsbridge: MOUNTPOINT is required\n\n%s", usage_stats);
		return 2;
	}
	/* From the kernel's cache: the server may be away right now. */
	if (statx(AT_FDCWD, argv[1], AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
		fb_err("%s: %s", argv[1], strerror(errno));
		return 1;
	}
	if (fb_events_stats_path(path, sizeof(path),
	                         (unsigned long long)makedev(stx.stx_dev_major,
	                                                     stx.stx_dev_minor)) < 0 ||
	    !(f = fopen(path, "re"))) {
		fb_err("%s: no fsbridge daemon with change events serves it (no %s)", argv[1],
		       path);
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

/* mount(8) runs: helper SPEC DIR [-sfnv] [-N ns] [-o OPTS] [-t TYPE]. */
static int cmd_helper(int argc, char **argv)
{
	struct fb_mount_opts o;
	char *pos[2];
	int npos = 0, i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_helper, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			print_version();
			return 0;
		}
	}

	fb_mount_opts_init(&o);
	for (i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") || !strcmp(a, "-t") || !strcmp(a, "-N")) {
			if (i + 1 >= argc) {
				fb_err("%s needs an argument", a);
				rc = 2;
			} else if (a[1] == 'o') {
				rc = apply_o(&o, argv[++i]);
			} else {
				i++;    /* type and namespace: ours by definition */
			}
		} else if (!strncmp(a, "-o", 2)) {
			rc = apply_o(&o, a + 2);
		} else if (a[0] == '-' && a[1]) {
			/* -s (sloppy), -n (no mtab), -v (verbose): nothing to do;
			 * -f is mount's fake mode, not foreground. */
			if (strchr(a, 'f')) {
				fb_mount_opts_release(&o);
				return 0;
			}
		} else if (npos < 2) {
			pos[npos++] = argv[i];
		} else {
			fb_err("too many arguments\n\n%s", usage_helper);
			rc = 2;
		}
	}
	if (rc == 0 && npos != 2) {
		fprintf(stderr, "fsbridge: EXPORT and MOUNTPOINT are required\n\n%s", usage_helper);
		rc = 2;
	}
	if (rc == 0) {
		if (fb_strset(&o.export_path, pos[0]) < 0 || fb_strset(&o.mountpoint, pos[1]) < 0)
			rc = 1;
	}
	if (rc == 0)
		rc = with_config(&o);
	if (rc == 0) {
		fb_log_set_debug(o.debug);
		rc = fb_mount_run(&o);
	}
	fb_mount_opts_release(&o);
	return rc;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	fb_log_init("fsbridge");

	if (!strncmp(base, "mount.", 6))
		return cmd_helper(argc, argv);
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "mount"))
		return cmd_mount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "umount") || !strcmp(argv[1], "unmount"))
		return cmd_umount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "volume-plugin"))
		return cmd_volume(argc - 1, argv + 1);
	if (!strcmp(argv[1], "automount"))
		return cmd_automount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		print_version();
		return 0;
	}
	if (argv[1][0] != '-' && argc >= 3)
		return cmd_helper(argc, argv);
	fprintf(stderr, "fsbridge: unknown command '%s'\n\n%s", argv[1], usage_main);
	return 2;
}
