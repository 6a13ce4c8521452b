# tests/winside: the winside server core and POSIX backend, run in-process
# on a socketpair and driven with raw frames.
if !HOST_MINGW
WS_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/winside/core -I$(top_srcdir)/winside/posix \
	-I$(top_srcdir)/protocol/net -I$(top_srcdir)/tests/winside $(CMOCKA_CFLAGS)
# cmocka hands every test a state many of them ignore.
WS_TEST_CFLAGS = $(AM_CFLAGS) -Wno-unused-parameter
WS_TEST_LDADD = libwinside_posix.a libwinside_core.a libfsbnet.a libfsbproto.a \
	$(CMOCKA_LIBS) -lpthread

check_PROGRAMS += tests/winside/test_confine tests/winside/test_nodes
TESTS += tests/winside/test_confine tests/winside/test_nodes

tests_winside_test_confine_SOURCES = tests/winside/test_confine.c \
	tests/winside/harness.c tests/winside/harness.h
tests_winside_test_confine_CPPFLAGS = $(WS_TEST_CPPFLAGS)
tests_winside_test_confine_CFLAGS = $(WS_TEST_CFLAGS)
tests_winside_test_confine_LDADD = $(WS_TEST_LDADD)

tests_winside_test_nodes_SOURCES = tests/winside/test_nodes.c \
	tests/winside/harness.c tests/winside/harness.h
tests_winside_test_nodes_CPPFLAGS = $(WS_TEST_CPPFLAGS)
tests_winside_test_nodes_CFLAGS = $(WS_TEST_CFLAGS)
tests_winside_test_nodes_LDADD = $(WS_TEST_LDADD)
endif
