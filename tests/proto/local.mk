# tests/proto: transport and client tests. test_ops runs the real winside
# binary once per transport and drives every protocol operation;
# test_resume restarts it to re-attach a client's ids with RESUME.
if !HOST_MINGW
PROTO_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol/net $(CMOCKA_CFLAGS)

check_PROGRAMS += tests/proto/test_addr tests/proto/test_token tests/proto/test_net \
	tests/proto/test_client tests/proto/test_ops tests/proto/test_events \
	tests/proto/test_resume
TESTS += tests/proto/test_addr tests/proto/test_token tests/proto/test_net \
	tests/proto/test_client tests/proto/test_ops tests/proto/test_events \
	tests/proto/test_resume

tests_proto_test_addr_SOURCES = tests/proto/test_addr.c
tests_proto_test_addr_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_proto_test_addr_LDADD = libfsbnet.a $(CMOCKA_LIBS)

tests_proto_test_token_SOURCES = tests/proto/test_token.c
tests_proto_test_token_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_proto_test_token_LDADD = libfsbnet.a $(CMOCKA_LIBS)

tests_proto_test_net_SOURCES = tests/proto/test_net.c
tests_proto_test_net_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_proto_test_net_LDADD = libfsbnet.a libfsbproto.a $(CMOCKA_LIBS)

tests_proto_test_client_SOURCES = tests/proto/test_client.c
tests_proto_test_client_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_proto_test_client_LDADD = libfsbnet.a libfsbproto.a $(CMOCKA_LIBS) -lpthread

tests_proto_test_ops_SOURCES = tests/proto/test_ops.c
tests_proto_test_ops_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_proto_test_ops_LDADD = libfsbnet.a libfsbproto.a $(CMOCKA_LIBS) -lpthread

tests_proto_test_events_SOURCES = tests/proto/test_events.c tests/proto/serve.c \
	tests/proto/serve.h
tests_proto_test_events_CPPFLAGS = $(PROTO_TEST_CPPFLAGS) \
	-DWINSIDE_BIN='"$(abs_top_builddir)/winside/winside"'
tests_proto_test_events_LDADD = libfsbnet.a libfsbproto.a $(CMOCKA_LIBS) -lpthread

tests_proto_test_resume_SOURCES = tests/proto/test_resume.c tests/proto/serve.c \
	tests/proto/serve.h
tests_proto_test_resume_CPPFLAGS = $(PROTO_TEST_CPPFLAGS) \
	-DWINSIDE_BIN='"$(abs_top_builddir)/winside/winside"'
tests_proto_test_resume_LDADD = libfsbnet.a libfsbproto.a $(CMOCKA_LIBS) -lpthread
endif
