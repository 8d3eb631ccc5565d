#!/bin/sh
# `make check-kernels`: boots Debian 12's 6.1 kernels (x86_64 and arm64) under qemu (TCG)
# with a small initramfs (busybox-static, sonde and its shared libraries, tests/kernels/init)
# and runs sonde's self-test inside (on x86_64 twice: as loaded there, then with the programs
# of a kernel without bpf_loop, SONDE_BPF_COMPAT=noloop); the verdict is the line "SONDE-KERNEL-TEST: PASS" or
# "SONDE-KERNEL-TEST: FAIL: reason" of the serial log, build/kernels/<arch>.log.
# Packages: the host's qemu, cpio and xz-utils installed when missing (scripts/deps.sh kernels);
# the kernels (linux-image-6.1.0-NN-<arch>-unsigned, the newest NN) and busybox-static
# downloaded (apt-get download, arm64 through the private apt state of scripts/cross.sh)
# and unpacked under build/kernels/<arch>, never installed.
# Needs build/sonde (x86) and build/arm64/sonde (make ARCH=arm64).
# Usage: scripts/kernels.sh [x86|arm64|ubuntu-5.15|ubuntu-6.8 ...]   (default: x86 arm64)
# ubuntu-5.15 and ubuntu-6.8 (x86_64, opt-in, not in CI): the newest linux-image-unsigned of
# Ubuntu 22.04 and 24.04, downloaded with curl from archive.ubuntu.com, which this machine
# reaches but which is not one of the project's registries (Debian's archive, npm).
# Environment: SONDE_V=-vv (libbpf debug and verifier logs, in build/kernels/<arch>-vv.log;
# default -v, build/kernels/<arch>.log),
# KERNEL_TIMEOUT=600 (seconds per boot; loading the BPF programs takes about 2 minutes
# under TCG on arm64).
set -eu
arches=${*:-x86 arm64}
timeout=${KERNEL_TIMEOUT:-600}
top=$(pwd)
out=build/kernels

"$(dirname "$0")/deps.sh" kernels

# fetch ARCH: build/kernels/ARCH/{vmlinuz,busybox}, from the newest 6.1 kernel package.
fetch() {
	arch=$1 dir=$out/$1
	case $arch in
	x86) debarch=amd64 aptconf="" ;;
	arm64) debarch=arm64 aptconf=$top/build/apt-arm64/apt.conf
		[ -f "$aptconf" ] || { echo "sonde: $aptconf missing: run make ARCH=arm64 first" >&2; return 1; } ;;
	esac
	kpkg=$(env ${aptconf:+APT_CONFIG=$aptconf} apt-cache search --names-only "^linux-image-6\.1\.0-[0-9]+-$debarch-unsigned\$" |
		cut -d' ' -f1 | sort -V | tail -1)
	[ -n "$kpkg" ] || { echo "sonde: no linux-image-6.1.0-*-$debarch-unsigned in the apt lists" >&2; return 1; }
	kver=$(env ${aptconf:+APT_CONFIG=$aptconf} apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')
	key="$kpkg=$kver busybox-static=$(env ${aptconf:+APT_CONFIG=$aptconf} apt-cache policy busybox-static | sed -n 's/^ *Candidate: //p')"
	if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$key" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/busybox" ]; then
		return 0
	fi
	echo "sonde: $arch: downloading $key"
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/x"
	(cd "$dir/debs" && env ${aptconf:+APT_CONFIG=$aptconf} apt-get download -q -o APT::Sandbox::User=root \
		"$kpkg=$kver" busybox-static >/dev/null)
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/x"
	done
	cp "$dir"/x/boot/vmlinuz-* "$dir/vmlinuz"
	cp "$dir"/x/boot/config-* "$dir/config"
	cp "$dir/x/bin/busybox" "$dir/busybox"
	rm -rf "$dir/x"
	echo "$key" >"$dir/.stamp"
}

# fetch_ubuntu ubuntu-5.15|ubuntu-6.8: build/kernels/<it>/vmlinuz, busybox from x86's.
fetch_ubuntu() {
	arch=$1 dir=$out/$1 base=http://archive.ubuntu.com/ubuntu
	case $arch in
	ubuntu-5.15) suite=jammy kv=5.15.0 ;;
	ubuntu-6.8) suite=noble kv=6.8.0 ;;
	esac
	mkdir -p "$dir"
	curl -fsS -m 120 "$base/dists/$suite-updates/main/binary-amd64/Packages.xz" -o "$dir/Packages.xz"
	file=$(xz -dc "$dir/Packages.xz" | awk -v re="^Package: linux-image-unsigned-$kv-[0-9]+-generic\$" \
		'$0 ~ re { p = 1 } p && /^Filename: / { print $2; p = 0 }' | sort -V | tail -1)
	[ -n "$file" ] || { echo "sonde: no linux-image-unsigned-$kv-*-generic in $suite-updates" >&2; return 1; }
	if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$file" ] && [ -f "$dir/vmlinuz" ]; then
		cp "$out/x86/busybox" "$dir/busybox"
		return 0
	fi
	echo "sonde: $arch: downloading $base/$file"
	rm -rf "$dir/x" "$dir/k.deb"
	curl -fsS -m 600 "$base/$file" -o "$dir/k.deb"
	dpkg-deb -x "$dir/k.deb" "$dir/x"
	cp "$dir"/x/boot/vmlinuz-* "$dir/vmlinuz"
	cp "$out/x86/busybox" "$dir/busybox"
	rm -rf "$dir/x" "$dir/k.deb"
	echo "$file" >"$dir/.stamp"
}

