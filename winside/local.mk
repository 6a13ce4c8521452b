# winside: the file server. The core is portable and built for every host
# (mingw-w64 included); the POSIX backend and the CLI only off Windows.
WS_CORE_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/winside/core

noinst_LIBRARIES += libwinside_core.a
libwinside_core_a_SOURCES = \
	winside/core/ws_platform.h \
	winside/core/ws_stream.h \
	winside/core/ws_backend.h \
	winside/core/ws_server.h \
	winside/core/ws_session.h \
	winside/core/ws_dispatch.h \
	winside/core/ws_pool.h \
	winside/core/ws_reader.h \
	winside/core/ws_ops.h \
	winside/core/ws_log.h \
	winside/core/ws_check.h \
	winside/core/ws_hash.h \
	winside/core/ws_nodes.h \
	winside/core/ws_handles.h \
	winside/core/ws_dirlist.h \
	winside/core/ws_events_int.h \
	winside/core/ws_events.h \
	winside/core/ws_owner.h \
	winside/core/log.c \
	winside/core/hash.c \
	winside/core/nodes.c \
	winside/core/handles.c \
	winside/core/dirlist.c \
	winside/core/check.c \
	winside/core/echo.c \
	winside/core/server.c \
	winside/core/pool.c \
	winside/core/session.c \
	winside/core/reader.c \
	winside/core/dispatch.c \
	winside/core/ops_node.c \
	winside/core/ops_file.c \
	winside/core/ops_dir.c \
	winside/core/owner.c \
	winside/core/ops_server.c \
	winside/core/ops_resume.c \
	winside/core/events.c
libwinside_core_a_CPPFLAGS = $(WS_CORE_CPPFLAGS)

if !HOST_MINGW
WS_POSIX_CPPFLAGS = $(WS_CORE_CPPFLAGS) -I$(top_srcdir)/winside/posix \
	-I$(top_srcdir)/protocol/net

noinst_LIBRARIES += libwinside_posix.a
libwinside_posix_a_SOURCES = \
	winside/posix/ws_posix.h \
	winside/posix/backend_int.h \
	winside/posix/backend.c \
	winside/posix/objs.c \
	winside/posix/nodes.c \
	winside/posix/attrs.c \
	winside/posix/files.c \
	winside/posix/entries.c \
	winside/posix/ws_posix_owner.h \
	winside/posix/owner.c \
	winside/posix/stream.c \
	winside/posix/watch_int.h \
	winside/posix/watch_tree.c \
	winside/posix/watch_poll.c \
	winside/posix/watch_batch.c \
	winside/posix/watch_scan.c \
	winside/posix/watch_event.c \
	winside/posix/watch_fan.c \
	winside/posix/watch.c
libwinside_posix_a_CPPFLAGS = $(WS_POSIX_CPPFLAGS)

bin_PROGRAMS += winside/winside
winside_winside_SOURCES = winside/main.c winside/cli.c winside/cli.h winside/stats.c \
	winside/stats.h
winside_winside_CPPFLAGS = $(WS_POSIX_CPPFLAGS)
winside_winside_LDADD = libwinside_posix.a libwinside_core.a libfsbnet.a libfsbproto.a -lpthread
endif
