/*
 * main.c - the winside command line (POSIX): parse options, open the
 * exports and listeners, accept connections until SIGINT/SIGTERM, then
 * shut everything down cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cli.h"
#include "stats.h"
#include "fsb_net.h"
#include "fsb_proto.h"
#include "ws_log.h"
#include "ws_posix.h"
#include "ws_server.h"

#define MAX_WORKERS 256u
#define MAX_HANDLES_LIMIT (1u << 20)

static const char main_help[] =
	"Usage: winside serve --export DIR --listen ADDR [options]\n"
	"       winside serve --help\n"
	"       winside --help | --version\n"
	"\n"
	"winside is the fsbridge file server. It serves directories (exports) to\n"
	"fsbridge clients, which mount them with FUSE. On Windows it serves NTFS\n"
	"folders to WSL; this POSIX build serves Linux directories, for tests,\n"
	"demos and Linux-to-Linux use.\n"
	"\n"
	"Commands:\n"
	"  serve        serve one or more directories; see `winside serve --help`\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help\n"
	"  -V, --version  show the version and protocol version\n";

static const char serve_help[] =
	"Usage: winside serve --export DIR [--export DIR...] --listen ADDR [--listen ADDR...]\n"
	"                     [--read-only] [--token-file FILE] [--workers N]\n"
	"                     [--max-handles N] [--watcher=auto|inotify|fanotify]\n"
	"                     [-v|--verbose]\n"
	"\n"
	"Serve each DIR to fsbridge clients on each ADDR until SIGINT or SIGTERM.\n"
	"\n"
	"Options:\n"
	"  -e, --export DIR      a directory to serve (repeatable). A client picks one\n"
	"                        by giving DIR exactly as written here or its canonical\n"
	"                        path (realpath); a client that names no export gets\n"
	"                        the first. Clients are confined to the directory:\n"
	"                        names cannot contain '/', \"..\" is refused, and\n"
	"                        symbolic links are never followed by the server.\n"
	"  -l, --listen ADDR     where to accept connections (repeatable):\n"
	"                          unix:PATH        a Unix socket file (unix:@NAME for\n"
	"                                           the abstract namespace); the file\n"
	"                                           is removed at exit\n"
	"                          tcp:HOST:PORT    TCP; HOST is a name, an IPv4 address\n"
	"                                           or [IPv6]. Use a loopback address\n"
	"                                           (127.0.0.1, [::1]) unless told\n"
	"                                           otherwise: on any other address the\n"
	"                                           token is the only protection, and\n"
	"                                           winside warns. PORT 0 picks a free\n"
	"                                           port.\n"
	"                          vsock:CID:PORT   AF_VSOCK (virtual machines); CID is a\n"
	"                                           number, any, host or local; PORT\n"
	"                                           any picks a free port\n"
	"                        When every listener is up, winside prints one line\n"
	"                        \"listening on ADDR\" per listener to stdout, with the\n"
	"                        address actually bound (the real port for port 0).\n"
	"  -r, --read-only       refuse every change (writes, creates, renames,\n"
	"                        removals, attribute changes) with EROFS\n"
	"  -t, --token-file FILE the secret a client must present to be served.\n"
	"                        Default: $FSBRIDGE_TOKEN_FILE, else\n"
	"                        ~/.config/fsbridge/token. A missing file is created\n"
	"                        with a new random token (mode 0600); a file others\n"
	"                        can read is refused.\n"
	"  -w, --workers N       threads running requests (default: twice the number\n"
	"                        of CPUs, at least 4)\n"
	"  -m, --max-handles N   open files and directories per connection\n"
	"                        (default 4096); beyond it opens fail with EMFILE\n"
	"      --watcher=KIND    how changes behind the clients are seen (default:\n"
	"                        $WINSIDE_WATCHER, else auto):\n"
	"                          inotify   a watch per directory (counted against\n"
	"                                    fs.inotify.max_user_watches)\n"
	"                          fanotify  EXPERIMENTAL: one mark on each export's\n"
	"                                    whole file system and one descriptor,\n"
	"                                    whatever the tree's size; needs\n"
	"                                    CAP_SYS_ADMIN, Linux 5.17 and a file\n"
	"                                    system with file handles, else the\n"
	"                                    export gets no change events. Events\n"
	"                                    the kernel merges may come in another\n"
	"                                    order than inotify's\n"
	"                          auto      inotify for now\n"
	"  -v, --verbose         log every request (operation, node, name, status,\n"
	"                        time in microseconds) to stderr\n"
	"  -h, --help            show this help\n"
	"\n"
	"Logs go to stderr, each line with a timestamp.\n";

struct listener {
	struct fsb_addr addr;
	struct fsb_addr bound;
	const char *text;       /* as given */
	int fd;
};

