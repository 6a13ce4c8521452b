# protocol/net: transports, token file and the blocking client (POSIX only;
# the Windows server gets its own transport layer).
if !HOST_MINGW
noinst_LIBRARIES += libfsbnet.a
libfsbnet_a_SOURCES = \
	protocol/net/fsb_net.h \
	protocol/net/fsb_client.h \
	protocol/net/net_internal.h \
	protocol/net/fail.c \
	protocol/net/addr.c \
	protocol/net/net_posix.c \
	protocol/net/token.c \
	protocol/net/client.c
libfsbnet_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol/net
endif
