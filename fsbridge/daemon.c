/*
 * daemon.c - see daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int ready_fd = -1;

int fb_daemon_begin(void)
{
	int p[2], status;
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		ready_fd = p[1];
		return 0;
	}

	close(p[1]);
	do {
		n = read(p[0], &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* The child exited (or crashed) before the mount was up. */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			_exit(1);
	}
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	_exit(1);
}

void fb_daemon_ready(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	if (setsid() < 0)
		fb_warn("setsid failed");
	if (chdir("/") < 0)
		fb_warn("chdir / failed");
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	fb_log_use_syslog();
	if (write(ready_fd, "", 1) < 0) {
		/* The parent is gone; nothing to tell. */
	}
	close(ready_fd);
	ready_fd = -1;
}
