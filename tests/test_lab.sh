#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The lab (tools/lab.sh) for real: namespaces, SIPp on every end, the real
# daemon on the real data plane, with a small policy so that it decides fast.
#
#   good:      v2-good (answers as version 1) is promoted; afterwards it takes
#              new calls while v1-a and v1-b keep serving
#   bad,slow:  v2-bad (503 to 1 % of INVITEs) and v2-slow (2x slower) are
#              rejected and never promoted; nothing is mirrored to them after
#   both:      the client's SIPp (UAC) saw no failed call and no unexpected
#              message; the lab is gone after "down" (namespaces, pins,
#              processes), and a second "down" is harmless
#
# Output: PASS name / test:FAIL:name what actual X expected Y; last line
# "N passed, N failed". Exit 0, 1 on a failure, 77 when not root.
# TEST_LAB_VERBOSE=1 prints the daemon's status and explanations.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
LAB=$TOP/tools/lab.sh
RATE=${TEST_LAB_RATE:-300}
LIMIT=60                        # seconds allowed for a decision
IDS=""
passed=0
failed=0
t0=$SECONDS

if [ "$(id -u)" != 0 ]; then
	echo "SKIP test_lab: needs root (network namespaces, BPF, XDP)"
	exit 77
fi

# labs of earlier runs killed outright (their pid is gone)
for id in $("$LAB" list); do
	case $id in
	tl[0-9]*[gb]) p=${id#tl}; kill -0 "${p%?}" 2> /dev/null || "$LAB" down --id "$id" > /dev/null 2>&1 ;;
	esac
done

cleanup() {
	local id
	for id in $IDS; do "$LAB" down --id "$id" > /dev/null 2>&1; done
}
trap cleanup EXIT
trap 'echo "test_lab: signal, tearing down" >&2; exit 130' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "test:FAIL:$1 ${2:-}"; failed=$((failed + 1)); }
# check NAME CONDITION-STATUS WHAT ACTUAL EXPECTED
check() {
	if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3 actual $4 expected $5"; fi
}
verbose() { [ -n "${TEST_LAB_VERBOSE:-}" ]; }

lab() { local c=$1 id=$2; shift 2; "$LAB" "$c" --id "$id" "$@"; }
# mfield ID MACHINE COLUMN: a column of the machine's line in "understudyctl status"
# (MACHINE SERVICE VERSION STATE FOR REQ/S ERR% P50ms P99ms PAIRED STREAK VERDICT)
mfield() { lab ctl "$1" status 2> /dev/null | awk -v m="$2" -v i="$3" '$1 == m {print $i}'; }
count() { lab counts "$1" | sed -n "s/^$2=//p"; }
gt0() { awk -v x="${1:-}" 'BEGIN { exit !(x + 0 > 0) }'; }

# wait_state ID MACHINE STATE: seconds it took, or nothing after LIMIT
wait_state() {
	local s=$SECONDS st
	while [ $((SECONDS - s)) -lt $LIMIT ]; do
		st=$(mfield "$1" "$2" 4)
		if [ "$st" = "$3" ]; then echo $((SECONDS - s)); return 0; fi
		case $st in active | rejected) [ "$st" != "$3" ] && { echo "$st"; return 1; } ;; esac
		sleep 0.5
	done
	return 1
}

# up NAME ID SCENARIO: a lab with the daemon and the calls running
up() {
	local out
	IDS="$IDS $2"
	if out=$("$LAB" up --id "$2" --scenario "$3" --policy quick --rate "$RATE" --mirror 50 2>&1); then
		pass "$1"
		return 0
	fi
	fail "$1" "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	return 1
}

# calls_clean NAME ID: stop the calls; the client saw no failure
calls_clean() {
	local out placed ok fl unexp
	out=$(lab traffic "$2" stop 2>&1)
	verbose && echo "$out" | sed 's/^/# /'
	placed=$(count "$2" placed) ok=$(count "$2" successful)
	fl=$(count "$2" failed) unexp=$(count "$2" unexpected)
	if gt0 "$placed" && [ "$fl" = 0 ] && [ "$unexp" = 0 ] && [ "$ok" = "$placed" ]; then
		pass "$1"
	else
		fail "$1" "client calls placed/successful/failed/unexpected actual $placed/$ok/$fl/$unexp expected N/N/0/0"
	fi
	echo "# $2: client placed $placed calls, $ok successful, $fl failed, $unexp unexpected"
}

# down_clean NAME ID: everything of the lab is gone, and down again is fine
down_clean() {
	local pids p left="" i
	pids=$(cat "/run/understudy-lab/$2/pids/"* 2> /dev/null | tr '\n' ' ')
	"$LAB" down --id "$2" > /dev/null 2>&1 || left="$left down-failed"
	"$LAB" down --id "$2" > /dev/null 2>&1 || left="$left second-down-failed"
	ip netns list | grep -q "^usl-$2-" && left="$left namespaces"
	[ -e "/sys/fs/bpf/understudy-lab-$2" ] && left="$left pins"
	[ -e "/run/understudy-lab/$2" ] && left="$left run-dir"
	for p in $pids; do
		# exited; init may take a moment to reap the zombie
		for ((i = 0; i < 40; i++)); do
			[ -e "/proc/$p" ] || break
			[ "$(sed 's/.*) //' "/proc/$p/stat" 2> /dev/null | cut -d' ' -f1)" = Z ] && break
			sleep 0.05
		done
		[ -e "/proc/$p" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" 2> /dev/null | cut -d' ' -f1)" != Z ] &&
			left="$left pid-$p"
	done
	check "$1" "$([ -z "$left" ]; echo $?)" "left behind" "${left# }" "nothing"
}

