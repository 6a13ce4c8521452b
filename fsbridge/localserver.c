/*
 * localserver.c - see localserver.h.
 */
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsb_net.h"
#include "localserver.h"
#include "log.h"

#define READY_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 5000

/* out = a + b; -ENAMETOOLONG rather than a silently cut path. */
static int path_cat(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* $FSBRIDGE_WINSIDE, then next to our own binary (installed side by side),
 * then ../winside/winside (the build tree), then PATH. */
static int find_winside(char *out, size_t len)
{
	const char *env = getenv("FSBRIDGE_WINSIDE");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return is_executable(out) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (path_cat(out, len, self, "/winside") == 0 && is_executable(out))
				return 0;
			if (path_cat(out, len, self, "/../winside/winside") == 0 &&
			    is_executable(out))
				return 0;
		}
	}
	snprintf(out, len, "winside");  /* execvp searches PATH */
	return 0;
}

static void *relay_thread(void *arg)
{
	struct fb_local *l = arg;
	FILE *f = fdopen(l->out_fd, "r");
	char line[1024];

	pthread_setname_np(pthread_self(), "fb-relay");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		fb_info("winside: %s", line);
	}
	fclose(f);
	l->out_fd = -1;
	return NULL;
}

static void child_exec(const char *bin, const char *export_dir, struct fb_local *l,
                       int out_fd, pid_t parent)
{
	sigset_t none;

	/* Dies with the daemon even if the daemon cannot clean up. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
		_exit(127);
	{
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			if (devnull > STDERR_FILENO)
				close(devnull);
		}
	}
	execlp(bin, bin, "serve", "--export", export_dir, "--listen", l->addr,
	       "--token-file", l->token_path, (char *)NULL);
	fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Read winside's output until it says "listening on". Lines before that
 * are probably the reason it fails, so they go to our stderr. */
static int wait_ready(struct fb_local *l, const char *bin, char *err, size_t errlen)
{
	uint64_t deadline = fb_mono_ms() + READY_TIMEOUT_MS;
	char buf[4096];
	size_t have = 0;

	for (;;) {
		struct pollfd pfd = { .fd = l->out_fd, .events = POLLIN };
		uint64_t now = fb_mono_ms();
		char *nl;
		ssize_t n;
		int rc;

		if (now >= deadline) {
			snprintf(err, errlen, "private winside (%s) did not start listening within %d s",
			         bin, READY_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		n = read(l->out_fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int status = 0;

			waitpid(l->pid, &status, 0);
			l->pid = -1;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				snprintf(err, errlen, "cannot run winside (%s); set FSBRIDGE_WINSIDE "
				         "to its path", bin);
			else if (WIFEXITED(status))
				snprintf(err, errlen, "private winside (%s) exited with status %d",
				         bin, WEXITSTATUS(status));
			else
				snprintf(err, errlen, "private winside (%s) was killed by signal %d",
				         bin, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			return -ECHILD;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (!strncmp(buf, "listening on", 12))
				return 0;
			fb_info("winside: %s", buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;       /* an endless line: drop it */
	}
}

int fb_local_start(struct fb_local *l, const char *export_dir, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char bin[PATH_MAX], why[512];
	int pipefd[2], rc;
	pid_t parent = getpid();

	memset(l, 0, sizeof(*l));
	l->pid = -1;
	l->out_fd = -1;
	if (find_winside(bin, sizeof(bin)) < 0) {
		snprintf(err, errlen, "FSBRIDGE_WINSIDE=%s is not an executable file", bin);
		return -ENOENT;
	}

	snprintf(l->dir, sizeof(l->dir), "%s/fsbridge.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(l->dir)) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a private directory in %s: %s",
		         tmp && *tmp ? tmp : "/tmp", strerror(errno));
		l->dir[0] = '\0';
		return rc;
	}
	if (path_cat(l->sock, sizeof(l->sock), l->dir, "/sock") < 0 ||
	    path_cat(l->token_path, sizeof(l->token_path), l->dir, "/token") < 0 ||
	    path_cat(l->addr, sizeof(l->addr), "unix:", l->sock) < 0 ||
	    strlen(l->sock) >= 108) {
		snprintf(err, errlen, "socket path %s is too long for a Unix socket", l->sock);
		rc = -ENAMETOOLONG;
		goto out_dir;
	}
	rc = fsb_token_load(l->token_path, 1, l->token, sizeof(l->token), why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		goto out_dir;
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out_dir;
	}
	l->pid = fork();
	if (l->pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot start winside: fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		goto out_dir;
	}
	if (l->pid == 0)
		child_exec(bin, export_dir, l, pipefd[1], parent);
	close(pipefd[1]);
	l->out_fd = pipefd[0];

	rc = wait_ready(l, bin, err, errlen);
	if (rc < 0)
		goto out_stop;
	fb_dbg("private winside %d serving %s on %s", (int)l->pid, export_dir, l->addr);

	if (pthread_create(&l->relay, NULL, relay_thread, l) == 0)
		l->relay_started = 1;
	return 0;

out_stop:
	fb_local_stop(l);
	return rc;
out_dir:
	fb_local_stop(l);
	return rc;
}

void fb_local_stop(struct fb_local *l)
{
	if (l->pid > 0) {
		uint64_t deadline = fb_mono_ms() + STOP_TIMEOUT_MS;
		int status;

		kill(l->pid, SIGTERM);
		while (waitpid(l->pid, &status, WNOHANG) == 0) {
			if (fb_mono_ms() >= deadline) {
				fb_warn("private winside %d ignores SIGTERM; killing it", (int)l->pid);
				kill(l->pid, SIGKILL);
				waitpid(l->pid, &status, 0);
				break;
			}
			usleep(10000);
		}
		l->pid = -1;
	}
	if (l->relay_started) {
		pthread_join(l->relay, NULL);
		l->relay_started = 0;
	} else if (l->out_fd >= 0) {
		close(l->out_fd);
		l->out_fd = -1;
	}
	if (l->dir[0]) {
		unlink(l->sock);
		unlink(l->token_path);
		if (rmdir(l->dir) < 0 && errno != ENOENT)
			fb_warn("cannot remove %s: %s", l->dir, strerror(errno));
		l->dir[0] = '\0';
	}
}
