#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# understudy: the lab demonstration (make demo [SCENARIO=good|bad|slow]).
#
# Builds the lab (tools/lab.sh): a client, the balancer, two version-1
# machines and one version-2 machine in network namespaces, with SIP user
# agents that keep dialog state as real servers do (see MACHINES below).
# Starts understudyd, starts the calls, and shows the version-2 machine
# being mirrored, judged, and promoted (good) or rejected (bad: 503 to one
# INVITE in a hundred; slow: answers twice as slowly). Then prints the judge's
# explanation, the audit trail and SIPp's summary, and tears the lab down.
#
# Exit 0 when the machine was promoted (good) or rejected (bad, slow) and no
# call failed at the client (good: nor at any machine, none answered 481 or
# saw an unexpected message); 1 otherwise; 2 on bad usage. A decision must
# come within DEMO_LIMIT seconds (default 180). DEMO_RATE (calls/s, default
# 200) and DEMO_MIRROR (percent, default 50) change the traffic;
# DEMO_MACHINE_SW (tools/lab.sh --machine-sw) the machines' software.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
LAB=$TOP/tools/lab.sh
SCENARIO=${1:-good}
LIMIT=${DEMO_LIMIT:-180}
RATE=${DEMO_RATE:-200}
MIRROR=${DEMO_MIRROR:-50}
ID=demo$$
V2=v2-$SCENARIO
case $SCENARIO in good) V2ADDR=198.18.1.11 ;; bad) V2ADDR=198.18.1.12 ;; *) V2ADDR=198.18.1.13 ;; esac
# the demo policy of tools/lab.sh (--policy demo)
MIN_PAIRED=500 MIN_SECONDS=20 WINDOWS=3

# MACHINES: the machines' SIP software (tools/lab.sh --machine-sw).
#   real: baresip, a real softphone, on v1-a and on the good version 2;
#         strict SIPp (exact To-tags, 200 repeated until ACKed) on v1-b and
#         on the bad and slow versions 2, which are SIPp scenarios; SIPp
#         answers in 1 ms, as fast as baresip
#   sipp: strict SIPp on version 1; the good and slow versions 2 in
#         simulation run the lenient scenario (tools/lab/uas-lenient.xml),
#         for a balancer that clones the caller's ACK and BYE unchanged, with
#         the active machine's To-tag, which a real server answers 481
MACHINES=real
case $MACHINES in
real)
	case ${1:-good} in good) SW=baresip,v1-b=sipp ;; *) SW=v1-a=baresip ;; esac
	ANSWER_MS=1 ;;
*)
	SW=v2-good=sipp-lenient,v2-slow=sipp-lenient
	ANSWER_MS=20 ;;
esac
SW=${DEMO_MACHINE_SW:-$SW}

case $SCENARIO in
good) expect=active ;;
bad | slow) expect=rejected ;;
*) echo "usage: tools/demo.sh [good|bad|slow]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, BPF, XDP)" >&2
	exit 1
fi

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
note() { printf '    %s\n' "$@"; }
lab() { local c=$1; shift; "$LAB" "$c" --id "$ID" "$@"; }

torn=""
# shellcheck disable=SC2317 # run by the EXIT trap
teardown() {
	[ -n "$torn" ] && return
	torn=1
	say "Tearing the lab down (namespaces, XDP programs and pins, SIPp, understudyd)"
	"$LAB" down --id "$ID" | sed 's/^/    /'
}
trap teardown EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM

# row NAME: the machine's line of "understudyctl status":
# MACHINE SERVICE VERSION STATE FOR REQ/S ERR% P50ms P99ms PAIRED STREAK DIFF% CTLDIFF% VERDICT
row() { awk -v m="$1" '$1 == m' "$STATUS_FILE"; }
field() { row "$1" | awk -v i="$2" '{print $i}'; }
snapshot() { lab ctl status > "$STATUS_FILE" 2> /dev/null; }
show_status() { sed 's/^/    /' "$STATUS_FILE"; }

# labs of earlier demonstrations killed outright (their pid is gone)
for id in $("$LAB" list); do
	case $id in
	demo[0-9]*) kill -0 "${id#demo}" 2> /dev/null || "$LAB" down --id "$id" > /dev/null 2>&1 ;;
	esac
done

