# winside/win32: the Win32 backend and winside.exe (mingw-w64 builds).
# Name mapping, the error table and hvsock addresses need no windows.h:
# they are built for every host so tests/win32 runs them natively.
WS_W32_CPPFLAGS = $(WS_CORE_CPPFLAGS) -I$(top_srcdir)/winside/win32

noinst_LIBRARIES += libwinside_w32port.a
libwinside_w32port_a_SOURCES = \
	winside/win32/ws_win32_port.h \
	winside/win32/names.c \
	winside/win32/errmap.c \
	winside/win32/hvaddr.c \
	winside/win32/lxmeta.c
libwinside_w32port_a_CPPFLAGS = $(WS_W32_CPPFLAGS)

if HOST_MINGW
# Windows 10 APIs (POSIX delete/rename, FILE_ID_INFO) are declared; each
# is detected at run time, so the binary still starts where one is missing.
WS_W32_WINCPPFLAGS = $(WS_W32_CPPFLAGS) -D_WIN32_WINNT=0x0A00 -DUNICODE -D_UNICODE
WS_W32_LIBS = -lntdll -lws2_32 -lbcrypt

noinst_LIBRARIES += libwinside_win32.a
libwinside_win32_a_SOURCES = \
	winside/win32/ws_win32.h \
	winside/win32/backend_int.h \
	winside/win32/backend.c \
	winside/win32/files.c \
	winside/win32/entries.c \
	winside/win32/reparse.c \
	winside/win32/metadata.c \
	winside/win32/watch.c \
	winside/win32/stream.c \
	winside/win32/listen.c \
	winside/win32/token.c
libwinside_win32_a_CPPFLAGS = $(WS_W32_WINCPPFLAGS)

bin_PROGRAMS += winside/winside
winside_winside_SOURCES = winside/win32/main.c winside/cli.c winside/cli.h
winside_winside_CPPFLAGS = $(WS_W32_WINCPPFLAGS) -I$(top_srcdir)/winside
winside_winside_LDFLAGS = $(WIN_LDFLAGS)
winside_winside_LDADD = libwinside_win32.a libwinside_core.a libwinside_w32port.a \
	libfsbproto.a $(WS_W32_LIBS)
endif
