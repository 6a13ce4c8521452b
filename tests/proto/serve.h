/*
 * serve.h - the winside a protocol test talks to: a child process running
 * a winside binary that serves one folder on a unix socket, and that dies
 * with the test (PR_SET_PDEATHSIG) should the test die first; and raw
 * frames to it, for what fsb_client will not do (pipelining without
 * waiting, vanishing with requests in flight).
 */
#ifndef TP_SERVE_H
#define TP_SERVE_H

#include <stdint.h>
#include <sys/types.h>

#include "fsb_proto.h"

/* Run `bin serve -v --export DIR --listen unix:SOCK --token-file TOKEN`
 * with stdout and stderr on log_fd (which stays the caller's to close).
 * The child's pid, or -1. */
pid_t tp_serve_unix(const char *bin, const char *dir, const char *sock, const char *token_path,
                    int log_fd);

/* A connected socket to `addr` (fsb_addr_parse's forms), or -1. */
int tp_raw_connect(const char *addr);
/* Encode and send one frame: 0 or -1. */
int tp_raw_send(int fd, const struct fsb_msg *m);
/* Read and decode the next frame into *m: 0, with *buf to free after
 * fsb_msg_release(m), or -1 (nothing to free). */
int tp_raw_recv(int fd, uint8_t **buf, struct fsb_msg *m);

#endif