struct serve_opts {
	const char **exports;
	char (*names)[WS_EXPORT_NAME_MAX];  /* each export's name, for automount */
	size_t nexports;
	const char **listens;
	size_t nlistens;
	const char *token_file;
	unsigned workers;
	unsigned max_handles;
	int readonly;
	int verbose;
	enum ws_posix_watcher watcher;
};

static int parse_count(const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-') {
		fprintf(stderr, "winside: %s %s: expected a number from 1 to %u\n", opt, s, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int push(const char ***arr, size_t *n, const char *s)
{
	const char **p = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!p)
		return -1;
	p[(*n)++] = s;
	*arr = p;
	return 0;
}

/* 0 to serve, 1 to exit 0 (help), 2 on a usage error. */
static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	static const struct option longopts[] = {
		{ "export", required_argument, NULL, 'e' },
		{ "listen", required_argument, NULL, 'l' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "token-file", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-handles", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "watcher", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("WINSIDE_WATCHER");
	int c;

	/* The environment's choice first, so that a winside started by
	 * `fsbridge mount --local` can be told too; the option wins. */
	if (env && *env && ws_posix_watcher_parse(env, &o->watcher)) {
		fprintf(stderr, "winside serve: WINSIDE_WATCHER=%s: expected auto, inotify or "
		        "fanotify\n", env);
		return 2;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":e:l:rt:w:m:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': {
			char (*names)[WS_EXPORT_NAME_MAX] =
				realloc(o->names, (o->nexports + 1) * sizeof(*names));
			const char *dir;

			if (!names)
				return 2;
			o->names = names;
			if (ws_cli_export_arg(optarg, names[o->nexports], &dir, names, o->nexports) ||
			    push(&o->exports, &o->nexports, dir))
				return 2;
			break;
		}
		case 'l':
			if (push(&o->listens, &o->nlistens, optarg))
				return 2;
			break;
		case 'r':
			o->readonly = 1;
			break;
		case 't':
			o->token_file = optarg;
			break;
		case 'w':
			if (parse_count("--workers", optarg, MAX_WORKERS, &o->workers))
				return 2;
			break;
		case 'm':
			if (parse_count("--max-handles", optarg, MAX_HANDLES_LIMIT, &o->max_handles))
				return 2;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'W':
			if (ws_posix_watcher_parse(optarg, &o->watcher)) {
				fprintf(stderr, "winside serve: --watcher %s: expected auto, inotify "
				        "or fanotify\n", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(serve_help, stdout);
			return 1;
		case ':':
			fprintf(stderr, "winside serve: %s needs an argument; see winside serve --help\n",
			        argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "winside serve: unknown option %s; see winside serve --help\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "winside serve: unexpected argument %s; see winside serve --help\n",
		        argv[optind]);
		return 2;
	}
	if (!o->nexports) {
		fprintf(stderr, "winside serve: --export DIR is required; see winside serve --help\n");
		return 2;
	}
	if (!o->nlistens) {
		fprintf(stderr, "winside serve: --listen ADDR is required (for example "
		        "--listen unix:/tmp/winside.sock); see winside serve --help\n");
		return 2;
	}
	return 0;
}

static int is_loopback(const struct fsb_addr *a)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, a->host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a->host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return 0;
}

static void peer_name(const struct listener *l, const struct sockaddr_storage *ss,
                      char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "tcp:%s:%u", host, (unsigned)ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "tcp:[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_VSOCK) {
		const struct sockaddr_vm *v = (const void *)ss;

		snprintf(buf, len, "vsock:%u:%u", v->svm_cid, v->svm_port);
	} else {
		/* Unix clients are nearly always unnamed: name the listener. */
		snprintf(buf, len, "%s", l->text);
	}
}

static void accept_one(struct ws_server *srv, struct listener *l)
{
	static time_t last_warn;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ws_stream *st;
	char peer[128];
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
			/* The pending connection stays queued; back off rather
			 * than spin on it. */
			if (time(NULL) != last_warn) {
				last_warn = time(NULL);
				ws_log(WS_LOG_ERROR, "accept on %s: %s", l->text, strerror(errno));
			}
			usleep(100000);
		} else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
			ws_log(WS_LOG_ERROR, "accept on %s: %s", l->text, strerror(errno));
		}
		return;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	peer_name(l, &ss, peer, sizeof(peer));
	st = ws_posix_stream_new(fd, peer);
	if (!st) {
		ws_log(WS_LOG_ERROR, "connection from %s: out of memory", peer);
		return;
	}
	ws_server_add(srv, st);
}

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned w = n > 0 ? (unsigned)n * 2 : 4;

	if (w < 4)
		w = 4;
	if (w > 64)
		w = 64;
	return w;
}

