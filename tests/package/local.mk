# tests/package: the Debian package built, installed, used and removed.
if !HOST_MINGW
TESTS += tests/package/deb.sh
EXTRA_DIST += tests/package/deb.sh
endif

# make deb: the package, in the build dir (phony: it always rebuilds).
deb: FORCE
	$(top_srcdir)/scripts/deb $(abs_top_builddir)
FORCE:
