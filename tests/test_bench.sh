#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The benchmark tools do what they say (not how fast: that is make bench):
#   trafficgen   refuses bad arguments with a clear message; sends exactly the
#                frames asked, each message of the mix in turn, through a veth
#                pair in a namespace of its own; paces to a rate
#   bench_pps    --check at a modest rate: on its topology every case delivers
#                exactly its copies (1 or 2 per frame) to the receiving machines,
#                and understudy forwards every generated frame as well-formed SIP
#                (none refused, none a retransmission: every call and transaction
#                new), mirroring all of them at 100 % and none at 0 %; its JSON
#                has the keys bench/results/latest.json promises
#   bench_xdp    runs the floor (reading the INVITE once) beside the paths,
#                checks it read every byte, prints each path as a multiple of
#                it, the targets met or missed, and the cost against the
#                INVITE's size and header lines; its JSON has those keys, and
#                tools/bench_xdp.jq merges them into bench_pps's
# Output: PASS name / test:FAIL:name detail; last line "N passed, N failed".
# Exit 0, 1 on a failure, 77 when not root.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tg=$build/trafficgen
ns=ustb$$
run=$(mktemp -d /tmp/understudy-test-bench.XXXXXX)

if [ "$(id -u)" != 0 ]; then
	echo "SKIP test_bench: needs root (namespaces, BPF, XDP)"
	exit 77
fi

