/*
 * rtt_bench.c - round-trip latency of single protocol requests.
 *
 * Starts winside on a Unix socket over a temporary export (or uses a
 * running server given with --connect), then times PING, LOOKUP, GETATTR
 * and a 4 KiB READ one at a time, so each sample is one full request →
 * server → reply trip with nothing else in flight. Prints a markdown table.
 *
 *   rtt_bench [-n N] [-w WARMUP] [--winside PATH]
 *   rtt_bench --connect ADDR --token-file F --export DIR [-n N] [-w WARMUP]
 *             (DIR must hold a file named rtt-probe.dat of at least 4 KiB)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "fsb_net.h"
#include "fsb_client.h"

#define PROBE "rtt-probe.dat"
#define READ_SIZE 4096u

static pid_t server_pid;
static char tmp_root[64];

static void cleanup(void)
{
	char cmd[128];
	int status;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, &status, 0);
		server_pid = 0;
	}
	if (tmp_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		if (system(cmd) != 0)
			fprintf(stderr, "rtt_bench: could not remove %s\n", tmp_root);
		tmp_root[0] = '\0';
	}
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("rtt_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void default_winside(char *out, size_t n)
{
	const char *top = getenv("top_builddir");
	char self[PATH_MAX];
	ssize_t len;
	char *slash;

	if (top && *top && (size_t)snprintf(out, n, "%s/winside/winside", top) < n)
		return;
	/* This binary lives in $top_builddir/bench. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, n, "%s/../winside/winside", self) < n)
				return;
		}
	}
	snprintf(out, n, "winside/winside");
}

/* Start winside and return the address it printed in "listening on". */
static void start_server(const char *bin, const char *dir, const char *token_file,
                         const char *listen, char *addr, size_t addrlen)
{
	const char *argv[] = { bin, "serve", "--export", dir, "--listen", listen,
	                       "--token-file", token_file, NULL };
	struct pollfd p;
	char line[512];
	size_t used = 0;
	pid_t parent = getpid();
	ssize_t r;
	int pfd[2];
	char *nl;

	if (access(bin, X_OK) != 0)
		die("winside not found at %s (%s); build it or pass --winside PATH", bin, strerror(errno));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	server_pid = fork();
	if (server_pid < 0)
		die("fork: %s", strerror(errno));
	if (server_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(pfd[1], STDOUT_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	for (;;) {
		if (poll(&p, 1, 20000) <= 0)
			die("winside printed no \"listening on\" line within 20 s");
		r = read(pfd[0], line + used, sizeof(line) - 1 - used);
		if (r <= 0)
			die("winside exited before it was listening");
		used += (size_t)r;
		line[used] = '\0';
		nl = strchr(line, '\n');
		if (!nl) {
			if (used == sizeof(line) - 1)
				die("winside printed an overlong line");
			continue;
		}
		*nl = '\0';
		if (!strncmp(line, "listening on ", 13)) {
			if ((size_t)snprintf(addr, addrlen, "%s", line + 13) >= addrlen)
				die("winside printed an overlong address");
			break;
		}
		used -= (size_t)(nl + 1 - line);
		memmove(line, nl + 1, used + 1);
	}
	/* pfd[0] stays open for the server's lifetime: it may print more,
	 * and a closed pipe would turn that into EPIPE. */
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct op_setup {
	const char *name;
	struct fsb_msg req;
};

/* One call of `o`; returns its round trip in ns. */
static uint64_t time_one(struct fsb_client *c, const struct op_setup *o)
{
	struct fsb_reply *rep;
	struct fsb_msg m = o->req;
	uint64_t t0, dt;
	int rc;

	t0 = now_ns();
	rc = fsb_client_call(c, &m, &rep);
	dt = now_ns() - t0;
	if (rc)
		die("%s failed: %s (%s)", o->name, fsb_strerror(rc), fsb_client_error(c));
	if (o->req.op == FSB_OP_READ && fsb_reply_msg(rep)->u.read_rep.data.len != READ_SIZE)
		die("READ returned %u bytes, want %u", fsb_reply_msg(rep)->u.read_rep.data.len, READ_SIZE);
	fsb_reply_free(rep);
	return dt;
}

static void percentiles(uint64_t *samples, unsigned n, double *median, double *p99)
{
	qsort(samples, n, sizeof(samples[0]), cmp_u64);
	*median = (double)samples[n / 2] / 1000.0;
	*p99 = (double)samples[(size_t)n * 99 / 100] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: rtt_bench [-n N] [-w WARMUP] [--winside PATH]\n"
	        "       rtt_bench --connect ADDR --token-file F --export DIR [-n N] [-w WARMUP]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *connect_to = NULL, *token_file = NULL, *export_dir = NULL;
	char bin[PATH_MAX] = "", dir[128], tokpath[128], listen[160], addr[300], err[600];
	char token[FSB_TOKEN_MAX + 1];
	struct fsb_client_opts opts = { 0 };
	struct op_setup ops[4];
	struct fsb_client *c;
	struct fsb_reply *rep;
	struct fsb_msg m;
	struct fsb_forget_item fi;
	uint64_t *samples, probe_node, fh;
	unsigned n = 20000, warm = 1000, i, k, nops;
	double med, p99;
	int fd, rc;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < (unsigned)argc)
			n = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-w") && i + 1 < (unsigned)argc)
			warm = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--winside") && i + 1 < (unsigned)argc)
			snprintf(bin, sizeof(bin), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--connect") && i + 1 < (unsigned)argc)
			connect_to = argv[++i];
		else if (!strcmp(argv[i], "--token-file") && i + 1 < (unsigned)argc)
			token_file = argv[++i];
		else if (!strcmp(argv[i], "--export") && i + 1 < (unsigned)argc)
			export_dir = argv[++i];
		else
			usage();
	}
	if (n == 0 || (connect_to && (!token_file || !export_dir)))
		usage();
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);

	if (connect_to) {
		snprintf(addr, sizeof(addr), "%s", connect_to);
		if (fsb_token_load(token_file, 0, token, sizeof(token), err, sizeof(err)))
			die("%s", err);
	} else {
		char probe[200], data[READ_SIZE * 4];

		if (!bin[0])
			default_winside(bin, sizeof(bin));
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/fsb-rtt-XXXXXX");
		if (!mkdtemp(tmp_root))
			die("mkdtemp: %s", strerror(errno));
		snprintf(dir, sizeof(dir), "%s/export", tmp_root);
		snprintf(tokpath, sizeof(tokpath), "%s/token", tmp_root);
		snprintf(listen, sizeof(listen), "unix:%s/rtt.sock", tmp_root);
		snprintf(probe, sizeof(probe), "%s/" PROBE, dir);
		if (mkdir(dir, 0755) < 0)
			die("mkdir %s: %s", dir, strerror(errno));
		memset(data, 'r', sizeof(data));
		fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data))
			die("writing %s: %s", probe, strerror(errno));
		close(fd);
		if (fsb_token_load(tokpath, 1, token, sizeof(token), err, sizeof(err)))
			die("%s", err);
		start_server(bin, dir, tokpath, listen, addr, sizeof(addr));
		export_dir = dir;
	}

	opts.token = token;
	opts.export_path = export_dir;
	rc = fsb_client_connect(addr, &opts, &c, err, sizeof(err));
	if (rc)
		die("%s", err);

	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.u.name.parent = fsb_client_info(c)->root.node;
	m.u.name.name.ptr = PROBE;
	m.u.name.name.len = (uint32_t)strlen(PROBE);
	if ((rc = fsb_client_call(c, &m, &rep)))
		die("LOOKUP %s: %s", PROBE, fsb_strerror(rc));
	probe_node = fsb_reply_msg(rep)->u.entry.node;
	fsb_reply_free(rep);
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_OPEN;
	m.u.open.node = probe_node;
	m.u.open.flags = FSB_O_RDONLY;
	if ((rc = fsb_client_call(c, &m, &rep)))
		die("OPEN %s: %s", PROBE, fsb_strerror(rc));
	fh = fsb_reply_msg(rep)->u.open_rep.fh;
	fsb_reply_free(rep);

	memset(ops, 0, sizeof(ops));
	ops[0].name = "PING";
	ops[0].req.op = FSB_OP_PING;
	ops[1].name = "LOOKUP";
	ops[1].req.op = FSB_OP_LOOKUP;
	ops[1].req.u.name.parent = fsb_client_info(c)->root.node;
	ops[1].req.u.name.name.ptr = PROBE;
	ops[1].req.u.name.name.len = (uint32_t)strlen(PROBE);
	ops[2].name = "GETATTR";
	ops[2].req.op = FSB_OP_GETATTR;
	ops[2].req.u.node.node = probe_node;
	ops[3].name = "READ 4 KiB";
	ops[3].req.op = FSB_OP_READ;
	ops[3].req.u.io.fh = fh;
	ops[3].req.u.io.size = READ_SIZE;
	nops = 4;

	samples = malloc(sizeof(*samples) * n * nops);
	if (!samples)
		die("out of memory");
	printf("rtt over %s, server \"%s\", %u samples after %u warm-up, one request in flight\n\n",
	       addr, fsb_client_info(c)->server, n, warm);
	printf("| op | median µs | p99 µs |\n|---|---:|---:|\n");
	/* Round-robin over the ops, so that drift (CPU frequency, a noisy
	 * neighbour) lands on every row alike instead of on whichever op ran
	 * during it. */
	for (k = 0; k < warm; k++)
		for (i = 0; i < nops; i++)
			(void)time_one(c, &ops[i]);
	for (k = 0; k < n; k++)
		for (i = 0; i < nops; i++)
			samples[(size_t)i * n + k] = time_one(c, &ops[i]);
	for (i = 0; i < nops; i++) {
		percentiles(samples + (size_t)i * n, n, &med, &p99);
		printf("| %s | %.1f | %.1f |\n", ops[i].name, med, p99);
	}
	free(samples);

	/* Give back the references the LOOKUPs took, one for the setup LOOKUP
	 * plus one per timed or warm-up LOOKUP. */
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_RELEASE;
	m.u.fh.fh = fh;
	if ((rc = fsb_client_call(c, &m, &rep)))
		fprintf(stderr, "rtt_bench: RELEASE: %s\n", fsb_strerror(rc));
	fsb_reply_free(rep);
	fi.node = probe_node;
	fi.nlookup = 1 + (uint64_t)warm + n;
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_FORGET;
	m.u.forget.count = 1;
	m.u.forget.items = &fi;
	fsb_client_call(c, &m, &rep);
	fsb_client_close(c);
	return 0;
}
