/*
 * ws_reader.h - a session's reader thread (reader.c), started by
 * ws_server_add (server.c) with the session as its argument. It starts
 * the session's writer, serves the session until its stream ends, tears
 * it down and puts it on the server's list of ended sessions.
 */
#ifndef WS_READER_H
#define WS_READER_H

void *ws__session_reader(void *arg);

#endif
