/*
 * serve.c - start the winside of a protocol test; see serve.h.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "serve.h"

pid_t tp_serve_unix(const char *bin, const char *dir, const char *sock, const char *token_path,
                    int log_fd)
{
	pid_t parent = getpid(), pid;
	char listen[300];

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The parent may have died before the line above took effect. */
	if (getppid() != parent)
		_exit(127);
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	execl(bin, bin, "serve", "-v", "--export", dir, "--listen", listen, "--token-file",
	      token_path, (char *)NULL);
	_exit(127);
}
