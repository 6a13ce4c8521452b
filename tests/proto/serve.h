/*
 * serve.h - the winside a protocol test talks to: a child process running
 * a winside binary that serves one folder on a unix socket, and that dies
 * with the test (PR_SET_PDEATHSIG) should the test die first.
 */
#ifndef TP_SERVE_H
#define TP_SERVE_H

#include <sys/types.h>

/* Run `bin serve -v --export DIR --listen unix:SOCK --token-file TOKEN`
 * with stdout and stderr on log_fd (which stays the caller's to close).
 * The child's pid, or -1. */
pid_t tp_serve_unix(const char *bin, const char *dir, const char *sock, const char *token_path,
                    int log_fd);

#endif
