/*
 * main.c - the winside.exe command line: the same `serve` command as the
 * POSIX build, with Windows listeners (tcp:, hvsock:) and drvfs-style
 * uid/gid/umask options. Ctrl-C, Ctrl-Break and closing the console all
 * shut the server down cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <windows.h>

#include "cli.h"
#include "fsb_proto.h"
#include "ws_log.h"
#include "ws_server.h"
#include "ws_win32.h"

#define MAX_WORKERS 256u
#define MAX_HANDLES (1u << 20)
#define MAX_LISTENERS (MAXIMUM_WAIT_OBJECTS - 1)

static const char usage_top[] =
	"Usage: winside serve --export DIR --listen ADDR [options]\n"
	"       winside serve --help\n"
	"       winside --help | --version\n"
	"\n"
	"winside is the fsbridge file server: it serves Windows folders to fsbridge\n"
	"clients in WSL 2 (or any Linux machine), which mount them with FUSE.\n"
	"See `winside serve --help`.\n";

static const char usage_serve[] =
	"Usage: winside serve --export DIR [--export DIR...] --listen ADDR [--listen ADDR...]\n"
	"                     [--read-only] [--token-file FILE] [--workers N]\n"
	"                     [--max-handles N] [--uid N] [--gid N] [--umask OCTAL]\n"
	"                     [--no-metadata] [-v]\n"
	"\n"
	"Serve each DIR on each ADDR until Ctrl-C, Ctrl-Break or the console closes.\n"
	"\n"
	"  -e, --export DIR      a folder to serve (repeatable); clients name it as\n"
	"                        written here or by its full path. Clients stay inside\n"
	"                        it: links and junctions are shown as symbolic links\n"
	"                        and never followed, device names (CON, NUL, COM1...)\n"
	"                        and streams (name:stream) never reach Windows.\n"
	"  -l, --listen ADDR     where to accept connections (repeatable):\n"
	"                          hvsock:VMID:PORT  Hyper-V socket for a WSL 2 or other\n"
	"                                            VM; VMID is the VM's GUID or *,\n"
	"                                            children, loopback, parent. Linux\n"
	"                                            connects with vsock:2:PORT.\n"
	"                          tcp:HOST:PORT     TCP; keep HOST a loopback address\n"
	"                                            (127.0.0.1) unless told otherwise.\n"
	"                                            PORT 0 picks a free port.\n"
	"                        Prints \"listening on ADDR\" per listener once all are up.\n"
	"  -r, --read-only       refuse every change with EROFS\n"
	"  -t, --token-file FILE the secret clients must present. Default:\n"
	"                        %FSBRIDGE_TOKEN_FILE%, else\n"
	"                        %USERPROFILE%\\.config\\fsbridge\\token (created with a\n"
	"                        new random token when missing)\n"
	"  -w, --workers N       request threads (default: twice the CPUs, 4 to 64)\n"
	"  -m, --max-handles N   open files per connection (default 4096)\n"
	"  -u, --uid N           owner shown for every file (default 1000)\n"
	"  -g, --gid N           group shown for every file (default 1000)\n"
	"  -k, --umask OCTAL     permission bits to clear (default 022): folders show\n"
	"                        0777 and files 0666 minus the umask; read-only files\n"
	"                        lose their w bits, links are 0777 (as WSL's drvfs)\n"
	"  -n, --no-metadata     do not keep Linux owners and modes. By default, where\n"
	"                        the volume keeps extended attributes (NTFS), chmod\n"
	"                        and chown persist and files a Linux user makes are\n"
	"                        that user's, stored as drvfs's metadata option stores\n"
	"                        them ($LXUID, $LXGID, $LXMOD), so /mnt/c mounted with\n"
	"                        metadata shows the same; the other files show the\n"
	"                        --uid/--gid/--umask values\n"
	"  -v, --verbose         log every request to stderr\n"
	"  -h, --help            show this help\n";

struct options {
	const char *exports[64];
	char names[64][WS_EXPORT_NAME_MAX];     /* each export's name, for automount */
	size_t nexports;
	const char *listens[MAX_LISTENERS];
	size_t nlistens;
	const char *token_file;
	unsigned workers;
	unsigned max_handles;
	struct ws_win32_opts attrs;
	int readonly;
	int verbose;
};

static HANDLE stop_event;
static HANDLE done_event;

/* Runs on a thread the console creates. For a close, logoff or shutdown
 * Windows ends the process once this returns: wait for the clean exit. */
static BOOL WINAPI on_console(DWORD type)
{
	SetEvent(stop_event);
	if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
		WaitForSingleObject(done_event, 5000);
	return TRUE;
}

