/*
 * serve.c - start the winside of a protocol test and talk raw frames to
 * it; see serve.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "fsb_net.h"
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

int tp_raw_connect(const char *addr)
{
	struct fsb_addr a;
	char err[300];
	int fd;

	if (fsb_addr_parse(addr, &a, err, sizeof(err)))
		return -1;
	fd = fsb_net_connect(&a, err, sizeof(err));
	if (fd < 0)
		fprintf(stderr, "# connect to %s: %s\n", addr, err);
	return fd < 0 ? -1 : fd;
}

int tp_raw_send(int fd, const struct fsb_msg *m)
{
	struct fsb_wbuf wb;
	int rc;

	fsb_wbuf_init(&wb);
	rc = fsb_msg_encode(&wb, m);
	if (!rc)
		rc = fsb_net_write_all(fd, wb.data, wb.len);
	fsb_wbuf_release(&wb);
	return rc ? -1 : 0;
}

int tp_raw_recv(int fd, uint8_t **buf, struct fsb_msg *m)
{
	size_t cap = 0;
	uint32_t len;
	int ferr;

	*buf = NULL;
	if (fsb_net_read_frame(fd, buf, &cap, &len, &ferr) || fsb_msg_decode(*buf, len, m)) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}
