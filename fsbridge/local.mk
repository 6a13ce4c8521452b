# fsbridge: the FUSE client daemon and its CLI (Linux only).
if !HOST_MINGW
bin_PROGRAMS += fsbridge/fsbridge
fsbridge_fsbridge_SOURCES = \
	fsbridge/main.c \
	fsbridge/mount.c fsbridge/mount.h \
	fsbridge/daemon.c fsbridge/daemon.h \
	fsbridge/options.c fsbridge/options.h \
	fsbridge/session.c fsbridge/session.h \
	fsbridge/resume.c fsbridge/resume.h fsbridge/fhs.c fsbridge/fhs.h \
	fsbridge/readahead.c fsbridge/readahead.h \
	fsbridge/conn.c fsbridge/conn_down.c fsbridge/conn_rx.c fsbridge/conn.h fsbridge/conn_int.h \
	fsbridge/fuse_ops.c fsbridge/fuse_ops.h fsbridge/ops_int.h \
	fsbridge/replay_view.c fsbridge/lazy.c fsbridge/restat.c fsbridge/restat.h fsbridge/dirahead.c fsbridge/dirahead.h fsbridge/clock.h \
	fsbridge/ops_node.c fsbridge/ops_dir.c fsbridge/ops_file.c \
	fsbridge/nodes.c fsbridge/nodes.h \
	fsbridge/dents.c fsbridge/dents.h \
	fsbridge/events.c fsbridge/events.h fsbridge/events_int.h \
	fsbridge/replay.c fsbridge/rescan.c \
	fsbridge/localserver.c fsbridge/localserver.h \
	fsbridge/volume.c fsbridge/volume.h fsbridge/volume_int.h \
	fsbridge/volume_store.c \
	fsbridge/http.c fsbridge/http.h \
	fsbridge/json.c fsbridge/json.h \
	fsbridge/config.c fsbridge/config.h \
	fsbridge/automount.c fsbridge/automount.h \
	fsbridge/log.c fsbridge/log.h
fsbridge_fsbridge_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol/net \
	-DFUSE_USE_VERSION=35
fsbridge_fsbridge_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(LIBUV_CFLAGS)
fsbridge_fsbridge_LDADD = libfsbnet.a libfsbproto.a $(FUSE3_LIBS) $(LIBUV_LIBS) -lpthread

# mount(8) looks for mount.fuse.fsbridge in /sbin; it is this binary.
install-exec-hook: fsbridge-install-mount-helper
uninstall-hook: fsbridge-uninstall-mount-helper
fsbridge-install-mount-helper:
	$(MKDIR_P) $(DESTDIR)$(sbindir)
	ln -sf $(bindir)/fsbridge $(DESTDIR)$(sbindir)/mount.fuse.fsbridge
fsbridge-uninstall-mount-helper:
	rm -f $(DESTDIR)$(sbindir)/mount.fuse.fsbridge
.PHONY: fsbridge-install-mount-helper fsbridge-uninstall-mount-helper
endif

# Manual pages, and the systemd units (bindir filled in) under
# $(systemdunitdir), /usr/lib/systemd/system for a /usr prefix.
if !HOST_MINGW
dist_man_MANS = fsbridge/man/fsbridge.8 fsbridge/man/mount.fuse.fsbridge.8 \
	fsbridge/man/fsbridge.conf.5 winside/man/winside.8
systemdunitdir = $(prefix)/lib/systemd/system
nodist_systemdunit_DATA = fsbridge/systemd/fsbridge-automount.service \
	fsbridge/systemd/fsbridge-volume-plugin.service
dist_systemdunit_DATA = fsbridge/systemd/fsbridge-volume-plugin.socket
EXTRA_DIST += fsbridge/systemd/fsbridge-automount.service.in \
	fsbridge/systemd/fsbridge-volume-plugin.service.in
CLEANFILES += $(nodist_systemdunit_DATA)
fsbridge/systemd/%.service: $(top_srcdir)/fsbridge/systemd/%.service.in
	@$(MKDIR_P) fsbridge/systemd
	$(AM_V_GEN)sed 's|[@]bindir[@]|$(bindir)|g' $< >$@
endif
