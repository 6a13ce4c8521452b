# tests/fuse: integration tests on real FUSE mounts (Linux only).
if !HOST_MINGW
TESTS += tests/fuse/smoke.sh
EXTRA_DIST += tests/fuse/smoke.sh
endif
