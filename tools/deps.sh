#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install the Debian packages understudy needs, only those missing.
# Idempotent: a second run installs nothing and says so.
set -eu

PKGS="make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev libyaml-dev libjson-c-dev libmicrohttpd-dev scdoc \
prometheus curl sip-tester \
pkg-config iproute2 ethtool"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; installing them needs root" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed$missing"
