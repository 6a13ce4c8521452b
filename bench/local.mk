# bench: benchmarks, built by `make`, never run by `make check`.
noinst_PROGRAMS += bench/codec_bench
bench_codec_bench_SOURCES = bench/codec_bench.c
bench_codec_bench_LDADD = libfsbproto.a
EXTRA_DIST += bench/README.md
