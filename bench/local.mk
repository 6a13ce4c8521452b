# bench: benchmarks, built by `make`, never run by `make check`.
noinst_PROGRAMS += bench/codec_bench
bench_codec_bench_SOURCES = bench/codec_bench.c
bench_codec_bench_LDADD = libfsbproto.a
EXTRA_DIST += bench/README.md

# bench/run: fsbridge side by side with a bind mount, bindfs and sshfs on a
# generated node_modules tree (needs root; see bench/README.md). Never part
# of `make check`; `make bench-smoke` runs its quick mode (under 2 minutes).
EXTRA_DIST += bench/run bench/fsops.c bench/gentree.js bench/storm.js
EXTRA_DIST += bench/npm/package.json bench/npm/package-lock.json \
	bench/npm/quick/package.json bench/npm/quick/package-lock.json
if !HOST_MINGW
bench-smoke: fsbridge/fsbridge winside/winside
	$(top_srcdir)/bench/run --quick --build $(abs_top_builddir)
.PHONY: bench-smoke
endif
