/*
 * daemon.h - background mode that still reports mount errors.
 *
 * The process forks before doing anything that matters; the parent waits.
 * The child connects, mounts, and only then detaches (setsid, stdio to
 * /dev/null, logs to syslog) and tells the parent, which exits 0. If the
 * child fails first, its error line has already gone to the terminal and
 * the parent exits with the child's status. Forking first means the
 * daemon owns every thread and child process it starts (libuv thread,
 * private winside), which a fork after startup would lose.
 */
#ifndef FB_DAEMON_H
#define FB_DAEMON_H

/* Returns in the child only. Returns -errno if forking failed. */
int fb_daemon_begin(void);
/* In the child, after the mount succeeded. */
void fb_daemon_ready(void);

#endif