static void close_listeners(struct listener *ls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ls[i].fd < 0)
			continue;
		close(ls[i].fd);
		ls[i].fd = -1;
		if (ls[i].addr.kind == FSB_ADDR_UNIX && ls[i].addr.path[0] && ls[i].addr.path[0] != '@')
			unlink(ls[i].addr.path);
	}
}

/* Every node a client knows is an open O_PATH descriptor, so a walk over
 * a large tree needs far more than the usual limits: a find over 30,000
 * files holds 30,000 descriptors. Take the hard limit, and with the
 * privilege to (root), raise the hard limit itself to the kernel's
 * fs.nr_open, at most WS_FD_WANT. */
#define WS_FD_WANT (1u << 20)

static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = WS_FD_WANT;
	FILE *f;
	unsigned long nr_open;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) == 1 && nr_open < want)
			want = nr_open;
		fclose(f);
	}
	if (rl.rlim_max < want) {
		struct rlimit up = { .rlim_cur = want, .rlim_max = want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			ws_log(WS_LOG_WARN, "cannot raise the open file limit: %s", strerror(errno));
	}
	if (rl.rlim_max < 65536)
		ws_log(WS_LOG_DEBUG, "open file limit %lu: clients can hold at most that many "
		       "directories (and files, where the file system gives no handles) at once",
		       (unsigned long)rl.rlim_max);
}

