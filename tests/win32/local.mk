# tests/win32: Win32 backend unit tests and Wine end-to-end tests.
#
# The portable parts of winside/win32 (names, error table, hvsock
# addresses) are unit-tested natively. The Wine tests drive winside.exe
# from the mingw-w64 build named by $FSB_WIN_BUILDDIR (scripts/test builds
# it first); without it, or without wine, they are skipped with the reason.
if !HOST_MINGW
W32_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/winside/win32 $(CMOCKA_CFLAGS)
W32_TEST_CFLAGS = $(AM_CFLAGS) -Wno-unused-parameter

check_PROGRAMS += tests/win32/test_names tests/win32/test_errmap tests/win32/test_hvaddr \
	tests/win32/test_lxmeta
TESTS += tests/win32/test_names tests/win32/test_errmap tests/win32/test_hvaddr \
	tests/win32/test_lxmeta

tests_win32_test_names_SOURCES = tests/win32/test_names.c
tests_win32_test_names_CPPFLAGS = $(W32_TEST_CPPFLAGS)
tests_win32_test_names_CFLAGS = $(W32_TEST_CFLAGS)
tests_win32_test_names_LDADD = libwinside_w32port.a $(CMOCKA_LIBS)

tests_win32_test_errmap_SOURCES = tests/win32/test_errmap.c
tests_win32_test_errmap_CPPFLAGS = $(W32_TEST_CPPFLAGS)
tests_win32_test_errmap_CFLAGS = $(W32_TEST_CFLAGS)
tests_win32_test_errmap_LDADD = libwinside_w32port.a $(CMOCKA_LIBS)

tests_win32_test_hvaddr_SOURCES = tests/win32/test_hvaddr.c
tests_win32_test_hvaddr_CPPFLAGS = $(W32_TEST_CPPFLAGS)
tests_win32_test_hvaddr_CFLAGS = $(W32_TEST_CFLAGS)
tests_win32_test_hvaddr_LDADD = libwinside_w32port.a $(CMOCKA_LIBS)

tests_win32_test_lxmeta_SOURCES = tests/win32/test_lxmeta.c
tests_win32_test_lxmeta_CPPFLAGS = $(W32_TEST_CPPFLAGS)
tests_win32_test_lxmeta_CFLAGS = $(W32_TEST_CFLAGS)
tests_win32_test_lxmeta_LDADD = libwinside_w32port.a $(CMOCKA_LIBS)

# The Wine tests, and the Linux client the event test reads events with.
check_PROGRAMS += tests/win32/event_client
tests_win32_event_client_SOURCES = tests/win32/event_client.c
tests_win32_event_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol/net
tests_win32_event_client_LDADD = libfsbnet.a libfsbproto.a -lpthread

TESTS += tests/win32/wine_ops.sh tests/win32/wine_mount.sh tests/win32/wine_events.sh \
	tests/win32/wine_reconnect.sh
# The private Wine prefix the tests create on their first run (~700 MB).
clean-local: clean-win32-wineprefix
clean-win32-wineprefix:
	-rm -rf tests/win32/wineprefix tests/win32/wine.lock
.PHONY: clean-win32-wineprefix
EXTRA_DIST += tests/win32/wine_lib.sh tests/win32/wine_ops.sh tests/win32/wine_mount.sh \
	tests/win32/wine_events.sh tests/win32/wine_reconnect.sh
endif

if HOST_MINGW
# wchange.exe: Windows-side changes for tests/win32/wine_events.sh.
noinst_PROGRAMS += tests/win32/wchange
tests_win32_wchange_SOURCES = tests/win32/wchange.c
tests_win32_wchange_CPPFLAGS = $(AM_CPPFLAGS) -DUNICODE -D_UNICODE
tests_win32_wchange_LDFLAGS = $(WIN_LDFLAGS)
endif
