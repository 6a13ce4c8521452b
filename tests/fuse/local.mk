# tests/fuse: integration tests on real FUSE mounts (Linux only).
if !HOST_MINGW
TESTS += tests/fuse/smoke.sh tests/fuse/liveness.sh tests/fuse/coherence.sh \
	tests/fuse/reconnect.sh
EXTRA_DIST += tests/fuse/smoke.sh tests/fuse/liveness.sh tests/fuse/coherence.sh \
	tests/fuse/reconnect.sh
endif
