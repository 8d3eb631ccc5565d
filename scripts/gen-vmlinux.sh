#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h.
#
# Usage: scripts/gen-vmlinux.sh [x86|arm64]
#          from the running kernel's BTF (on a machine of that arch)
#        scripts/gen-vmlinux.sh arm64 --debian [PACKAGE-FILENAME]
#          from the BTF inside Debian bookworm's arm64 kernel image, on any machine:
#          the .deb is fetched from deb.debian.org (its newest linux-image-*-arm64-unsigned
#          unless a pool path is given), the raw BTF blob is cut out of the uncompressed
#          Image by its header (magic 0xeB9F, version 1, 24-byte header; the one whose
#          string section follows its type section) and dumped as C by bpftool.
#
# vmlinux/arm64/vmlinux.h was made by the second form from
# pool/main/l/linux/linux-image-6.1.0-50-arm64-unsigned_6.1.176-1_arm64.deb.
set -eu
arch=${1:-x86}
mkdir -p "vmlinux/$arch"
if [ "${2:-}" != --debian ]; then
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > "vmlinux/$arch/vmlinux.h"
	exit 0
fi
[ "$arch" = arm64 ] || { echo "--debian: arm64 only" >&2; exit 2; }
mirror=http://deb.debian.org/debian
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=${3:-}
if [ -z "$deb" ]; then
	curl -fsS -o "$tmp/Packages.xz" "$mirror/dists/bookworm/main/binary-arm64/Packages.xz"
	deb=$(xz -dc "$tmp/Packages.xz" |
		awk '/^Package: linux-image-[0-9.]+-[0-9]+-arm64-unsigned$/ { p = 1 }
		     p && /^Filename:/ { f = $2; p = 0 } END { print f }')
fi
echo "gen-vmlinux: $deb" >&2
curl -fsS -o "$tmp/k.deb" "$mirror/$deb"
dpkg-deb -x "$tmp/k.deb" "$tmp/x"
/usr/bin/python3 - "$tmp"/x/boot/vmlinuz-* "$tmp/vmlinux.btf" <<'PY'
import struct, sys
img = open(sys.argv[1], 'rb').read()
magic = bytes([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0])
i = img.find(magic)
while i != -1:
    _, _, type_len, str_off, str_len = struct.unpack_from('<IIIII', img, i + 4)
    if str_off == type_len and type_len > 1 << 20:
        open(sys.argv[2], 'wb').write(img[i:i + 24 + type_len + str_len])
        sys.exit(0)
    i = img.find(magic, i + 1)
sys.exit('no BTF blob in ' + sys.argv[1])
PY
bpftool btf dump file "$tmp/vmlinux.btf" format c > "vmlinux/$arch/vmlinux.h"
