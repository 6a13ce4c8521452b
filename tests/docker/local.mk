# tests/docker: fsbridge mounts used by real containers, on a private
# Docker engine the tests start and stop themselves (Linux only, root).
if !HOST_MINGW
TESTS += tests/docker/containers.sh tests/docker/volume.sh
EXTRA_DIST += tests/docker/containers.sh tests/docker/volume.sh tests/docker/lib.sh
endif