# ---- good: promoted, then takes calls next to version 1 -------------------

G=tl$$g
if up lab_up_good "$G" good; then
	st=$(lab status "$G" 2>&1)
	check lab_status "$(echo "$st" | grep -q "usl-$G-balancer" && echo "$st" | grep -q 'v2-good .* simulation\|v2-good .* active' &&
		echo "$st" | grep -q "bpftool map dump pinned /sys/fs/bpf/understudy-lab-$G/"; echo $?)" \
		"status output (namespaces, machines, commands)" "$(echo "$st" | head -3 | tr '\n' ' ')" "all three"
	if took=$(wait_state "$G" v2-good active); then
		pass good_promoted
		echo "# v2-good promoted $took s after the lab came up"
		sleep 4     # a few windows of new calls
		status=$(lab ctl "$G" status)
		verbose && echo "$status" | sed 's/^/# /'
		r2=$(echo "$status" | awk '$1 == "v2-good" {print $6}')
		ra=$(echo "$status" | awk '$1 == "v1-a" {print $6}')
		rb=$(echo "$status" | awk '$1 == "v1-b" {print $6}')
		st2=$(echo "$status" | awk '$1 == "v2-good" {print $4}')
		check promoted_takes_calls "$({ [ "$st2" = active ] && gt0 "$r2"; }; echo $?)" \
			"v2-good state, req/s" "$st2, $r2" "active, > 0"
		check v1_keeps_serving "$({ gt0 "$ra" && gt0 "$rb"; }; echo $?)" "v1-a, v1-b req/s" "$ra, $rb" "> 0, > 0"
		ev=$(lab ctl "$G" events)
		check good_audit "$(echo "$ev" | grep -c 'v2-good *simulation -> active *by judge' | grep -qx 1; echo $?)" \
			"events" "$(echo "$ev" | tr '\n' ' ')" "one promotion by the judge"
	else
		fail good_promoted "v2-good state actual ${took:-$(mfield "$G" v2-good 4)} expected active within $LIMIT s"
		lab ctl "$G" explain v2-good 2>&1 | sed 's/^/# /'
		for t in promoted_takes_calls v1_keeps_serving good_audit; do fail $t "not run: no promotion"; done
	fi
	verbose && lab ctl "$G" explain v2-good | sed 's/^/# /'
	calls_clean good_no_failed_calls "$G"
	down_clean good_torn_down "$G"
else
	for t in lab_status good_promoted promoted_takes_calls v1_keeps_serving good_audit \
		good_no_failed_calls good_torn_down; do fail $t "not run: the lab did not come up"; done
fi

# ---- bad and slow: rejected, never promoted ------------------------------

B=tl$$b
if up lab_up_bad "$B" bad,slow; then
	for m in v2-bad v2-slow; do
		if took=$(wait_state "$B" $m rejected); then
			pass "${m#v2-}_rejected"
			echo "# $m rejected $took s after the lab came up"
		else
			fail "${m#v2-}_rejected" "$m state actual ${took:-$(mfield "$B" $m 4)} expected rejected within $LIMIT s"
			lab ctl "$B" explain $m 2>&1 | sed 's/^/# /'
		fi
	done
	sleep 3     # no longer mirrored to
	status=$(lab ctl "$B" status)
	verbose && echo "$status" | sed 's/^/# /'
	verbose && lab ctl "$B" explain v2-bad | sed 's/^/# /'
	ev=$(lab ctl "$B" events)
	for m in v2-bad v2-slow; do
		st=$(echo "$status" | awk -v m=$m '$1 == m {print $4}')
		r=$(echo "$status" | awk -v m=$m '$1 == m {print $6}')
		promoted=$(echo "$ev" | grep -c "$m *[a-z]* -> active")
		check "${m#v2-}_never_promoted" "$({ [ "$st" = rejected ] && [ "$promoted" = 0 ]; }; echo $?)" \
			"$m state, promotions" "$st, $promoted" "rejected, 0"
		check "${m#v2-}_not_mirrored" "$(! gt0 "$r"; echo $?)" "$m req/s after rejection" "$r" "0"
	done
	why=$(lab ctl "$B" explain v2-bad | head -1)
	check bad_explained "$(echo "$why" | grep -q 'REJECT.*failed: .*\(agreement\|errors\)'; echo $?)" \
		"explain v2-bad" "$why" "REJECT on agreement or errors"
	why=$(lab ctl "$B" explain v2-slow | head -1)
	check slow_explained "$(echo "$why" | grep -q 'REJECT.*failed: .*latency'; echo $?)" \
		"explain v2-slow" "$why" "REJECT on latency"
	calls_clean bad_no_failed_calls "$B"
	down_clean bad_torn_down "$B"
else
	for t in bad_rejected slow_rejected bad_never_promoted bad_not_mirrored slow_never_promoted \
		slow_not_mirrored bad_explained slow_explained bad_no_failed_calls bad_torn_down; do
		fail $t "not run: the lab did not come up"
	done
fi

echo "# $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
