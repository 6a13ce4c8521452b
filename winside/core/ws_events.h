/*
 * ws_events.h - per-export change hub: watcher batches to EVENT frames.
 */
#ifndef WS_EVENTS_H
#define WS_EVENTS_H
#endif
