#!/usr/bin/env bash
# Builds pelagos and runs a container, on a fresh Debian/Ubuntu machine as
# root, with no registry needed: the root filesystem is the host's
# busybox-static, run first by pelagos-runc from an OCI bundle, then imported
# as an image and run by `pelagos run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
if [ "$(id -u)" != 0 ]; then
	echo "run as root: containers need namespaces, mounts and cgroups" >&2
	exit 1
fi
need=()
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || need+=(libc6-dev)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh || need+=(busybox-static)
if ((${#need[@]})); then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

./scripts/build.sh
echo "built: $(ls bin/ | tr '\n' ' ')"

bundle=$(mktemp -d /tmp/pelagos-quickstart.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$applet"
done
bin/pelagos-runc spec --bundle "$bundle"
# A non-interactive process, so the quick start works without a terminal.
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sh", "-c", "echo hello from $(hostname), pid $$, uid $(id -u)"/' "$bundle/config.json"
bin/pelagos-runc run --bundle "$bundle" "quickstart-$$"

# The same root filesystem as an image, run the docker way.
tar -C "$bundle/rootfs" -cf "$bundle/busybox.tar" .
bin/pelagos import -c 'CMD ["/bin/sh"]' "$bundle/busybox.tar" quickstart/busybox >/dev/null
bin/pelagos run --rm quickstart/busybox sh -c 'echo hello from pelagos run in $(hostname)'
