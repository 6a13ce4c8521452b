/*
 * event_client.c - a protocol client that prints the EVENT pushes it gets.
 *
 *	event_client ADDR TOKEN_FILE EXPORT SECONDS
 *
 * Connects offering FSB_CAP_EVENTS and FSB_CAP_EVENT_EDGES, prints "caps 0x..." and, if the server
 * did not grant FSB_CAP_EVENTS, "no-events" and exits 77. Otherwise prints
 * "ready", then one line per event for SECONDS seconds:
 *	KIND FLAGS COOKIE PATH
 * (KIND as fsb_event_kind_name, FLAGS as d/e/a/o/w letters or '-'), and exits
 * 0. tests/win32/wine_events.sh reads that transcript.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsb_client.h"
#include "fsb_net.h"
#include "fsb_proto.h"

static void on_event(void *arg, const struct fsb_msg *push)
{
	uint32_t i;

	(void)arg;
	for (i = 0; i < push->u.events.count; i++) {
		const struct fsb_event *e = &push->u.events.events[i];

		printf("%s %c%c%c%c%c %u %.*s\n", fsb_event_kind_name(e->kind),
		       (e->flags & FSB_EVF_DIR) ? 'd' : '-', (e->flags & FSB_EVF_ECHO) ? 'e' : '-',
		       (e->flags & FSB_EVF_ATTR) ? 'a' : '-', (e->flags & FSB_EVF_OUTSIDE) ? 'o' : '-',
		       (e->flags & FSB_EVF_CLOSE_WRITE) ? 'w' : '-', (unsigned)e->cookie,
		       (int)e->path.len, e->path.ptr);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct fsb_client_opts o;
	struct fsb_client *c;
	char tok[FSB_TOKEN_MAX + 1], err[600];
	uint64_t caps;
	int secs;

	if (argc != 5) {
		fprintf(stderr, "usage: event_client ADDR TOKEN_FILE EXPORT SECONDS\n");
		return 2;
	}
	secs = atoi(argv[4]);
	if (fsb_token_load(argv[2], 0, tok, sizeof(tok), err, sizeof(err))) {
		fprintf(stderr, "event_client: %s\n", err);
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.token = tok;
	o.export_path = argv[3];
	o.caps = FSB_CAP_EVENTS | FSB_CAP_EVENT_EDGES;
	o.on_event = on_event;
	if (fsb_client_connect(argv[1], &o, &c, err, sizeof(err))) {
		fprintf(stderr, "event_client: connect %s: %s\n", argv[1], err);
		return 1;
	}
	caps = fsb_client_info(c)->caps;
	printf("caps 0x%llx\n", (unsigned long long)caps);
	if (!(caps & FSB_CAP_EVENTS)) {
		printf("no-events\n");
		fsb_client_close(c);
		return 77;
	}
	printf("ready\n");
	fflush(stdout);
	while (secs-- > 0 && !fsb_client_dead(c))
		sleep(1);
	fsb_client_close(c);
	return 0;
}