# libs ROOT TRIPLET FILE: the shared libraries FILE needs, recursively (readelf -d), as
# paths under ROOT ("" for the host).
libs() {
	root=$1 triplet=$2
	queue=$3 seen=" "
	while [ -n "$queue" ]; do
		f=${queue%% *}
		queue=${queue#"$f"}; queue=${queue# }
		for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $n "*) continue ;; esac
			seen="$seen$n "
			p=""
			for d in lib/$triplet usr/lib/$triplet lib usr/lib; do
				[ -e "$root/$d/$n" ] && { p=$root/$d/$n; break; }
			done
			[ -n "$p" ] || { echo "sonde: $n (needed by $f) not found under ${root:-/}" >&2; return 1; }
			echo "$p"
			queue="$queue${queue:+ }$p"
		done
	done
}

# initramfs ARCH: build/kernels/ARCH/initrd.gz
initramfs() {
	arch=$1 dir=$out/$1
	case $arch in
	x86 | ubuntu-*) sonde=build/sonde root="" triplet=x86_64-linux-gnu ld=/lib64/ld-linux-x86-64.so.2 ;;
	arm64) sonde=build/arm64/sonde root=$top/build/sysroot-arm64 triplet=aarch64-linux-gnu ld=/lib/ld-linux-aarch64.so.1 ;;
	esac
	[ -x "$sonde" ] || { echo "sonde: $sonde missing" >&2; return 1; }
	r=$dir/initramfs
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/lib/$triplet" "$r/usr/lib" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc" "$r/root"
	ln -s bin "$r/sbin"
	ln -s ../bin "$r/usr/bin"
	ln -s ../bin "$r/usr/sbin"
	cp "$dir/busybox" "$r/bin/busybox"
	# The applet list of the same busybox-static version, from the host's copy (x86).
	for applet in $("$out/x86/busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
	done
	cp tests/kernels/init "$r/init"
	cp tests/kernels/redis-pong "$r/bin/redis-pong"
	cp "$sonde" "$r/bin/sonde"
	for l in $(libs "$root" "$triplet" "$sonde"); do
		cp -L "$l" "$r/lib/$triplet/"
	done
	mkdir -p "$r$(dirname "$ld")"
	cp -L "$root$ld" "$r$ld"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	echo "127.0.0.1 localhost" >"$r/etc/hosts"
	(cd "$r" && find . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$dir/initrd.gz"
	echo "sonde: $arch: $dir/initrd.gz $(du -h "$dir/initrd.gz" | cut -f1), $(ls "$r/lib/$triplet" | wc -l) libraries"
}

# boot ARCH: the serial log in build/kernels/ARCH.log; 0 when the verdict is PASS.
boot() {
	arch=$1 dir=$out/$1 log=$out/$1${SONDE_V:-}.log
	append="panic=-1 quiet${SONDE_V:+ sonde.v=$SONDE_V}"
	case $arch in
	x86 | ubuntu-*) set -- qemu-system-x86_64 -m 1024 -smp 1 -append "console=ttyS0 $append sonde.noloop=1" ;;
	arm64) set -- qemu-system-aarch64 -M virt -cpu max -m 1024 -append "console=ttyAMA0 $append" ;;
	esac
	echo "sonde: $arch: booting $(cat "$dir/.stamp" | cut -d' ' -f1) under $1 (TCG), log in $log"
	start=$(date +%s.%N)
	rc=0
	timeout -k 10 "$timeout" "$@" -nographic -no-reboot -nic none -kernel "$dir/vmlinuz" \
		-initrd "$dir/initrd.gz" </dev/null >"$log" 2>&1 || rc=$?
	secs=$(echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}')
	tr -d '\r' <"$log" | grep -E '^SONDE-KERNEL: (\[[a-z]+\] sonde ready|[0-9]+ of)' || true
	v=$(tr -d '\r' <"$log" | grep -a '^SONDE-KERNEL-TEST: ' | tail -1)
	[ "$rc" = 124 ] && v="${v:-SONDE-KERNEL-TEST: FAIL: no verdict, qemu killed after $timeout s}"
	echo "sonde: $arch: ${v:-SONDE-KERNEL-TEST: FAIL: no verdict (qemu exit status $rc)}; boot to poweroff ${secs} s"
	case $v in "SONDE-KERNEL-TEST: PASS"*) return 0 ;; esac
	return 1
}

status=0
for arch_ in $arches; do
	case $arch_ in x86 | arm64 | ubuntu-5.15 | ubuntu-6.8) ;;
	*) echo "usage: $0 [x86|arm64|ubuntu-5.15|ubuntu-6.8 ...]" >&2; exit 2 ;; esac
	fetch x86 # the applet list comes from the x86 busybox
	case $arch_ in ubuntu-*) fetch_ubuntu "$arch_" ;; *) fetch "$arch_" ;; esac
	initramfs "$arch_"
	boot "$arch_" || status=1
done
exit $status
