#!/bin/sh
# The cross build of `make ARCH=arm64` (on an x86_64 Debian 12 host): installs the host
# packages it needs, only those missing (as scripts/deps.sh does), then builds a private
# arm64 sysroot from Debian's arm64 packages of sonde's libraries, without touching the
# host's dpkg or apt state (no `dpkg --add-architecture`, no arm64 package installed):
# a private apt state in build/apt-arm64 resolves and downloads the packages, and
# `dpkg-deb -x` unpacks them into the sysroot. A stamp keyed on the package list makes a
# second run a no-op.
# Usage: scripts/cross.sh [SYSROOT]   (default build/sysroot-arm64)
set -eu
arch=arm64
triplet=aarch64-linux-gnu
sysroot=${1:-build/sysroot-$arch}
# The -dev packages of the libraries sonde links (the library part of scripts/deps.sh build).
libs="libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev libyaml-dev libcurl4-openssl-dev librdkafka-dev \
	libjson-c-dev libsnappy-dev libhiredis-dev"
# What the cross toolchain already provides (libc6-dev-arm64-cross, linux-libc-dev-arm64-cross):
# never taken from the arm64 archive (the runtime libc6 is, for qemu -L).
provided="libc6-dev linux-libc-dev libc-dev-bin libcrypt-dev"
# The host packages of the cross build (gcc-aarch64-linux-gnu, ...): installed when missing.
"$(dirname "$0")/deps.sh" cross

# Up to date: nothing to do.
stamp=$sysroot/.sonde-sysroot
key="sonde sysroot 2 arch=$arch libs=$(echo $libs) provided=$(echo $provided)"
[ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && exit 0

echo "sonde: building the $arch sysroot $sysroot (Debian's $arch packages, private apt state)"
mkdir -p "$(dirname "$sysroot")"
state=$(cd "$(dirname "$sysroot")" && pwd)/apt-$arch
rm -rf "$state/debs" "$state/status"
mkdir -p "$state/state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$state/apt.conf.d" "$state/log"
# The host's apt configuration (sources, proxies), then ours: arm64 only, a private state,
# and none of the host's hooks (apt update or dpkg hooks that would act on the host).
cp -p /etc/apt/apt.conf.d/* "$state/apt.conf.d/" 2>/dev/null || true
cat >"$state/apt.conf.d/zz-sonde-cross" <<EOF
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
#clear APT::Architectures;
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Dir::State "$state/state";
Dir::State::status "$state/status";
Dir::Cache "$state/cache";
Dir::Log "$state/log";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "srcpkgcache.bin";
APT::Sandbox::User "root";
APT::Get::Upgrade-By-Source-Package "false";
EOF
printf 'Dir::Etc::Parts "%s";\n' "$state/apt.conf.d" >"$state/apt.conf"
APT_CONFIG=$state/apt.conf
export APT_CONFIG
: >"$state/status"
apt-get update -q >/dev/null

# Resolve the closure as apt would install it on an empty arm64 system where the cross
# toolchain's packages are already there (a private status file says so; without
# Upgrade-By-Source-Package=false, installing libc6 would "upgrade" libc6-dev with it).
for p in $provided; do
	apt-cache show --no-all-versions "$p" | grep -E '^(Package|Version|Provides|Multi-Arch):'
	printf 'Status: install ok installed\nArchitecture: %s\n\n' "$arch"
done >>"$state/status"
pkgs=$(apt-get -s install --no-install-recommends $libs |
	sed -n 's/^Inst \([^ :]*\)[^ ]* (\([^ ]*\) .*/\1=\2/p' | sort)
[ -n "$pkgs" ] || { echo "sonde: could not resolve $libs for $arch" >&2; exit 1; }
(cd "$state/debs" && apt-get download -q $pkgs >/dev/null)

rm -rf "$sysroot.tmp"
mkdir -p "$sysroot.tmp"
for deb in "$state"/debs/*.deb; do
	dpkg-deb -x "$deb" "$sysroot.tmp"
done
rm -rf "$sysroot.tmp/usr/share/doc" "$sysroot.tmp/usr/share/man" "$sysroot.tmp/usr/share/info" \
	"$sysroot.tmp/usr/share/locale" "$sysroot.tmp/usr/share/lintian"
# Absolute symlinks (usr/lib/$triplet/libz.so -> /lib/$triplet/libz.so.1.2.13) point into
# the host: make them relative, inside the sysroot.
find "$sysroot.tmp" -type l | while read -r l; do
	t=$(readlink "$l")
	case $t in /*) ln -sfn "$(realpath -s -m --relative-to="$(dirname "$l")" "$sysroot.tmp$t")" "$l" ;; esac
done
echo "$pkgs" >"$sysroot.tmp/.sonde-packages"
rm -rf "$sysroot"
mv "$sysroot.tmp" "$sysroot"
echo "$key" >"$stamp"
echo "sonde: $sysroot: $(echo "$pkgs" | wc -l) packages, $(du -sh "$sysroot" | cut -f1)"
