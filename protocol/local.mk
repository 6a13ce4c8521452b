# protocol: the wire codec, no I/O; built for every host.
noinst_LIBRARIES += libfsbproto.a
libfsbproto_a_SOURCES = \
	protocol/fsb_proto.h \
	protocol/cursor.h \
	protocol/cursor.c \
	protocol/codec_int.h \
	protocol/codec.c \
	protocol/bodies.c \
	protocol/resume.c \
	protocol/names.c
if !HOST_MINGW
libfsbproto_a_SOURCES += protocol/errno_map.c
endif
EXTRA_DIST += protocol/PROTOCOL.md
