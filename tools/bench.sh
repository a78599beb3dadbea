#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# understudy's benchmarks in one run (make bench), as root:
#   1. per-packet cost of each data-plane path   build/bench_xdp (BPF_PROG_TEST_RUN)
#      against the floor (reading the INVITE     and its floor, bpf/floor.bpf.c;
#      once), the INVITE's size and header lines tools/bench_xdp.jq merges them
#   2. SIP capacity: SIPp through understudy     tools/bench_sip.sh (the lab, SIPp,
#      (0 % and 100 % mirrored) and Kamailio's   Debian's kamailio)
#      dispatcher, zero failed calls
#   3. mirroring throughput against XDP, tc      build/bench_pps (trafficgen on live
#      mirred and bpf_clone_redirect; BPF map    XDP frames, namespaces)
#      memory per call and transaction
# and writes every figure to bench/results/latest.json (the previous one is
# compared and kept as previous.json).
#
# usage: tools/bench.sh [--runs N] [--no-sip] [--out FILE]
#   --runs N    runs of each throughput case (default 5; the median is reported)
#   --no-sip    skip the SIP capacity search (about 8 minutes)
#   --out FILE  results file (default bench/results/latest.json)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
RUNS=5
SIP=1
OUT=$TOP/bench/results/latest.json

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=${2:?--runs N}; shift 2 ;;
	--no-sip) SIP=""; shift ;;
	--out) OUT=${2:?--out FILE}; shift 2 ;;
	-h | --help) sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option \"$1\" (tools/bench.sh --help)" ;;
	esac
done
case $RUNS in '' | *[!0-9]* | 0) die "--runs: \"$RUNS\" is not a positive number" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (namespaces, BPF, XDP)"
for b in bench_xdp bench_pps trafficgen; do
	[ -x "$BUILD/$b" ] || die "no $BUILD/$b: run make first"
done
command -v jq > /dev/null || die "no jq: tools/deps.sh bench installs it"

tmp=$(mktemp -d /tmp/understudy-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$OUT")"

# what else runs here skews every figure: say so in the output
if [ "$(cat /proc/sys/kernel/bpf_stats_enabled 2> /dev/null || echo 0)" != 0 ]; then
	echo "bench: warning: kernel.bpf_stats_enabled is on: every BPF program run pays two clock reads"
fi
echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

t0=$SECONDS
echo
echo "==== 1/3 per-packet cost of each data-plane path (build/bench_xdp)"
"$BUILD/bench_xdp" -r 5 -j "$tmp/ns.json"

sip_args=()
if [ -n "$SIP" ]; then
	[ -x "$TOP/tools/bench_sip.sh" ] || die "tools/bench_sip.sh is not there yet: --no-sip"
	echo
	echo "==== 2/3 SIP capacity, zero failed calls (tools/bench_sip.sh)"
	"$TOP/tools/bench_sip.sh" --json "$tmp/sip.json"
	sip_args=(--sip-json "$tmp/sip.json")
fi

echo
echo "==== 3/3 mirroring throughput and map memory (build/bench_pps)"
prev_args=()
if [ -s "$OUT" ]; then
	cp "$OUT" "$tmp/previous.json"
	prev_args=(--previous "$tmp/previous.json")
fi
"$BUILD/bench_pps" -r "$RUNS" --ns-json "$tmp/ns.json" "${sip_args[@]}" "${prev_args[@]}" -j "$OUT"
# bench_pps keeps the paths' costs; the floor, the ratios and the size and
# header-line series are bench_xdp's own
jq -s -f "$TOP/tools/bench_xdp.jq" "$OUT" "$tmp/ns.json" > "$tmp/merged.json"
cp "$tmp/merged.json" "$OUT"
if [ -s "$tmp/previous.json" ]; then cp "$tmp/previous.json" "$(dirname "$OUT")/previous.json"; fi
echo
echo "bench: done in $((SECONDS - t0)) s; results in $OUT"
