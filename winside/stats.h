/*
 * stats.h - winside's log lines about what each export's nodes cost: on
 * SIGUSR1, and by themselves when the number of nodes changed a lot since
 * the last line.
 */
#ifndef WS_STATS_H
#define WS_STATS_H

#include <stddef.h>

#include "ws_server.h"

/* How often main's loop should call ws_stats_check. */
#define WS_STATS_CHECK_MS 10000

struct ws_stats_log {
	size_t *logged;         /* nodes of each export at its last line */
	size_t n;
};

/* 0 or -ENOMEM. */
int ws_stats_log_init(struct ws_stats_log *l, size_t nexports);
void ws_stats_log_release(struct ws_stats_log *l);
/* One line per export (SIGUSR1). */
void ws_stats_log_all(struct ws_stats_log *l, struct ws_server *srv,
                      const struct ws_export *exports);
/* A line for each export whose node count moved by a quarter (and at
 * least WS_STATS_MIN_CHANGE) since its last line. */
void ws_stats_check(struct ws_stats_log *l, struct ws_server *srv,
                    const struct ws_export *exports);

#endif
