# tests/events: change-event conformance and real watcher clients.
#
# evrec prints the inotify events of a tree; conformance.sh compares what a
# watcher of an fsbridge mount sees with what a watcher of the backing dir
# sees, clients.sh runs real watchers (chokidar, webpack --watch, fs.watch),
# watchers.sh 50 recorders in mount namespaces of their own on one burst.
# fanotify.sh runs conformance.sh's parts 1, 3 and 4 against winside's
# fanotify watcher (root only).
# Both accept EVENTS_TARGET=bind, which checks the harness on a plain bind
# mount where every event must match (see their headers).
if !HOST_MINGW
check_PROGRAMS += tests/events/evrec
tests_events_evrec_SOURCES = tests/events/evrec.c
TESTS += tests/events/conformance.sh tests/events/clients.sh tests/events/watchers.sh \
	tests/events/fanotify.sh
EXTRA_DIST += tests/events/conformance.sh tests/events/clients.sh tests/events/watchers.sh \
	tests/events/fanotify.sh \
	tests/events/lib.sh tests/events/evcmp.awk \
	tests/events/watch-chokidar.js tests/events/watch-fs.js
endif