t_start=$SECONDS
case $SCENARIO in
good) what="a good version 2: it answers every call as version 1 does" ;;
bad) what="a bad version 2: it answers one INVITE in a hundred with 503 Service Unavailable" ;;
slow) what="a slow version 2: it answers every request twice as slowly as version 1" ;;
esac
say "understudy lab demonstration, scenario \"$SCENARIO\": $what"
note "Two version-1.0 machines (v1-a, v1-b) serve the calls of a SIP service behind a balancer." \
	"A version-2.0 machine ($V2) joins in simulation: XDP on the balancer clones ${MIRROR} % of the" \
	"calls to it, whole, and drops its answers, so no caller ever hears it. understudyd compares" \
	"its answers with version 1's on the same calls, every second, and promotes or rejects it."

say "Building the lab: network namespaces joined by veth pairs, SIP user agents on every end"
note "client 198.18.0.1 --veth-- [cli] balancer [mach] --veth-- switch (bridge) -- v1-a 198.18.1.1" \
	"                                                                      -- v1-b 198.18.1.2" \
	"                                                                      -- $V2 $V2ADDR" \
	"Every machine holds the service address (VIP) 198.18.100.1 and answers on port 5060" \
	"(machine software: $SW; tools/lab.sh help and docs/lab.md say what each does)."
lab up --scenario "$SCENARIO" --rate "$RATE" --mirror "$MIRROR" --policy demo --no-daemon --no-traffic \
	--machine-sw "$SW" --answer-ms "$ANSWER_MS" 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "demo: the lab did not come up" >&2; exit 1; }
STATUS_FILE=/run/understudy-lab/$ID/demo-status
SOCK=/run/understudy-lab/$ID/understudyd.sock

say "Starting understudyd in the balancer's namespace"
note "It loads the XDP programs, attaches us_client to cli and us_machine to mach, writes the" \
	"service's tables into the BPF maps (pinned in /sys/fs/bpf/understudy-lab-$ID) and opens its socket."
lab daemon 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "demo: understudyd did not start" >&2; exit 1; }
snapshot
show_status
note "No calls yet: $V2 is in simulation, with nothing to judge."

say "The client starts calling: $RATE calls per second (INVITE, 100, 180, 200, ACK, BYE, 200)"
lab traffic start 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "demo: the client did not start" >&2; exit 1; }
note "Calls are spread over v1-a and v1-b, sticky per Call-ID; ${MIRROR} % of them are also cloned to $V2." \
	"Its answers are timed and paired with the active machine's at the balancer, then dropped." \
	"Joining condition (demo policy): at least $MIN_PAIRED paired transactions and $MIN_SECONDS s in simulation," \
	"no more class disagreement or errors than allowed, latency p50/p99 within 1.2x of version 1," \
	"all of it in $WINDOWS windows in a row. A clearly worse version is rejected at once."

t_traffic=$SECONDS
state=simulation
last_full=-100
while :; do
	sleep 1
	snapshot
	state=$(field "$V2" 4)
	el=$((SECONDS - t_traffic))
	if [ "$state" != simulation ]; then break; fi
	if [ $el -ge "$LIMIT" ]; then break; fi
	paired=$(field "$V2" 10) streak=$(field "$V2" 11) verdict=$(field "$V2" 14)
	req=$(field "$V2" 6) err=$(field "$V2" 7) p50=$(field "$V2" 8)
	v1p50=$(awk '$1 == "sip" && $2 == "1.0" {print $6}' "$STATUS_FILE")
	case $paired in '' | -) paired=0 ;; esac
	case $streak in '' | -) streak=0 ;; esac
	insim=$(field "$V2" 5 | tr -dc 0-9)
	if [ "$req" = - ] || [ -z "$req" ]; then
		why="waiting for the first window with calls"
	elif [ "$paired" -lt $MIN_PAIRED ]; then
		why="gathering evidence: $paired of the $MIN_PAIRED pairs it needs at least"
	elif [ "${insim:-0}" -lt $MIN_SECONDS ]; then
		why="enough pairs; ${insim:-0} of the $MIN_SECONDS s in simulation it needs at least"
	elif [ "$streak" -gt 0 ]; then
		why="every criterion passed: $streak of the $WINDOWS windows in a row it needs"
	else
		why="enough evidence; the sequential tests are not yet confident"
	fi
	printf '    %3ds  %s %s: %s req/s mirrored, %s paired, errors %s %%, p50 %s ms (version 1: %s ms), %s: %s\n' \
		"$el" "$V2" "$state" "$req" "$paired" "$err" "$p50" "${v1p50:--}" "$verdict" "$why"
	if [ $((el - last_full)) -ge 10 ]; then
		show_status
		last_full=$el
	fi
