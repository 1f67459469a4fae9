#!/bin/sh
# Installs what frontdesk needs on Debian 12, and only what is missing.
#   scripts/deps.sh        build and run: compiler, libraries
#   scripts/deps.sh test   also the test tools: Node.js + npm packages, Chromium
set -e
cd "$(dirname "$0")/.."

pkgs="build-essential pkg-config libwebsockets-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev libstemmer-dev libssl-dev libargon2-dev"
# the event loop: libev, and lws's plugin for it (loaded when the server starts)
pkgs="$pkgs libev-dev libwebsockets-evlib-ev"
if [ "$1" = "test" ]; then
	pkgs="$pkgs chromium openssl"
	# tests/integration/faults.test.mjs: sqlite3 holds a lock and checks integrity; the
	# file-system faults need mkfs.ext4/e2fsck (e2fsprogs) and mount (util-linux)
	pkgs="$pkgs sqlite3 e2fsprogs"
	# make fuzz: clang and its libFuzzer runtime (only recommended by clang in Debian 12)
	pkgs="$pkgs clang libclang-rt-14-dev valgrind"
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "frontdesk: installing:$missing"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

if [ "$1" = "test" ]; then
	if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/ws ]; then
		echo "frontdesk: installing the test tools from npm (package-lock.json)"
		npm ci --no-audit --no-fund --loglevel=error
	fi
fi
exit 0
