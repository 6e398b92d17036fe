#!/bin/bash
# Builds slipway_<version>_amd64.deb (run by the //packaging:deb genrule).
#   build_deb.sh OUT VERSION DEBIAN_DIR SLIPWAY SLIPWAYD MONITOR TOOLS CONF \
#                HELLO_TAR COMPLETION SLIPWAY_1 SLIPWAYD_8 DOC...
# Depends: comes from dpkg-shlibdeps over the four binaries, staged where
# the package installs them (debian/slipway/...) next to a minimal
# debian/control, as in a Debian source tree: the packages that hold the
# shared libraries they link, at the versions their symbols need.
set -euo pipefail

out=$1 version=$2 debian=$3 slipway=$4 slipwayd=$5 monitor=$6 tools=$7 conf=$8 hello=$9
completion=${10} man1=${11} man8=${12}
shift 12

work=$(mktemp -d /tmp/slipway-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/debian/slipway
umask 022

install -D -m 0755 "$slipway" "$root/usr/bin/slipway"
install -D -m 0755 "$slipwayd" "$root/usr/sbin/slipwayd"
install -D -m 0755 "$monitor" "$root/usr/libexec/slipway/slipway-monitor"
# slipway execs it for the verbs that need OpenSSL, cpp-httplib or yaml-cpp
# (service/cli/tool_commands.h).
install -D -m 0755 "$tools" "$root/usr/libexec/slipway/slipway-tools"
strip --strip-unneeded "$root/usr/bin/slipway" "$root/usr/sbin/slipwayd" \
  "$root/usr/libexec/slipway/slipway-monitor" "$root/usr/libexec/slipway/slipway-tools"
install -D -m 0644 "$debian/slipway.service" "$root/lib/systemd/system/slipway.service"
install -D -m 0644 "$conf" "$root/etc/slipway/slipway.yaml"
install -D -m 0644 "$hello" "$root/usr/share/slipway/hello-world.tar"
install -D -m 0644 "$completion" "$root/usr/share/bash-completion/completions/slipway"
install -d -m 0755 "$root/usr/share/man/man1" "$root/usr/share/man/man8"
gzip -9n <"$man1" >"$root/usr/share/man/man1/slipway.1.gz"
gzip -9n <"$man8" >"$root/usr/share/man/man8/slipwayd.8.gz"
chmod 0644 "$root/usr/share/man/man1/slipway.1.gz" "$root/usr/share/man/man8/slipwayd.8.gz"
install -D -m 0644 "$debian/copyright" "$root/usr/share/doc/slipway/copyright"
sed "s/@VERSION@/$version/" "$debian/changelog.in" | gzip -9n >"$root/usr/share/doc/slipway/changelog.gz"
chmod 0644 "$root/usr/share/doc/slipway/changelog.gz"
install -D -m 0644 "$debian/lintian-overrides" "$root/usr/share/lintian/overrides/slipway"
for doc in "$@"; do install -m 0644 "$doc" "$root/usr/share/doc/slipway/"; done

mkdir -p "$root/DEBIAN"
printf 'Source: slipway\n\nPackage: slipway\nArchitecture: amd64\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e debian/slipway/usr/bin/slipway -e debian/slipway/usr/sbin/slipwayd \
  -e debian/slipway/usr/libexec/slipway/slipway-monitor -e debian/slipway/usr/libexec/slipway/slipway-tools \
  2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n "$depends" ]] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  "$debian/control.in" >"$root/DEBIAN/control"
echo /etc/slipway/slipway.yaml >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "$debian/$script" "$root/DEBIAN/$script"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) \
  >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

# Owned by root whoever builds it; reproducible timestamps are dpkg-deb's
# SOURCE_DATE_EPOCH business.
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
