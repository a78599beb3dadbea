#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Soaks (issue 12, deliverable 9; `make soak`, never part of make test):
#
#   kills   the lab (tools/lab.sh) with SIPp calls at --rate, v2-good in
#           simulation (and v2-bad) judged while understudyd is killed with
#           SIGKILL KILLS times at random moments (0.2 to 3 s apart) and
#           restarted each time: zero failed calls at the client, every
#           restart resumes (each machine in the state it had, or in one a
#           transition in the audit trail explains), the audit trail's
#           sequence numbers strictly increasing with no gap and no
#           transition repeated
#   packets build/test_fuzz for PACKETS mutated packets through the data
#           plane (its checks: no XDP_ABORTED, no bad packet cloned, one
#           outcome counted each)
#   config  build/fuzz_config (libFuzzer, ASan, UBSan) for CONFIG_SECONDS
#
# usage: tools/soak.sh [kills|packets|config ...]   (as root; default all three)
# environment: KILLS (100), RATE (200), PACKETS (10000000), CONFIG_SECONDS (3600)
# Prints a line of figures per part and "soak: N passed, N failed".
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
LAB=$TOP/tools/lab.sh
KILLS=${KILLS:-100}
RATE=${RATE:-200}
PACKETS=${PACKETS:-10000000}
CONFIG_SECONDS=${CONFIG_SECONDS:-3600}
passed=0
failed=0
ID=""

[ "$(id -u)" = 0 ] || { echo "soak: needs root" >&2; exit 77; }
pass() { echo "PASS $1: $2"; passed=$((passed + 1)); }
fail() { echo "test:FAIL:$1 $2"; failed=$((failed + 1)); }
cleanup() { [ -n "$ID" ] && "$LAB" down --id "$ID" > /dev/null 2>&1; }
trap cleanup EXIT

lab() { local c=$1; shift; "$LAB" "$c" --id "$ID" "$@"; }
count() { lab counts | awk -F= -v k="$1" '$1 == k { print $2 }'; }
states() { lab ctl --json status 2> /dev/null |
	python3 -c 'import json,sys; [print(m["name"], m["state"]) for m in json.load(sys.stdin)["machines"]]'; }
# the audit trail as "seq machine from to by" lines
audit() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    a = json.loads(l); print(a["seq"], a["machine"], a.get("from", "?"), a["to"], a["by"])' \
	"/run/understudy-lab/$ID/state/audit.log"; }

soak_kills() {
	local i dpid before after trail moved bad="" t0=$SECONDS placed fl unexp ok restarts=0
	ID=sk$$
	if ! lab up --scenario good,bad --policy quick --min-sim 30 --rate "$RATE" --mirror 50 \
		> /tmp/soak-$ID.log 2>&1; then
		fail kills "tools/lab.sh up failed: $(tail -3 /tmp/soak-$ID.log | tr '\n' ' ')"
		return
	fi
	sleep 2
	for ((i = 1; i <= KILLS; i++)); do
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 2.8 * r / 32767 }')"
		before=$(states)
		trail=$(audit | wc -l)
		dpid=$(cat "/run/understudy-lab/$ID/pids/understudyd")
		lab signal understudyd KILL > /dev/null 2>&1
		while [ -e "/proc/$dpid" ] && [ "$(sed 's/.*) //' /proc/$dpid/stat 2> /dev/null | cut -c1)" != Z ]; do
			sleep 0.02
		done
		if ! lab daemon > /dev/null 2>&1; then
			bad="$bad restart-$i-failed"
			break
		fi
		restarts=$((restarts + 1))
		after=$(states)
		# a machine whose state changed must have a transition to it in the
		# audit trail after the lines there were before the kill
		moved=$(audit | tail -n +"$((trail + 1))")
		while read -r m st; do
			[ -z "$m" ] && continue
			if [ "$(echo "$before" | awk -v m="$m" '$1 == m { print $2 }')" != "$st" ] &&
				! echo "$moved" | awk -v m="$m" -v s="$st" '$2 == m && $4 == s { f = 1 } END { exit !f }'; then
				bad="$bad kill-$i:$m-$st-unexplained"
			fi
		done <<< "$after"
	done
	audit > "/tmp/soak-$ID.audit"
	local gaps dups
	gaps=$(awk 'NR > 1 && $1 != prev + 1 { n++ } { prev = $1 } END { print n + 0 }' "/tmp/soak-$ID.audit")
	dups=$(awk '{ k = $2 " " $3 " " $4 } k == last[$2] { n++ } { last[$2] = k } END { print n + 0 }' \
		"/tmp/soak-$ID.audit")
	lab traffic stop > /dev/null 2>&1
	placed=$(count placed) ok=$(count successful) fl=$(count failed) unexp=$(count unexpected)
	local fig="$restarts of $KILLS kills restarted in $((SECONDS - t0)) s; client calls placed $placed, successful $ok, failed $fl, unexpected $unexp; audit lines $(wc -l < /tmp/soak-$ID.audit), sequence gaps $gaps, repeated transitions $dups"
	if [ -z "$bad" ] && [ "$restarts" = "$KILLS" ] && [ "${fl:-x}" = 0 ] && [ "${unexp:-x}" = 0 ] &&
		[ "${ok:-0}" = "${placed:-x}" ] && [ "$gaps" = 0 ] && [ "$dups" = 0 ]; then
		pass kills "$fig"
	else
		fail kills "$fig;${bad:- }"
	fi
	"$LAB" down --id "$ID" > /dev/null 2>&1
	ID=""
}

soak_packets() {
	local out t0=$SECONDS
	out=$(US_FUZZ_ITERS=$PACKETS "$TOP/build/test_fuzz" 2>&1)
	if [ $? = 0 ]; then
		pass packets "$PACKETS packets in $((SECONDS - t0)) s: $(echo "$out" | tail -1)"
	else
		fail packets "$(echo "$out" | grep -E 'FAIL|ABORTED|error' | head -5 | tr '\n' ' ')"
	fi
}

soak_config() {
	local out
	out=$("$TOP/tests/test_fuzz_config.sh" "$CONFIG_SECONDS" 2>&1)
	if [ $? = 0 ]; then pass config "$out"; else fail config "$(echo "$out" | tr '\n' ' ')"; fi
}

parts=${*:-kills packets config}
for p in $parts; do
	case $p in
	kills) soak_kills ;;
	packets) soak_packets ;;
	config) soak_config ;;
	*) echo "soak: unknown part $p (kills, packets, config)" >&2; exit 2 ;;
	esac
done
echo "soak: $passed passed, $failed failed"
[ "$failed" = 0 ]
