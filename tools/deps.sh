#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install the Debian packages understudy needs, only those missing.
# Idempotent: a second run installs nothing and says so.
#
# etcd (etcd-server, etcd-client) is only ever run by the tests and the lab,
# each its own in a namespace with its own data directory: the service the
# package installs is stopped and disabled, every time this runs.
#
# usage: tools/deps.sh [bench]
#   (none)  what the build, the tests and the lab need
#   bench   also what tools/bench_sip.sh needs: kamailio (the user-space SIP
#           balancer it compares with) and jq. Kamailio is only ever run by
#           the benchmark, inside its namespaces: the service the package
#           installs is stopped and disabled, every time this runs.
set -eu

PKGS="make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev libyaml-dev libjson-c-dev libmicrohttpd-dev scdoc \
prometheus curl sip-tester baresip-core perl \
pkg-config iproute2 ethtool libclang-rt-14-dev \
etcd-server etcd-client libcurl4-openssl-dev openssl"
BENCH_PKGS="kamailio jq"

bench=""
case ${1:-} in
"") ;;
bench) bench=1; PKGS="$PKGS $BENCH_PKGS" ;;
*) echo "usage: tools/deps.sh [bench]" >&2; exit 2 ;;
esac

# no_kamailio_service: the host runs no kamailio of the package's, now or at
# boot (the benchmark starts its own, in a namespace, and stops it)
no_kamailio_service() {
	dpkg-query -W -f='${Status}\n' kamailio 2>/dev/null | grep -q '^install ok installed$' || return 0
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		if systemctl is-enabled --quiet kamailio.service 2>/dev/null ||
			systemctl is-active --quiet kamailio.service 2>/dev/null; then
			systemctl disable --now --quiet kamailio.service
			echo "deps: stopped and disabled the kamailio service"
		fi
	elif [ -x /etc/init.d/kamailio ]; then
		# sysvinit (or no init system at all): stop what the script started,
		# and take it out of the boot sequence
		if [ -s /run/kamailio/kamailio.pid ] &&
			kill -0 "$(cat /run/kamailio/kamailio.pid)" 2>/dev/null; then
			/etc/init.d/kamailio stop >/dev/null 2>&1 || true
			echo "deps: stopped the kamailio service"
		fi
		if command -v update-rc.d >/dev/null && ls /etc/rc[2-5].d/S*kamailio >/dev/null 2>&1; then
			update-rc.d kamailio disable >/dev/null 2>&1 || true
			echo "deps: disabled the kamailio service at boot"
		fi
	fi
	# a kamailio in this network namespace is none of the lab's (those run
	# in namespaces usl-*): say so, leave it alone
	warn_host_process kamailio
}

# warn_host_process NAME: warn of every NAME running in this script's own
# network namespace (not init's: /proc/1/ns is unreadable in some
# containers). A diagnostic: it never fails the run.
warn_host_process() {
	local own pid
	own=$(readlink /proc/self/ns/net 2>/dev/null) || return 0
	for pid in $(pgrep -x "$1" || true); do
		if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$own" ]; then
			echo "deps: warning: $1 (pid $pid) runs on this host, not started by the package's service" >&2
		fi
	done
	return 0
}

# no_etcd_service: the host runs no etcd of the package's, now or at boot
# (tests and the lab start their own, in namespaces, and stop them)
no_etcd_service() {
	dpkg-query -W -f='${Status}\n' etcd-server 2>/dev/null | grep -q '^install ok installed$' || return 0
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		if systemctl is-enabled --quiet etcd.service 2>/dev/null ||
			systemctl is-active --quiet etcd.service 2>/dev/null; then
			systemctl disable --now --quiet etcd.service
			echo "deps: stopped and disabled the etcd service"
		fi
	elif [ -x /etc/init.d/etcd ]; then
		# by its pid: the script's stop would also end every other
		# /usr/bin/etcd, the tests' own included
		pid=$(cat /run/etcd.pid 2>/dev/null || true)
		if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/etcd ]; then
			kill -TERM "$pid" 2>/dev/null || true
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			kill -KILL "$pid" 2>/dev/null || true
			rm -f /run/etcd.pid
			echo "deps: stopped the etcd service"
		fi
		if command -v update-rc.d >/dev/null && ls /etc/rc[2-5].d/S*etcd >/dev/null 2>&1; then
			update-rc.d etcd disable >/dev/null 2>&1 || true
			echo "deps: disabled the etcd service at boot"
		fi
	fi
	# an etcd in this network namespace is none of the tests' (those run in
	# namespaces of their own): say so, leave it alone
	warn_host_process etcd
}

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
else
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
fi
if [ -n "$bench" ] && [ "$(id -u)" = 0 ]; then
	no_kamailio_service
fi
if [ "$(id -u)" = 0 ]; then
	no_etcd_service
fi
exit 0
