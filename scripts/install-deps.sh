#!/bin/sh
# Install the Debian packages the test suites need, only those that are missing.
# Runs as root on Debian 12; `apt-get update` at most once.
set -eu
# podman runc debootstrap: the image, its tests and the local base image (crun does not work on
# hosts with hybrid cgroups; --no-install-recommends keeps podman from pulling NetworkManager).
PACKAGES="${*:-iproute2 iputils-ping procps dbus dnsmasq isc-dhcp-client util-linux systemd network-manager chromium podman runc debootstrap}"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d on these machines keeps dnsmasq from starting in the host namespace; make sure.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
