#!/bin/sh
# Install the Debian packages the test suites need, only those that are missing.
# Runs as root on Debian 12; `apt-get update` at most once.
set -eu
# podman runc debootstrap: the image, its tests and the local base image (crun does not work on
# hosts with hybrid cgroups; --no-install-recommends keeps podman from pulling NetworkManager).
# polkitd: the polkit rule for resolved/hostnamed is proven against the real one.
# python3-dbus python3-gi: what the real networkd-dispatcher (extracted below) runs on.
# prometheus: promtool checks and unit-tests deploy/prometheus/netevd-rules.yml, and the server
# runs those rules against netevd in a lab namespace (its unit is never started: no systemd
# here, and policy-rc.d below says no).
PACKAGES="${*:-iproute2 iputils-ping procps dbus dnsmasq isc-dhcp-client util-linux systemd polkitd network-manager chromium podman runc debootstrap python3-dbus python3-gi prometheus}"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
updated=""
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    updated=1
    # policy-rc.d on these machines keeps dnsmasq from starting in the host namespace; make sure.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
    case " $missing " in
        # Only its binaries are wanted: a Prometheus started at the next boot of a systemd host
        # would listen on port 9090 (netevd's default) on every address.
        *" prometheus "*) systemctl disable --quiet prometheus.service \
            || echo "warning: could not disable prometheus.service; disable it yourself" >&2 ;;
    esac
fi
[ $# -gt 0 ] && exit 0  # only the packages asked for

# extract PACKAGE[=VERSION] ROOT: a Debian package's files under ROOT, never installed. A package
# the mirror no longer has (an older version) is not fatal: the tests that need it skip, saying so.
extract() {
    if ! (_extract "$1" "$2"); then
        echo "warning: could not extract $1; the tests that need it will skip" >&2
    fi
}

_extract() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1 is not extracted in $2 (run as root)" >&2
        exit 1
    fi
    download=$(mktemp -d)
    chmod 755 "$download"  # apt-get download drops to the _apt user
    chown _apt "$download" 2>/dev/null || true
    if ! (cd "$download" && apt-get download -qq "$1"); then
        [ -n "$updated" ] || apt-get update -qq
        (cd "$download" && apt-get download -qq "$1")
    fi
    mkdir -p "$2"
    dpkg -x "$download"/*.deb "$2"
    rm -rf "$download"
    echo "extracted $1 into $2"
}

# networkd-dispatcher is never installed here (its unit would run on the host): the lab runs
# Debian's script from its package beside the lab's systemd-networkd, to prove that netevd's
# compat.networkd_dispatcher gives scripts what it gives them (lab/daemons/networkd.py).
ndd_root="/var/cache/netevd-lab/networkd-dispatcher"
[ -f "$ndd_root/usr/bin/networkd-dispatcher" ] || extract networkd-dispatcher "$ndd_root"

# systemd-resolved is never installed here: its postinst takes over /etc/resolv.conf. The lab
# (lab/daemons/systemd_services.py) runs the binary from Debian's package of exactly the installed
# systemd's version (it links to that systemd's private library), extracted into a cache.
version=$(dpkg-query -W -f='${Version}' systemd)
resolved_root="/var/cache/netevd-lab/systemd-resolved/$version"
[ -x "$resolved_root/lib/systemd/systemd-resolved" ] \
    || extract "systemd-resolved=$version" "$resolved_root"
