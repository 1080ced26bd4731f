#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 / Ubuntu machine
# (run as root). Safe to run again: it skips what is already present.
set -euo pipefail

# Debian packages the tests drive for real: a busybox userland for test
# rootfs images, peer runtimes and engines, and the tools network tests use.
pkgs=(
	busybox-static   # test root filesystems
	runc             # reference OCI runtime, compared side by side
	podman           # an engine that drives pelagos-runc through --runtime
	netavark         # podman's network backend, bench/network's peer
	aardvark-dns     # netavark's DNS server
	skopeo           # image interop: registry copies, OCI layouts
	umoci            # image interop: OCI layout unpack compared with ours
	docker-registry  # a real registry server (distribution) on 127.0.0.1
	iproute2         # ip netns / veth in network tests
	procps           # ps, pkill in test scripts
	uidmap           # newuidmap/newgidmap for rootless containers
	passt            # pasta: the rootless engine's container networking
	slirp4netns      # its fallback, tested too
	xz-utils
	gcc              # cgo: pelagos-runc links internal/nsenter; the libseccomp benchmark helper
	libc6-dev        # static C library for the static pelagos-runc build
	libseccomp-dev   # libseccomp, the reference the seccomp compiler is compared with
	ca-certificates
	systemd          # systemd-analyze verify checks contrib/systemd's unit files; tests/systemd boots it in a sandbox
	qemu-system-x86    # tests/vm: boots the cgroup v2 VM (TCG)
	linux-image-amd64  # tests/vm: Debian's kernel and modules for that VM
	libdevmapper1.02.1 # tests/dockercmp: a library the unpacked dockerd links
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# An unprivileged user for the rootless tests, with subordinate id ranges
# for newuidmap/newgidmap.
if ! id pelagos-rootless >/dev/null 2>&1; then
	useradd --system --create-home --shell /usr/sbin/nologin pelagos-rootless
fi
grep -q '^pelagos-rootless:' /etc/subuid 2>/dev/null || usermod --add-subuids 300000-365535 pelagos-rootless
grep -q '^pelagos-rootless:' /etc/subgid 2>/dev/null || usermod --add-subgids 300000-365535 pelagos-rootless

# Go tools used by lint, pinned.
export GOBIN="${GOBIN:-$(go env GOPATH)/bin}"
if [ ! -x "$GOBIN/staticcheck" ]; then
	echo "installing staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

# tests/dockercmp compares pelagos's output with a real dockerd: Debian's
# docker.io and containerd, unpacked into the test cache, never installed
# (no maintainer scripts, no service, no docker group, nothing started).
dockerdir="${PELAGOS_TEST_CACHE:-/var/cache/pelagos-test}/docker-20.10"
if [ ! -x "$dockerdir/root/usr/sbin/dockerd" ]; then
	echo "unpacking docker.io and containerd into $dockerdir"
	rm -rf "$dockerdir.tmp"
	mkdir -p "$dockerdir.tmp/debs"
	(cd "$dockerdir.tmp/debs" && { apt-get download -qq docker.io containerd 2>/dev/null ||
		{ apt-get update -qq && apt-get download -qq docker.io containerd; }; })
	for deb in "$dockerdir.tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$dockerdir.tmp/root"; done
	rm -rf "$dockerdir.tmp/debs" "$dockerdir"
	mv "$dockerdir.tmp" "$dockerdir"
fi

# The OCI validation suite (runtime-tools), built once and cached in
# $PELAGOS_TEST_CACHE (default /var/cache/pelagos-test): see docs/TESTING.md.
(cd "$(dirname "$0")/.." && go run ./scripts/ocisuite -build-only)
