#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# Usage: scripts/gen-vmlinux.sh [x86|arm64]   (must run on a machine of that arch)
set -eu
arch=${1:-x86}
mkdir -p "vmlinux/$arch"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "vmlinux/$arch/vmlinux.h"