static int serve(struct serve_opts *o)
{
	struct ws_export *exports = NULL;
	struct listener *ls = NULL;
	struct ws_server *srv = NULL;
	struct ws_server_opts so;
	struct ws_stats_log slog = { NULL, 0 };
	struct pollfd *pfds = NULL;
	char **canon = NULL;
	char token[FSB_TOKEN_MAX + 1], tokpath[PATH_MAX], err[1024], text[400];
	sigset_t sigs;
	size_t i, nbe = 0;
	int sfd = -1, rc = 1, r;

	ws_log_set_level(o->verbose ? WS_LOG_DEBUG : WS_LOG_INFO);
	raise_fd_limit();
	/* Signals arrive through signalfd on this thread only; every thread
	 * created later inherits the blocked mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) || (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "winside: signalfd: %s\n", strerror(errno));
		return 1;
	}

	exports = calloc(o->nexports, sizeof(*exports));
	canon = calloc(o->nexports, sizeof(*canon));
	ls = calloc(o->nlistens, sizeof(*ls));
	pfds = calloc(o->nlistens + 1, sizeof(*pfds));
	if (!exports || !canon || !ls || !pfds || ws_stats_log_init(&slog, o->nexports)) {
		fprintf(stderr, "winside: out of memory\n");
		goto out;
	}
	for (i = 0; i < o->nlistens; i++)
		ls[i].fd = -1;

	for (i = 0; i < o->nexports; i++) {
		struct stat st;

		if (stat(o->exports[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "winside: export %s: %s\n", o->exports[i], strerror(ENOTDIR));
			goto out;
		}
		r = ws_posix_backend_new(o->exports[i], &exports[i].be, err, sizeof(err));
		if (r) {
			fprintf(stderr, "winside: export %s: %s\n", o->exports[i], err);
			goto out;
		}
		nbe++;
		ws_posix_backend_set_watcher(exports[i].be, o->watcher);
		canon[i] = realpath(o->exports[i], NULL);
		exports[i].path = o->exports[i];
		exports[i].canonical = canon[i];
		exports[i].name = o->names[i];
	}

	if (o->token_file) {
		snprintf(tokpath, sizeof(tokpath), "%s", o->token_file);
	} else if (fsb_token_default_path(tokpath, sizeof(tokpath))) {
		fprintf(stderr, "winside: no token file: neither $FSBRIDGE_TOKEN_FILE nor $HOME is set; "
		        "use --token-file FILE\n");
		goto out;
	}
	if (fsb_token_load(tokpath, 1, token, sizeof(token), err, sizeof(err))) {
		fprintf(stderr, "winside: %s\n", err);
		goto out;
	}
	if (!token[0]) {
		fprintf(stderr, "winside: token file %s is empty\n", tokpath);
		goto out;
	}

	/* Listeners before the server: a bad address should fail before
	 * any thread exists. */
	for (i = 0; i < o->nlistens; i++) {
		ls[i].text = o->listens[i];
		if (fsb_addr_parse(o->listens[i], &ls[i].addr, err, sizeof(err))) {
			fprintf(stderr, "winside: --listen %s\n", err);
			goto out;
		}
		r = fsb_net_listen(&ls[i].addr, &ls[i].bound, err, sizeof(err));
		if (r < 0) {
			if (r == -EHOSTUNREACH)
				fprintf(stderr, "winside: listen %s\n", err);
			else
				fprintf(stderr, "winside: listen %s: %s\n", o->listens[i], strerror(-r));
			goto out;
		}
		ls[i].fd = r;
		if (ls[i].bound.kind == 0)
			ls[i].bound = ls[i].addr;
		if (ls[i].addr.kind == FSB_ADDR_TCP && !is_loopback(&ls[i].bound))
			ws_log(WS_LOG_WARN, "%s is not a loopback address: anyone who can reach it and "
			       "knows the token can use the exports; the token is the only protection",
			       o->listens[i]);
	}

	memset(&so, 0, sizeof(so));
	so.exports = exports;
	so.nexports = o->nexports;
	so.token = token;
	so.workers = o->workers ? o->workers : default_workers();
	so.max_handles = o->max_handles;
	so.readonly = o->readonly;
	so.version = PACKAGE_VERSION;
	nbe = 0;        /* the server owns the backends from here, failure included */
	if (ws_server_new(&so, &srv, err, sizeof(err))) {
		fprintf(stderr, "winside: %s\n", err);
		goto out;
	}
	memset(token, 0, sizeof(token));
	/* Modes from clients already carry their umask (the FUSE kernel
	 * applies it); applying ours on top would change them. */
	umask(0);

	for (i = 0; i < o->nexports; i++)
		ws_log(WS_LOG_INFO, "exporting %s%s%s%s", o->exports[i],
		       canon[i] && strcmp(canon[i], o->exports[i]) ? " (" : "",
		       canon[i] && strcmp(canon[i], o->exports[i]) ? canon[i] : "",
		       canon[i] && strcmp(canon[i], o->exports[i]) ? ")" : "");
	ws_log(WS_LOG_INFO, "token file %s%s", tokpath, o->readonly ? "; read-only" : "");
	for (i = 0; i < o->nlistens; i++) {
		fsb_addr_format(&ls[i].bound, text, sizeof(text));
		printf("listening on %s\n", text);
	}
	fflush(stdout);

	pfds[0].fd = sfd;
	pfds[0].events = POLLIN;
	for (i = 0; i < o->nlistens; i++) {
		pfds[i + 1].fd = ls[i].fd;
		pfds[i + 1].events = POLLIN;
	}
	for (;;) {
		r = poll(pfds, o->nlistens + 1, WS_STATS_CHECK_MS);
		if (r == 0) {
			ws_stats_check(&slog, srv, exports);
			continue;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ws_log(WS_LOG_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (pfds[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				break;
			if (si.ssi_signo == SIGUSR1) {
				ws_stats_log_all(&slog, srv, exports);
				continue;
			}
			ws_log(WS_LOG_INFO, "%s: shutting down", strsignal((int)si.ssi_signo));
			break;
		}
		for (i = 0; i < o->nlistens; i++)
			if (pfds[i + 1].revents)
				accept_one(srv, &ls[i]);
		ws_server_reap(srv);
	}
	rc = 0;

out:
	if (ls)
		close_listeners(ls, o->nlistens);
	ws_server_free(srv);
	for (i = 0; i < nbe; i++)
		exports[i].be->ops->destroy(exports[i].be);
	if (canon)
		for (i = 0; i < o->nexports; i++)
			free(canon[i]);
	free(canon);
	free(exports);
	ws_stats_log_release(&slog);
	free(ls);
	free(pfds);
	if (sfd >= 0)
		close(sfd);
	memset(token, 0, sizeof(token));
	return rc;
}

int main(int argc, char **argv)
{
	struct serve_opts o;
	int rc;

	rc = ws_cli_command(argc, argv, main_help, "posix");
	if (rc >= 0)
		return rc;
	memset(&o, 0, sizeof(o));
	rc = parse_serve(argc - 1, argv + 1, &o);
	if (rc == 0)
		rc = serve(&o);
	else if (rc == 1)
		rc = 0;
	free(o.exports);
	free(o.names);
	free(o.listens);
	return rc;
}
