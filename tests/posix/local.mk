# tests/posix: POSIX behaviour and real tools on fsbridge mounts, compared
# with a native file system (Linux only).
if !HOST_MINGW
check_PROGRAMS += tests/posix/posix_suite
tests_posix_posix_suite_SOURCES = tests/posix/posix_suite.c
tests_posix_posix_suite_LDADD = -lpthread
TESTS += tests/posix/posix.sh tests/posix/tools.sh tests/posix/users.sh tests/posix/config.sh tests/posix/automount.sh \
	tests/posix/bigtree.sh
EXTRA_DIST += tests/posix/posix.sh tests/posix/tools.sh tests/posix/users.sh tests/posix/config.sh \
	tests/posix/automount.sh tests/posix/bigtree.sh tests/posix/lib.sh
endif
