/*
 * ws_events_int.h - the change hub's state, shared by its two files:
 * echo.c (echo expectations, and whose echo each change of a batch is)
 * and events.c (coalescing, fan-out, subscriptions), which calls echo.c
 * and never the other way round. Not for request handlers or backends:
 * they use ws_events.h.
 */
#ifndef WS_EVENTS_INT_H
#define WS_EVENTS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"
#include "ws_backend.h"
#include "ws_hash.h"

/* Sessions one change can be an echo for (several clients writing one
 * file at once); more are simply not tagged. */
#define WS_OWNERS_MAX 4u

struct ws_expect;
struct recent;
struct cslot;

struct xlist {
	struct ws_expect *head;
	struct ws_expect *tail;
};

/* Per-change working state of one batch. */
struct chinfo {
	uint64_t owners[WS_OWNERS_MAX];   /* sorted */
	uint8_t nown;
	uint8_t dropped;                  /* merged into an earlier MODIFIED */
	size_t attr_src;                  /* change whose attributes to send */
};

struct ws_events {
	struct ws_backend *be;
	char *name;                       /* the export, for log lines */

	pthread_mutex_t ctl;
	struct ws_watch *watch;
	unsigned nsubs;

	pthread_mutex_t lock;
	struct ws_evsub *subs;            /* armed subscribers */
	/* Watcher-thread scratch, reused across batches. */
	struct fsb_wbuf wb;
	struct fsb_event *evs;
	size_t evcap;
	struct chinfo *info;
	size_t infocap;
	struct cslot *cmap;
	size_t cmapcap;
	uint64_t cgen;

	pthread_mutex_t xlock;
	struct ws_htab xtab;
	struct xlist names;
	struct xlist content;
	size_t xcount;
	int xfull_warned;
	struct ws_htab rtab;            /* struct recent, also under xlock */
	struct recent *rhead;
	struct recent *rtail;
};

/* echo.c, for events.c */
/* Whose echo each change is: fills hub->info[0..n). Name expectations
 * are consumed here. Takes hub->xlock. */
void ws__echo_match_batch(struct ws_events *hub, const struct ws_change *ch, size_t n);
/* For teardown: free one expectation drained from hub->xtab, and one
 * remembered name. */
void ws__echo_drain_expect(struct ws_hlink *l, void *arg);
void ws__echo_recent_unlink(struct ws_events *hub, struct recent *r);

#endif
