/*
 * stats.c - see stats.h. The bytes are what the tables allocate, counted
 * by the tables themselves (struct sizes, names, handles, buckets and
 * malloc's per-block overhead), not sampled from the heap: they stay
 * exact under other allocations and are cheap to read. The process's
 * resident size is printed beside them for the whole picture.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "stats.h"
#include "ws_log.h"
#include "ws_posix.h"

/* Smaller swings are not worth a line by themselves. */
#define WS_STATS_MIN_CHANGE 10000u

int ws_stats_log_init(struct ws_stats_log *l, size_t nexports)
{
	l->logged = calloc(nexports ? nexports : 1, sizeof(*l->logged));
	l->n = nexports;
	return l->logged ? 0 : -ENOMEM;
}

void ws_stats_log_release(struct ws_stats_log *l)
{
	free(l->logged);
	l->logged = NULL;
	l->n = 0;
}

/* Resident set size in KiB, 0 if unknown. */
static size_t rss_kib(void)
{
	unsigned long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return 0;
	return (size_t)resident * (size_t)page / 1024;
}

/* The nodes of export i: the backend's (one per object, shared by the
 * sessions) and the sessions' own (one per object per session). */
static size_t export_nodes(struct ws_server *srv, const struct ws_export *ex, size_t i,
                           struct ws_posix_stats *st, struct ws_export_stats *es)
{
	ws_posix_backend_stats(ex->be, st);
	ws_server_export_stats(srv, i, es);
	return st->nodes;
}

static void log_one(struct ws_stats_log *l, struct ws_server *srv, const struct ws_export *ex,
                    size_t i, size_t rss)
{
	struct ws_posix_stats st;
	struct ws_export_stats es;
	size_t nodes = export_nodes(srv, ex, i, &st, &es), total;

	/* Everything that grows with the tree: per node known to a client,
	 * and the watcher's per directory of the export. */
	total = st.bytes + es.bytes + st.watch_bytes;
	ws_log(WS_LOG_INFO, "export %s: %zu nodes (%zu directories), %zu KiB (%zu B a node); "
	       "sessions: %zu, holding %zu nodes, %zu KiB; watcher: %zu directories watched, "
	       "%zu polled, %zu KiB; in all %zu KiB (%zu B a node), resident %zu KiB; "
	       "descriptors: %zu cached of %zu, %zu pinned; re-opened by %s",
	       ex->name ? ex->name : ex->path, nodes, st.dirs, st.bytes >> 10,
	       nodes ? st.bytes / nodes : 0, es.sessions, es.nodes, es.bytes >> 10, st.watched,
	       st.polled, st.watch_bytes >> 10, total >> 10, nodes ? total / nodes : 0, rss,
	       st.fds_cached, st.fds_cap, st.fds_pinned,
	       st.handles ? "file handle" : "parent and name");
	if (i < l->n)
		l->logged[i] = nodes;
}

void ws_stats_log_all(struct ws_stats_log *l, struct ws_server *srv,
                      const struct ws_export *exports)
{
	size_t rss = rss_kib(), i;

	for (i = 0; i < l->n; i++)
		log_one(l, srv, &exports[i], i, rss);
}

void ws_stats_check(struct ws_stats_log *l, struct ws_server *srv,
                    const struct ws_export *exports)
{
	struct ws_posix_stats st;
	struct ws_export_stats es;
	size_t i, nodes, last, diff;

	for (i = 0; i < l->n; i++) {
		nodes = export_nodes(srv, &exports[i], i, &st, &es);
		last = l->logged[i];
		diff = nodes > last ? nodes - last : last - nodes;
		if (diff >= WS_STATS_MIN_CHANGE && diff >= last / 4)
			log_one(l, srv, &exports[i], i, rss_kib());
	}
}