static int number(const char *opt, const char *s, int base, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v > max || s[0] == '-' || s[0] == '+') {
		fprintf(stderr, "winside: %s %s: expected a%s number up to %lu\n", opt, s,
		        base == 8 ? "n octal" : "", max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int add(const char **arr, size_t *n, size_t max, const char *what, const char *s)
{
	if (*n == max) {
		fprintf(stderr, "winside: at most %zu %s\n", max, what);
		return -1;
	}
	arr[(*n)++] = s;
	return 0;
}

/* 0: serve; 1: done (help), exit 0; 2: usage error. */
static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "export", required_argument, NULL, 'e' },
		{ "listen", required_argument, NULL, 'l' },
		{ "token-file", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-handles", required_argument, NULL, 'm' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "umask", required_argument, NULL, 'k' },
		{ "no-metadata", no_argument, NULL, 'n' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c, bad = 0;

	opterr = 0;
	o->attrs.uid = o->attrs.gid = 1000;
	o->attrs.umask = 022;
	o->attrs.metadata = 1;
	while (!bad && (c = getopt_long(argc, argv, ":e:l:t:w:m:u:g:k:nrvh", longs, NULL)) != -1) {
		switch (c) {
		case 'e': {
			const char *dir;

			bad = o->nexports == 64 ? add(o->exports, &o->nexports, 64, "exports", optarg)
			      : ws_cli_export_arg(optarg, o->names[o->nexports], &dir, o->names,
			                          o->nexports) ||
			        add(o->exports, &o->nexports, 64, "exports", dir);
			break;
		}
		case 'l':
			bad = add(o->listens, &o->nlistens, MAX_LISTENERS, "listeners", optarg);
			break;
		case 't':
			o->token_file = optarg;
			break;
		case 'w':
			bad = number("--workers", optarg, 10, MAX_WORKERS, &v) || v == 0;
			o->workers = v;
			break;
		case 'm':
			bad = number("--max-handles", optarg, 10, MAX_HANDLES, &v) || v == 0;
			o->max_handles = v;
			break;
		case 'u':
			bad = number("--uid", optarg, 10, 0xFFFFFFFEu, &o->attrs.uid);
			break;
		case 'g':
			bad = number("--gid", optarg, 10, 0xFFFFFFFEu, &o->attrs.gid);
			break;
		case 'k':
			bad = number("--umask", optarg, 8, 0777, &o->attrs.umask);
			break;
		case 'n':
			o->attrs.metadata = 0;
			break;
		case 'r':
			o->readonly = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_serve, stdout);
			return 1;
		case ':':
			fprintf(stderr, "winside serve: %s needs a value; see winside serve --help\n",
			        argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "winside serve: unknown option %s; see winside serve --help\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (bad)
		return 2;
	if (optind < argc) {
		fprintf(stderr, "winside serve: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!o->nexports || !o->nlistens) {
		fprintf(stderr, "winside serve: --export DIR and --listen ADDR are required (for "
		        "example --export C:\\src --listen tcp:127.0.0.1:7000); see winside serve "
		        "--help\n");
		return 2;
	}
	return 0;
}

static unsigned default_workers(void)
{
	SYSTEM_INFO si;
	unsigned w;

	GetSystemInfo(&si);
	w = si.dwNumberOfProcessors * 2;
	return w < 4 ? 4 : w > 64 ? 64 : w;
}

/* The canonical form of an export: its full path, as a client on Windows
 * would type it. */
static char *full_path(const char *path)
{
	wchar_t *w = ws__win32_wide(path), *full = NULL;
	char *out = NULL;
	DWORD n;

	if (!w)
		return NULL;
	n = GetFullPathNameW(w, 0, NULL, NULL);
	if (n && (full = malloc((size_t)n * sizeof(wchar_t))) && GetFullPathNameW(w, n, full, NULL) < n &&
	    (out = malloc((size_t)n * 4 + 1)) && ws__win32_utf8(full, -1, out, (size_t)n * 4 + 1) < 0) {
		free(out);
		out = NULL;
	}
	free(full);
	free(w);
	return out;
}

static int serve(struct options *o)
{
	struct ws_win32_listener ls[MAX_LISTENERS];
	struct ws_export ex[64];
	char *canon[64] = { NULL };
	HANDLE waits[1 + MAX_LISTENERS];
	struct ws_server *srv = NULL;
	struct ws_server_opts so;
	char token[FSB_TOKEN_MAX + 1] = "", tokpath[1024], err[1024], peer[128];
	size_t i, nls = 0, nbe = 0;
	DWORD r;
	int rc = 1;

	ws_log_set_level(o->verbose ? WS_LOG_DEBUG : WS_LOG_INFO);
	for (i = 0; i < o->nexports; i++) {
		if (ws_win32_backend_new(o->exports[i], &o->attrs, &ex[i].be, err, sizeof(err))) {
			fprintf(stderr, "winside: export %s: %s\n", o->exports[i], err);
			goto out;
		}
		nbe++;
		canon[i] = full_path(o->exports[i]);
		ex[i].path = o->exports[i];
		ex[i].canonical = canon[i];
		ex[i].name = o->names[i];
	}
	if (o->token_file) {
		snprintf(tokpath, sizeof(tokpath), "%s", o->token_file);
	} else if (ws_win32_token_default_path(tokpath, sizeof(tokpath))) {
		fprintf(stderr, "winside: no token file: neither %%FSBRIDGE_TOKEN_FILE%% nor "
		        "%%USERPROFILE%% is set; use --token-file FILE\n");
		goto out;
	}
	if (ws_win32_token_load(tokpath, 1, token, sizeof(token), err, sizeof(err))) {
		fprintf(stderr, "winside: %s\n", err);
		goto out;
	}
	for (i = 0; i < o->nlistens; i++, nls++) {
		if (ws_win32_listen(o->listens[i], &ls[i], err, sizeof(err))) {
			fprintf(stderr, "winside: listen %s\n", err);
			goto out;
		}
		if (ls[i].nonlocal)
			ws_log(WS_LOG_WARN, "%s is not a loopback address: anyone who can reach it and "
			       "knows the token can use the exports", o->listens[i]);
	}

	memset(&so, 0, sizeof(so));
	so.exports = ex;
	so.nexports = o->nexports;
	so.token = token;
	so.workers = o->workers ? o->workers : default_workers();
	so.max_handles = o->max_handles;
	so.readonly = o->readonly;
	so.version = PACKAGE_VERSION;
	nbe = 0;        /* the server owns the backends now, failure included */
	if (ws_server_new(&so, &srv, err, sizeof(err))) {
		fprintf(stderr, "winside: %s\n", err);
		goto out;
	}
	SecureZeroMemory(token, sizeof(token));
	for (i = 0; i < o->nexports; i++)
		ws_log(WS_LOG_INFO, "exporting %s%s%s%s", o->exports[i], canon[i] ? " (" : "",
		       canon[i] ? canon[i] : "", canon[i] ? ")" : "");
	ws_log(WS_LOG_INFO, "token file %s%s", tokpath, o->readonly ? "; read-only" : "");
	for (i = 0; i < nls; i++)
		printf("listening on %s\n", ls[i].bound);
	fflush(stdout);

	waits[0] = stop_event;
	for (i = 0; i < nls; i++)
		waits[1 + i] = ls[i].ev;
	for (;;) {
		/* The timeout reaps ended sessions even when nobody connects. */
		r = WaitForMultipleObjects(1 + (DWORD)nls, waits, FALSE, 1000);
		if (r == WAIT_OBJECT_0) {
			ws_log(WS_LOG_INFO, "shutting down");
			break;
		}
		if (r == WAIT_FAILED) {
			ws_log(WS_LOG_ERROR, "wait: error %lu", (unsigned long)GetLastError());
			break;
		}
		if (r > WAIT_OBJECT_0 && r <= WAIT_OBJECT_0 + nls) {
			struct ws_win32_listener *l = &ls[r - WAIT_OBJECT_0 - 1];
			SOCKET c;

			while ((c = ws_win32_accept(l, peer, sizeof(peer))) != INVALID_SOCKET) {
				struct ws_stream *st = ws_win32_stream_new(c, peer);

				if (!st)
					ws_log(WS_LOG_ERROR, "connection from %s: out of memory", peer);
				else
					ws_server_add(srv, st);
			}
		}
		ws_server_reap(srv);
	}
	rc = 0;

out:
	for (i = 0; i < nls; i++)
		ws_win32_listener_close(&ls[i]);
	ws_server_free(srv);
	for (i = 0; i < nbe; i++)
		ex[i].be->ops->destroy(ex[i].be);
	for (i = 0; i < o->nexports; i++)
		free(canon[i]);
	SecureZeroMemory(token, sizeof(token));
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	WSADATA wsa;
	int rc;

	rc = ws_cli_command(argc, argv, usage_top, "win32");
	if (rc >= 0)
		return rc;
	/* "listening on ADDR\n" is read by programs: no CRLF translation. */
	_setmode(_fileno(stdout), _O_BINARY);
	memset(&o, 0, sizeof(o));
	rc = parse(argc - 1, argv + 1, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (WSAStartup(MAKEWORD(2, 2), &wsa)) {
		fprintf(stderr, "winside: Winsock is not available\n");
		return 1;
	}
	stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	done_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!stop_event || !done_event || !SetConsoleCtrlHandler(on_console, TRUE)) {
		fprintf(stderr, "winside: cannot install the console handler\n");
		return 1;
	}
	rc = serve(&o);
	SetEvent(done_event);
	WSACleanup();
	return rc;
}
