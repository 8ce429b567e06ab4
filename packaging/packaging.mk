# Packages, included by the top-level Makefile (it also works on its own:
# make -f packaging/packaging.mk deb).
#
#   make deb   Debian package from packaging/debian/ with dpkg-buildpackage:
#              build/deb/libapache2-mod-pvlaunch_<version>_<arch>.deb
#   make rpm   RPM from packaging/rpm/mod_pvlaunch.spec with rpmbuild:
#              build/rpm/mod_pvlaunch-<version>-<release>.<arch>.rpm and the .src.rpm
#
# Both build from a copy of the working tree (the files in PKG_SOURCES,
# committed or not), never from the checkout itself, so nothing is written
# outside $(BUILD). The version is the one of packaging/debian/changelog; the
# spec's Version must agree (tests/integration/test_100_packaging.py checks).

ifndef PVL_PACKAGING_MK
PVL_PACKAGING_MK := 1

BUILD ?= build

# What a package build needs from the tree (not build/, .git, tests, web...).
PKG_SOURCES = $(wildcard Makefile mod_pvlaunch.cpp src conf packaging scripts \
	README.md SECURITY.md LICENSE* COPYING*)
PKG_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' packaging/debian/changelog)
PKG_UPSTREAM := $(firstword $(subst -, ,$(PKG_VERSION)))

# A copy of PKG_SOURCES in directory $(1).
pkg_stage = rm -rf $(1) && mkdir -p $(1) && \
	tar -cf - --exclude=__pycache__ --exclude='*.pyc' $(PKG_SOURCES) | tar -C $(1) -xf -

# The Debian packages these targets need (scripts/ensure-deps.sh deb|rpm).
pkg_deps = sh scripts/ensure-deps.sh $(1)

DEB_DIR := $(BUILD)/deb

.PHONY: deb rpm

# dpkg-buildpackage writes its results next to the source tree: build/deb.
# Unsigned (-us -uc), binary packages only (-b).
deb:
	@$(call pkg_deps,deb)
	rm -rf $(DEB_DIR)
	$(call pkg_stage,$(DEB_DIR)/src)
	cp -R packaging/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -Jauto
	rm -rf $(DEB_DIR)/src
	@ls -1 $(DEB_DIR)/*.deb

# rpmbuild in its own _topdir, from a tarball of the tree as Source0 expects
# (mod_pvlaunch-<version>/...). On a system whose rpm database does not list
# the BuildRequires (Debian's rpm package), --nodeps: they are checked as
# Debian packages instead (ensure-deps.sh). On an RPM distribution,
# make rpm RPM_NODEPS= checks them.
RPM_DIR    := $(BUILD)/rpm
RPM_NODEPS ?= $(if $(wildcard /etc/debian_version),--nodeps)

rpm:
	@$(call pkg_deps,rpm)
	rm -rf $(RPM_DIR)
	mkdir -p $(RPM_DIR)/SOURCES $(RPM_DIR)/SPECS
	$(call pkg_stage,$(RPM_DIR)/mod_pvlaunch-$(PKG_UPSTREAM))
	tar -C $(RPM_DIR) -czf $(RPM_DIR)/SOURCES/mod_pvlaunch-$(PKG_UPSTREAM).tar.gz \
		mod_pvlaunch-$(PKG_UPSTREAM)
	rm -rf $(RPM_DIR)/mod_pvlaunch-$(PKG_UPSTREAM)
	cp packaging/rpm/mod_pvlaunch.spec $(RPM_DIR)/SPECS/
	rpmbuild -ba $(RPM_NODEPS) --define "_topdir $(abspath $(RPM_DIR))" \
		$(RPM_DIR)/SPECS/mod_pvlaunch.spec
	cp $(RPM_DIR)/RPMS/*/*.rpm $(RPM_DIR)/SRPMS/*.src.rpm $(RPM_DIR)/
	@ls -1 $(RPM_DIR)/*.rpm

endif
