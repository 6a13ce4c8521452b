# tests/fuse: integration tests on real FUSE mounts (Linux only).
if !HOST_MINGW
TESTS += tests/fuse/smoke.sh tests/fuse/liveness.sh tests/fuse/coherence.sh
EXTRA_DIST += tests/fuse/smoke.sh tests/fuse/liveness.sh tests/fuse/coherence.sh
endif
