# bench/rtt: request round-trip latency against a real winside.
# Run: bench/rtt_bench (from the build directory, after `make`).
if !HOST_MINGW
noinst_PROGRAMS += bench/rtt_bench
bench_rtt_bench_SOURCES = bench/rtt_bench.c
bench_rtt_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol/net
bench_rtt_bench_LDADD = libfsbnet.a libfsbproto.a -lpthread
endif