done
t_decision=$((SECONDS - t_traffic))
show_status

if [ "$state" = active ]; then
	say "$V2 was promoted after ${t_decision} s of traffic: it joined the active machines"
	note "The judge found it as good as version 1 on $(field "$V2" 10) paired transactions, in $WINDOWS windows in a row." \
		"The maps were rewritten: it now takes its share of new calls; calls in progress stay where they are," \
		"and v1-a and v1-b keep serving. Watching a few more seconds:"
	sleep 6
	snapshot
	show_status
	note "REQ/S of $V2 is now its share of the callers' requests; it answers them for real."
elif [ "$state" = rejected ]; then
	say "$V2 was rejected after ${t_decision} s of traffic, on $(field "$V2" 10) paired transactions"
	note "A criterion failed with confidence, so no more evidence was needed. Nothing is mirrored to it" \
		"any more (its REQ/S drops to 0); the callers never received one of its answers."
	sleep 3
	snapshot
	show_status
else
	say "No decision on $V2 within $LIMIT s (state: ${state:-unknown})"
fi

say "Why: understudyctl explain $V2 (the last judgement, criterion by criterion)"
lab ctl explain "$V2" | sed 's/^/    /'

say "The disagreements the data plane sampled: understudyctl diffs 8"
note "(Call-ID, method, each side's final code and answer time; an empty table: none seen)"
lab ctl diffs 8 | sed 's/^/    /'

say "The audit trail: understudyctl events"
lab ctl events | sed 's/^/    /'

say "Stopping the calls (calls in progress finish); what every user agent counted"
lab traffic stop 2>&1 | sed 's/^/    /'
lab summary | sed -n '2,$p' | sed 's/^/  /'
counts=$(lab counts)
get() { echo "$counts" | sed -n "s/^$1=//p"; }
failed=$(get failed) unexpected=$(get unexpected) placed=$(get placed)
# the machines in the dialogs: a 481 or an unexpected message on any of them
n481=$(echo "$counts" | awk -F= '$1 ~ /\.sent481$/ && $2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }')
nunexp=$(echo "$counts" | awk -F= '$1 ~ /^v.*\.unexpected$/ && $2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }')
nfail=$(echo "$counts" | awk -F= '$1 ~ /^v.*\.failed$/ && $2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }')
note "" "By hand, while a lab runs: understudyctl --socket $SOCK status --watch 1," \
	"tools/lab.sh up / status / down (see tools/lab.sh help)."

rc=0
say "Result"
if [ "$state" = "$expect" ]; then
	note "$V2: $state, as expected for the \"$SCENARIO\" scenario ($t_decision s after the calls started)."
else
	note "$V2: ${state:-unknown}, but the \"$SCENARIO\" scenario expects $expect."
	rc=1
fi
if [ "$failed" = 0 ] && [ "$unexpected" = 0 ] && [ "${placed:-0}" != 0 ] && [ "$placed" != - ]; then
	note "The client placed $placed calls: none failed, no unexpected message (no simulation answer reached it)."
else
	note "The client placed ${placed:-?} calls: ${failed:-?} failed, ${unexpected:-?} on an unexpected message (expected 0)."
	rc=1
fi
if [ "$SCENARIO" = good ]; then
	if [ "$n481" = 0 ] && [ "$nunexp" = 0 ] && [ "$nfail" = 0 ]; then
		note "No machine failed a call, answered 481 or saw an unexpected message: every one followed its dialogs."
	else
		note "The machines failed $nfail calls, answered $n481 requests 481 and saw $nunexp unexpected messages" \
			"(expected 0): requests named a dialog the machine did not know, or came out of turn."
		rc=1
	fi
fi
note "Total time: $((SECONDS - t_start)) s."
if [ $rc = 0 ]; then note "demo: PASS"; else note "demo: FAIL"; fi
exit $rc
