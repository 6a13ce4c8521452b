# tests/unit: one cmocka binary per module, TAP output.
check_PROGRAMS += tests/unit/test_codec
TESTS += tests/unit/test_codec
tests_unit_test_codec_SOURCES = tests/unit/test_codec.c
# cmocka's test signature hands every test a state most of them ignore.
tests_unit_test_codec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -Wno-unused-parameter
tests_unit_test_codec_LDADD = libfsbproto.a $(CMOCKA_LIBS)
