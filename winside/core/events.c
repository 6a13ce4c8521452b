/*
 * events.c - see ws_events.h.
 */
#include "ws_events.h"
