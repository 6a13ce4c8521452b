# bench/events: change-event latency, loss under a burst, and the daemons'
# idle CPU with a large export. Built by `make`, never run by `make check`:
# run bench/events.sh from the build directory (see its header).
if !HOST_MINGW
noinst_PROGRAMS += bench/event_latency
bench_event_latency_SOURCES = bench/event_latency.c
EXTRA_DIST += bench/events.sh bench/watchers.sh
endif
