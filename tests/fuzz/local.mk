# tests/fuzz: libFuzzer targets. Built with clang and run only by
# `make fuzz` (not part of all/check), so gcc stays the normal compiler.
#   make fuzz                    60 s
#   make fuzz FUZZ_SECONDS=10
# The corpus grows in tests/fuzz/corpus-run/ of the build directory and is
# kept between runs; crash-* files land in the build directory.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I$(top_srcdir)/protocol -include $(top_builddir)/config.h
FUZZ_PROTO_SRC = \
	$(top_srcdir)/protocol/cursor.c \
	$(top_srcdir)/protocol/codec.c \
	$(top_srcdir)/protocol/bodies.c \
	$(top_srcdir)/protocol/resume.c \
	$(top_srcdir)/protocol/names.c
FUZZ_PROTO_HDR = \
	$(top_srcdir)/protocol/fsb_proto.h \
	$(top_srcdir)/protocol/cursor.h \
	$(top_srcdir)/protocol/codec_int.h

EXTRA_DIST += tests/fuzz/fuzz_frame.c

# libFuzzer needs a Linux host; a mingw build has no fuzz target.
if !HOST_MINGW
CLEANFILES += tests/fuzz/fuzz_frame tests/fuzz/fuzz_frame.log

$(builddir)/tests/fuzz/fuzz_frame: $(top_srcdir)/tests/fuzz/fuzz_frame.c \
		$(FUZZ_PROTO_SRC) $(FUZZ_PROTO_HDR) $(top_builddir)/config.h
	@$(MKDIR_P) $(builddir)/tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ \
		$(top_srcdir)/tests/fuzz/fuzz_frame.c $(FUZZ_PROTO_SRC)

# Seed the corpus with one valid frame per message kind, then fuzz. The
# full libFuzzer output goes to the log; the final stats (executions, peak
# RSS) are printed, and on a failure the end of the log with the report.
fuzz: $(builddir)/tests/fuzz/fuzz_frame
	@$(MKDIR_P) $(builddir)/tests/fuzz/corpus-run
	@FSB_FUZZ_WRITE_SEEDS=$(builddir)/tests/fuzz/corpus-run \
		$(builddir)/tests/fuzz/fuzz_frame
	@echo "fuzz_frame: fuzzing for $(FUZZ_SECONDS) s"
	@log=$(builddir)/tests/fuzz/fuzz_frame.log; \
	$(builddir)/tests/fuzz/fuzz_frame -max_total_time=$(FUZZ_SECONDS) \
		-max_len=65536 -print_final_stats=1 \
		$(builddir)/tests/fuzz/corpus-run >$$log 2>&1; \
	rc=$$?; \
	if test $$rc -ne 0; then tail -n 60 $$log; fi; \
	grep -E '^(Done [0-9]+ runs|stat::)' $$log; \
	exit $$rc

.PHONY: fuzz
endif