cleanup() {
	ip netns del "$ns" 2> /dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check NAME RESULT DETAIL; the passed and failed counts
. "$top/tests/checks.sh"

# refuses: exit code 2 (the arguments) or 1 (the system), and the message names the problem
refuses() {   # name, expected exit code, expected text, arguments...
	local name=$1 rc=$2 text=$3 out got
	shift 3
	out=$("$tg" "$@" 2>&1)
	got=$?
	[ "$got" = "$rc" ] && grep -qF -- "$text" <<< "$out"
	check "trafficgen refuses $name" $? "exit $got, output: $(head -3 <<< "$out")"
}

ip netns add "$ns" || { echo "test:FAIL:setup ip netns add $ns"; exit 1; }
# no IPv6: the kernel's own neighbour discovery would add frames to the count
ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 &&
	echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
ip -n "$ns" link add name ga type veth peer name gb
ip -n "$ns" link set ga up
ip -n "$ns" link set gb up
# a frame redirected into a veth needs XDP or GRO on its peer
ip netns exec "$ns" ethtool -K gb gro on > /dev/null
mac=$(ip -n "$ns" -br link show gb | awk '{print $3}')

refuses "no interface" 2 "-i IFACE, --dmac MAC and -n COUNT or -d SECONDS are required" --dmac "$mac" -n 1
refuses "a bad MAC" 2 '--dmac "zz:00": not a MAC address' -i ga --dmac zz:00 -n 1
refuses "an unknown message" 2 '--mix: unknown message "register"' -N "$ns" -i ga --dmac "$mac" -n 1 -m invite,register
refuses "a repeat count of 0" 2 '"ack:0": the repeat count must be 1..32' -N "$ns" -i ga --dmac "$mac" -n 1 -m invite,ack:0
refuses "a script too long" 2 "more than 32 messages per call" -N "$ns" -i ga --dmac "$mac" -n 1 -m invite:20,bye:20
refuses "an INVITE too small" 2 "--size 100: the INVITE is" -N "$ns" -i ga --dmac "$mac" -n 1 -s 100
refuses "a size out of range" 2 '--size "4000": must be a number in 60..2048' -N "$ns" -i ga --dmac "$mac" -n 1 -s 4000
refuses "an address outside 198.18.0.0/15" 2 "outside 198.18.0.0/15" -N "$ns" -i ga --dmac "$mac" -n 1 --dst 192.0.2.1
refuses "a rate that is no number" 2 '--rate "fast": must be a number' -N "$ns" -i ga --dmac "$mac" -n 1 -r fast
refuses "a missing interface" 1 "interface nosuch0" -N "$ns" -i nosuch0 --dmac "$mac" -n 1
refuses "a missing namespace" 1 "network namespace /run/netns/nosuch-$$" -N "nosuch-$$" -i ga --dmac "$mac" -n 1
refuses "more threads than CPUs" 2 "this machine has CPUs" -N "$ns" -i ga --dmac "$mac" -n 1 -t 64

# exactly the frames asked, the mix in turn, all received by the peer
rx0=$(ip -n "$ns" -s -j link show gb | grep -o '"rx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2)
out=$("$tg" -N "$ns" -i ga --dmac "$mac" -n 7001 -m invite,100,180,200,ack,bye,200bye -s 1000 2>&1)
rc=$?
rx1=$(ip -n "$ns" -s -j link show gb | grep -o '"rx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2)
check "trafficgen sends a mix" $rc "exit $rc: $out"
want="invite 1000 1001
100 314 1000
180 326 1000
200 600 1000
ack 365 1000
bye 365 1000
200bye 358 1000"
got=$(awk 'NR > 2 && NF == 3 {print $1, $2, $3}' <<< "$out")
[ "$got" = "$want" ]
check "trafficgen sends each message of the mix in turn, the INVITE padded to 1000 bytes" $? "got: $got"
grep -q "sent 7001 frames (0 refused by the program), 1000 calls" <<< "$out"
check "trafficgen counts frames and complete calls" $? "$out"
[ $((rx1 - rx0)) = 7001 ]
check "the peer receives every frame" $? "received $((rx1 - rx0)) of 7001"

# paced: 1000 frames at 4000 per second cannot take less than about 0.25 s
out=$("$tg" -N "$ns" -i ga --dmac "$mac" -n 1000 -r 4000 2>&1)
secs=$(sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' <<< "$out")
awk -v s="$secs" 'BEGIN { exit !(s >= 0.24) }'
check "trafficgen paces to its rate" $? "1000 frames at 4000/s took ${secs:-?} s"

# the throughput benchmark's own topology, checked case by case
ip netns list | awk '$1 ~ /^usb/ {print $1}' | sort > "$run/ns.before"
ls -d /sys/fs/bpf/understudy-pps-* 2> /dev/null | sort > "$run/pins.before"
if "$build/bench_xdp" -r 1 -n 2000 -u 200 -j "$run/ns.json" > "$run/bench_xdp.log" 2>&1; then
	check "bench_xdp writes its figures" 0 ""
else
	check "bench_xdp writes its figures" 1 "$(tail -3 "$run/bench_xdp.log")"
fi
log=$run/bench_xdp.log
grep -qE "^floor check: every byte of [1-9][0-9]* frames read once" "$log"
check "bench_xdp's floor reads every byte of its frames once" $? "$(grep -E '^floor|bench:' "$log")"
grep -qE "^path +action +steady ns +spread +x floor +cold ns +spread +x floor$" "$log" &&
	grep -qE "^floor +PASS( +[0-9.]+){2} +1\.00( +[0-9.]+){2} +1\.00$" "$log"
check "bench_xdp prints the floor and an x floor column" $? "$(sed -n '/^path/,/^floor check/p' "$log")"
missing=""
for p in non_service request request_mirrored response_active response_simulation response_plain \
	request_rewritten egress_rewritten answer_built; do
	grep -qE "^$p +[A-Z]+ .* [0-9]+\.[0-9]{2}$" "$log" || missing="$missing $p"
done
[ -z "$missing" ]
check "bench_xdp shows every path as a multiple of the floor" $? "missing:$missing"
missing=""
for t in "request +[0-9.]+ x floor <= +1.50 x floor" "response_active +[0-9.]+ x floor <= +1.50 x floor" \
	"request_mirrored +[0-9.]+ x floor <= +2.00 x floor" "non_service +[0-9.]+ ns +<= +30.00 ns"; do
	grep -qE "^  $t +(met|MISSED)$" "$log" || missing="$missing [$t]"
done
[ -z "$missing" ]
check "bench_xdp says which of issue 14's targets are met" $? "missing:$missing"
missing=""
for r in "ns_by_size +400 +442 +9" "ns_by_size +900 +942 +9" "ns_by_size +1400 +1442 +9" \
	"ns_by_size +4096 +4138 +9 .*\(multi-buffer\)" "ns_by_header_lines +1400 +1442 +9" \
	"ns_by_header_lines +1400 +1442 +16" "ns_by_header_lines +1400 +1442 +32"; do
	grep -qE "^$r" "$log" || missing="$missing [$r]"
done
[ -z "$missing" ] && [ "$(grep -cE '^ns_by_(size|header_lines) .* REDIRECT ' "$log")" = 7 ]
check "bench_xdp prints the cost against size (4096 B multi-buffer) and header lines, forwarded" \
	$? "missing:$missing; $(grep -E '^ns_by' "$log")"
missing=""
for k in floor x_floor x_floor_cold floor_targets floor_frame_bytes ns_by_size ns_by_header_lines \
	'"400"' '"900"' '"1400"' '"4096"' '"9"' '"16"' '"32"' multi_buffer request_action; do
	grep -qE "\"?${k//\"/}\"?: [0-9{\"tf]" "$run/ns.json" || missing="$missing $k"
done
[ -z "$missing" ]
check "bench_xdp's JSON has the floor, the ratios, the targets and both series" $? "missing:$missing"
"$build/bench_pps" -r 1 -n 30000 --rate 300000 --check --ns-json "$run/ns.json" \
	-j "$run/latest.json" > "$run/bench_pps.log" 2>&1
rc=$?
grep -q "check: every case delivered exactly its copies" "$run/bench_pps.log"
check "bench_pps: every case delivers exactly its copies, understudy forwards every frame" \
	$((rc || $?)) "exit $rc: $(grep -E 'check|bench_pps:' "$run/bench_pps.log" | head -8)"
missing=""
for k in xdp_redirect xdp_broadcast understudy_mirror_0 understudy_mirror_100 tc_mirred \
	tc_clone_redirect non_service request request_mirrored response_active \
	response_simulation runs kernel cpu bytes_per_call bytes_per_transaction; do
	grep -qE "\"$k\": [0-9\"]" "$run/latest.json" 2> /dev/null || missing="$missing $k"
done
[ -z "$missing" ]
check "bench_pps writes every key of bench/results/latest.json" $? "missing:$missing"
ip netns list | awk '$1 ~ /^usb/ {print $1}' | sort > "$run/ns.after"
ls -d /sys/fs/bpf/understudy-pps-* 2> /dev/null | sort > "$run/pins.after"
debris=$(comm -13 "$run/ns.before" "$run/ns.after"; comm -13 "$run/pins.before" "$run/pins.after")
[ -z "$debris" ]
check "bench_pps leaves no namespace and no pin behind" $? "$debris"

# tools/deps.sh bench (what make bench runs first) succeeds where /proc/1/ns
# cannot be read, as in some containers: a mount namespace of its own hides it
out=$(unshare -m sh -c 'mount -t tmpfs -o mode=000 none /proc/1/ns && ! readlink /proc/1/ns/net >/dev/null 2>&1 &&
	"$0" bench' "$top/tools/deps.sh" 2>&1)
check "tools/deps.sh bench succeeds with /proc/1/ns unreadable" $? "$(echo "$out" | tail -3 | tr '\n' ' ')"

# tools/bench.sh's merge of bench_xdp's own figures (jq: deps.sh bench above)
jq -s -f "$top/tools/bench_xdp.jq" "$run/latest.json" "$run/ns.json" > "$run/merged.json" 2>&1 &&
	jq -e '.ns_per_packet.floor > 0 and .ns_per_packet.request > 0 and .x_floor.request > 0 and
		.x_floor_cold.answer_built > 0 and (.floor_targets | length) == 4 and
		(.ns_by_size | keys) == ["1400", "400", "4096", "900"] and
		.ns_by_size["4096"].multi_buffer and (.ns_by_header_lines | keys) == ["16", "32", "9"] and
		.pps.xdp_redirect > 0' "$run/merged.json" > /dev/null
check "tools/bench_xdp.jq merges bench_xdp's figures into bench_pps's" $? "$(head -c 300 "$run/merged.json")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
