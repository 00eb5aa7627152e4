# Debian packages: included by the top Makefile.
#
#   make deb        build/deb/libnginx-mod-http-caresync_<v>_<arch>.deb
#                   build/deb/caresync-worker_<v>_<arch>.deb
#   make test-deb   installs both on this machine (root), runs a request
#                   through them, purges them (t/deb/install.t)
#
# The version is VERSION's; packaging/debian/changelog must have an entry
# for it.  The tree is copied to build/deb/caresync-<v>/ with
# packaging/debian as debian/, and built there with dpkg-buildpackage, so
# the packages land in build/deb/ and the work tree stays clean.
# DEB_BUILD_OPTIONS=nocheck skips the C unit tests run during the build.

DEB_VERSION := $(shell cat VERSION)
DEB_DIR      = $(BUILD)/deb
DEB_SRC      = $(DEB_DIR)/caresync-$(DEB_VERSION)

.PHONY: deb test-deb

deb:
	@.ci/install-deps build deb
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -SVersion); \
	 [ "$$v" = "$(DEB_VERSION)" ] || { echo "deb: VERSION is $(DEB_VERSION)" \
	   "but packaging/debian/changelog's last entry is $$v: add one with" \
	   "dch -c packaging/debian/changelog -v $(DEB_VERSION)" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	tar -c --exclude=./.git --exclude='./build*' --exclude='./t/servroot*' \
	    --exclude=./packaging/debian . | tar -x -C $(DEB_SRC)
	cp -a packaging/debian $(DEB_SRC)/debian
	@# the unit tests (dh_auto_test) read the seed's fixtures at ../shared
	mkdir -p $(DEB_DIR)/shared && cp -a ../shared/fixtures $(DEB_DIR)/shared/
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	@ls -1 $(DEB_DIR)/*.deb

test-deb: deb
	@.ci/install-deps test
	prove -v t/deb/install.t
