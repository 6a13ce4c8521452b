# tests/unit: one cmocka binary per module, TAP output.
check_PROGRAMS += tests/unit/test_codec
TESTS += tests/unit/test_codec
tests_unit_test_codec_SOURCES = tests/unit/test_codec.c
# cmocka's test signature hands every test a state most of them ignore.
tests_unit_test_codec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -Wno-unused-parameter
tests_unit_test_codec_LDADD = libfsbproto.a $(CMOCKA_LIBS)

if !HOST_MINGW
check_PROGRAMS += tests/unit/test_json
TESTS += tests/unit/test_json
tests_unit_test_json_SOURCES = tests/unit/test_json.c fsbridge/json.c fsbridge/json.h
tests_unit_test_json_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fsbridge
tests_unit_test_json_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_json_LDADD = $(CMOCKA_LIBS)
endif
