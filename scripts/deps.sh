#!/bin/sh
# Install the Debian packages a make target needs, only those missing; for test and
# bench also the Node.js client libraries the integration tests drive (npm registry).
# Usage: scripts/deps.sh build|test|demo|bench|cross|kernels
set -eu
build="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libmicrohttpd-dev libyaml-dev \
	libcurl4-openssl-dev librdkafka-dev libjson-c-dev libsnappy-dev libhiredis-dev"
test="$build libcmocka-dev libclang-rt-14-dev nginx-light curl wrk prometheus python3 python3-flask procps iproute2 \
	redis-server redis-tools postgresql python3-psycopg2 python3-asyncpg python3-redis librdkafka-dev kcat python3-confluent-kafka \
	nodejs chromium python3-yaml gunicorn"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
demo) want="$build nginx-light curl python3 procps prometheus redis-server postgresql gunicorn python3-flask \
	python3-redis python3-psycopg2 python3-confluent-kafka" ;;
bench) want="$test" ;;
cross) want="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static file" ;; # scripts/cross.sh
kernels) want="qemu-system-x86 qemu-system-arm cpio xz-utils" ;; # scripts/kernels.sh
*) echo "usage: $0 build|test|demo|bench|cross|kernels" >&2; exit 2 ;;
esac

# The versions of tests/integration/node/package-lock.json, into build/node.
npm_clients() {
	dir=build/node
	if cmp -s tests/integration/node/package-lock.json "$dir/package-lock.json" &&
		[ -d "$dir/node_modules" ]; then
		return 0
	fi
	echo "sonde: installing the Node.js test clients (npm ci) into $dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp tests/integration/node/package.json tests/integration/node/package-lock.json "$dir/"
	(cd "$dir" && npm ci --omit=optional --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Debian's nodejs comes without npm, a package of its own; some builds of nodejs carry it.
case " $want " in *" nodejs "*) command -v npm >/dev/null || missing="$missing npm" ;; esac
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "sonde: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "sonde: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
case "${1:-build}" in test | bench) npm_clients ;; esac
