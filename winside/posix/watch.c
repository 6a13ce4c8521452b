/*
 * watch.c - recursive inotify watcher of one export.
 */
#include "ws_posix.h"
