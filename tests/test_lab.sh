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
#   kill:      understudyd SIGKILLed mid-judgement: no failed call while it is
#              gone (XDP stays), restarted it resumes (states, audit trail) and
#              promotes v2-good once; v2-good2, its SIPp killed, is never promoted
#   trace:     SIPp message traces: mirrored calls arrive whole at v2-good
#   strict:    the machines' strict SIPp scenarios and baresip answer 481 to
#              a BYE naming another dialog, repeat an un-ACKed 200, and the
#              prack scenario 481 to a PRACK naming another RSeq
#   real:      --ipv6 with baresip on both versions: v2-good and v2-good.v6
#              promoted; calls clean over IPv4 and IPv6; no 481, no repeated
#              200, no BYE of its own on any machine; mirrored calls end at
#              version 2 when they end at version 1 (within a window)
#   flows:     --call-flow hangup, reinvite, prack: calls clean, the active
#              machines' and the simulation machine's strict scenarios see
#              the flow in every call and fail none
#   dialogs:   in "good", v2-good (strict SIPp) fails no mirrored call
#   dying:     v2-good2, killed after its streak began, is rejected and never
#              promoted; an outage on both versions (503 to every INVITE for
#              6 s) does not reject v2-good
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
	tl[0-9]*[a-z]) p=${id#tl}; kill -0 "${p%?}" 2> /dev/null || "$LAB" down --id "$id" > /dev/null 2>&1 ;;
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
# (MACHINE SERVICE VERSION STATE FOR REQ/S ERR% P50ms P99ms PAIRED STREAK DIFF% CTLDIFF% VERDICT)
mfield() { lab ctl "$1" status 2> /dev/null | awk -v m="$2" -v i="$3" '$1 == m {print $i}'; }
count() { lab counts "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
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

# Every machine runs the strict SIPp scenario, but v2-slow the lenient one
# (tools/lab/uas-lenient.xml): it answers twice as late as version 1, so the
# caller's ACK (to the active machine's 200) always reaches it before its own
# 200, which the strict scenario counts as a failed call (a real server
# ignores such an ACK and repeats its 200 until timer H). What is tested of
# v2-slow is that its latency gets it rejected.
SIM_LENIENT="v2-slow=sipp-lenient"

# up NAME ID SCENARIO: a lab with the daemon and the calls running
up() {
	local out
	IDS="$IDS $2"
	if out=$("$LAB" up --id "$2" --scenario "$3" --policy quick --rate "$RATE" --mirror 50 \
		--machine-sw "$SIM_LENIENT" 2>&1); then
		pass "$1"
		return 0
	fi
	fail "$1" "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	return 1
}

# calls_clean NAME ID [PREFIX]: stop the calls; the client (PREFIX client6.:
# the IPv6 one) saw no failure
calls_clean() {
	local out placed ok fl unexp p=${3:-}
	if [ -z "$p" ]; then
		out=$(lab traffic "$2" stop 2>&1)
		verbose && echo "$out" | sed 's/^/# /'
	fi
	placed=$(count "$2" "${p}placed") ok=$(count "$2" "${p}successful")
	fl=$(count "$2" "${p}failed") unexp=$(count "$2" "${p}unexpected")
	if gt0 "$placed" && [ "$fl" = 0 ] && [ "$unexp" = 0 ] && [ "$ok" = "$placed" ]; then
		pass "$1"
	else
		fail "$1" "client calls placed/successful/failed/unexpected actual $placed/$ok/$fl/$unexp expected N/N/0/0"
	fi
	echo "# $2: ${p:-client.}placed $placed calls, $ok successful, $fl failed, $unexp unexpected"
}

# down_clean NAME ID: everything of the lab is gone, and down again is fine
down_clean() {
	local pids p left="" i st
	pids=$(cat "/run/understudy-lab/$2/pids/"* 2> /dev/null | tr '\n' ' ')
	local names=""
	for p in $pids; do names="$names $p:$(cat "/proc/$p/comm" 2> /dev/null)"; done
	"$LAB" down --id "$2" > /dev/null 2>&1 || left="$left down-failed"
	"$LAB" down --id "$2" > /dev/null 2>&1 || left="$left second-down-failed"
	ip netns list | grep -q "^usl-$2-" && left="$left namespaces"
	[ -e "/sys/fs/bpf/understudy-lab-$2" ] && left="$left pins"
	[ -e "/run/understudy-lab/$2" ] && left="$left run-dir"
	for p in $pids; do
		# exited; init may take a moment to reap the zombie (a state that
		# cannot be read: reaped meanwhile)
		for ((i = 0; i < 40; i++)); do
			st=$(sed 's/.*) //' "/proc/$p/stat" 2> /dev/null | cut -d' ' -f1)
			case $st in "" | Z) break ;; esac
			sleep 0.05
		done
		case $st in
		"" | Z) ;;
		*) left="$left pid-$p($(echo "$names" | tr ' ' '\n' | sed -n "s/^$p://p"), $st)" ;;
		esac
	done
	check "$1" "$([ -z "$left" ]; echo $?)" "left behind" "${left# }" "nothing"
}

# snap ID: the lab's counters now (tools/lab.sh counts), for cv
snap() { COUNTS=$(lab counts "$1"); }
cv() { echo "$COUNTS" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
# msgs ID NAME: a machine's message log (SIPp's -trace_shortmsg, or the one
# tools/lab/sipstamp.pl writes for baresip: the same columns)
msgs() {
	local d=/run/understudy-lab/$1/log
	if [ -e "$d/baresip-$2.msgs" ]; then cat "$d/baresip-$2.msgs"; else cat "$d/sipp-$2.msgs" 2> /dev/null; fi
}
# repeated ID NAME: the first messages a machine sent more than once, each
# with the whole call as every end saw it (for the failure report)
repeated() {
	local d=/run/understudy-lab/$1/log cid
	msgs "$1" "$2" | awk -F'\t' '$4 == "S" { k = $5 "\t" $6 "\t" substr($7, 1, 24); if (c[k]++ == 1) print $5 }' |
		head -3 | while read -r cid; do
			echo "# repeated by $2 in call $cid:"
			for f in "$d"/*.msgs; do
				grep -F "$cid" "$f" | awk -F'\t' -v n="$(basename "$f" .msgs)" \
					'{ print $2 "\t" n "\t" $4 "\t" $6 "\t" $7 }'
			done | sort | sed 's/^/#   /'
		done
}

# dp_counters ID: the balancer's packet counters that are not zero,
# v2-good's dialog counters, and the machine-side veth's own counters (a
# frame the veth dropped) (for the failure report)
dp_counters() {
	ip netns exec "usl-$1-balancer" curl -s --max-time 3 http://127.0.0.1:9464/metrics 2> /dev/null |
		awk '/^understudy_packets_total/ && $NF != 0 || /^understudy_machine_.*v2-good/ && /dlg|drop|own/ && $NF != 0' |
		sed 's/^/# /'
	ip -n "usl-$1-balancer" -s link show mach 2> /dev/null | sed 's/^/# /'
}

# few_missing N SEEN: SEEN is N but for at most 1 % of N (at least 1): the
# lab's lost frames (see ua_clean) reach a flow's step too
few_missing() {
	local lim=$(($1 / 100))
	[ "$lim" -ge 1 ] || lim=1
	[ "$2" -le "$1" ] && [ $(($1 - $2)) -le "$lim" ]
}

# repeating_calls ID NAME: calls in which the machine sent a message more
# than once (its message trace)
repeating_calls() {
	msgs "$1" "$2" | awk -F'\t' '$4 == "S" { k = $5 "\t" $6 "\t" substr($7, 1, 24); if (c[k]++ == 1) n++ }
		END { print n + 0 }'
}

# ua_clean ID NAME...: each machine received calls, and none went wrong:
# no 481 sent, no unexpected message, and no more than 1 % of its calls
# (at least 1) failed, had a message repeated, or a BYE of the machine's
# own (unless FLOW_BYE: the machine hangs up). Prints what is not so,
# NAME:received/failed/unexpected/repeats/481/BYE (repeats: calls with a
# message repeated when the machine's messages are traced, else SIPp's
# retransmissions).
#   The 1 %: under load on two cores the lab's veths drop a frame now and
#   then (a veth's ring toward a peer running XDP fills: "ip -s link" counts
#   it on the sender as a TX drop, about one frame in 5000 here); a user
#   agent repairs that by repeating its message, as RFC 3261 wants. A
#   machine that cannot follow its dialog goes wrong in nearly every call.
ua_clean() {
	local id=$1 m bad="" r f u rt c481 b lim
	shift
	snap "$id"
	for m; do
		r=$(cv "$m.received") f=$(cv "$m.failed") u=$(cv "$m.unexpected") rt=$(cv "$m.retransmissions")
		# with a message trace, calls in which it repeated a message (the 1 %
		# is of calls: one lost frame makes a user agent repeat a message up
		# to 10 times); without one, SIPp's count of retransmissions
		[ -z "$(msgs "$id" "$m" | head -1)" ] || rt=$(repeating_calls "$id" "$m")
		c481=$(cv "$m.sent481") b=$(cv "$m.bye")
		lim=$(( ${r//[!0-9]/0} / 100 ))
		[ "$lim" -ge 1 ] || lim=1
		[ -z "${FLOW_BYE:-}" ] || b=0
		if ! gt0 "$r" || [ "${f//-/0}" -gt "$lim" ] || { [ "$u" != 0 ] && [ "$u" != - ]; } ||
			[ "${rt//-/0}" -gt "$lim" ] || { [ "$c481" != 0 ] && [ "$c481" != - ]; } || [ "${b//-/0}" -gt "$lim" ]; then
			bad="$bad $m:$r/$f/$u/$rt/$c481/$b"
		fi
	done
	echo "${bad# }"
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
	# v2-good, strict SIPp, followed every dialog: in simulation (mirrored
	# calls, the balancer naming its dialog) and active alike
	sleep 4.5   # its last calls end after their 4 s for retransmissions
	bad=$(ua_clean "$G" v2-good v1-a v1-b)
	check good_dialogs_clean "$([ -z "$bad" ]; echo $?)" \
		"machines received/failed/unexpected/repeats/481/BYE not so" "${bad:-none}" "none (N/<=1%/0/<=1%/0/<=1%)"
	for m in $bad; do repeated "$G" "${m%%:*}"; done
	down_clean good_torn_down "$G"
else
	for t in lab_status good_promoted promoted_takes_calls v1_keeps_serving good_audit \
		good_no_failed_calls good_dialogs_clean good_torn_down; do fail $t "not run: the lab did not come up"; done
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

# ---- kill: understudyd killed (SIGKILL) mid-judgement, v2-good2 dies ------
#
#   the daemon is SIGKILLed while v2-good is still in simulation (policy quick
#   with min_simulation_seconds 10: the evidence floor is not reached yet);
#   XDP stays attached and the calls go on; restarted, it resumes its state
#   (machine states, audit trail) and promotes v2-good, once. v2-good2's SIPp
#   is killed before: its transactions pass their deadlines, it is rejected
#   within LIMIT seconds of the kill (before or after the restart) and never
#   promoted.

K=tl$$k
IDS="$IDS $K"
if out=$("$LAB" up --id "$K" --scenario good,good2 --policy quick --min-sim 10 --rate "$RATE" --mirror 50 \
	--machine-sw "$SIM_LENIENT" 2>&1); then
	pass lab_up_kill
	# two transitions in the audit trail before the kill
	lab ctl "$K" reject v2-good2 "test: audit trail before the kill" > /dev/null
	lab ctl "$K" readmit v2-good2 "test: audit trail before the kill" > /dev/null
	sleep 1
	lab signal "$K" sipp-v2-good2 KILL
	dead_at=$SECONDS
	sleep 1
	# v2-good2 may be rejected at any moment now: the others are compared
	pre_states=$(lab ctl "$K" status | awk '$1 ~ /^v[12]-/ && $1 != "v2-good2" {print $1, $4}')
	pre_ev=$(lab ctl "$K" events)
	pre_good=$(mfield "$K" v2-good 4)
	placed0=$(count "$K" placed) failed0=$(count "$K" failed) unexp0=$(count "$K" unexpected)
	dpid=$(cat "/run/understudy-lab/$K/pids/understudyd")
	lab signal "$K" understudyd KILL
	for ((i = 0; i < 40; i++)); do [ -e "/proc/$dpid" ] || break; sleep 0.05; done
	sleep 3     # the daemon is gone: calls go on
	xdp=$(nsenter --net="/run/netns/usl-$K-balancer" ip -o link show 2> /dev/null | grep -c ' xdp')
	placed1=$(count "$K" placed) failed1=$(count "$K" failed) unexp1=$(count "$K" unexpected)
	check kill_calls_go_on "$({ [ "$pre_good" = simulation ] && [ "$xdp" = 2 ] && [ "$failed1" = "$failed0" ] &&
		[ "$unexp1" = "$unexp0" ] && [ "$placed1" -gt $((placed0 + 100)) ]; }; echo $?)" \
		"v2-good before the kill, XDP interfaces, client placed/failed/unexpected while the daemon is gone" \
		"$pre_good, $xdp, $((placed1 - placed0))/$((failed1 - failed0))/$((unexp1 - unexp0))" "simulation, 2, >100/0/0"
	if lab daemon "$K" > /dev/null 2>&1; then
		post_states=$(lab ctl "$K" status | awk '$1 ~ /^v[12]-/ && $1 != "v2-good2" {print $1, $4}')
		post_ev=$(lab ctl "$K" events)
		post_kept=$(echo "$post_ev" | head -n "$(echo "$pre_ev" | wc -l)")
		check restart_resumes "$({ [ "$post_states" = "$pre_states" ] && [ -n "$pre_ev" ] &&
			[ "$post_kept" = "$pre_ev" ]; }; echo $?)" "machine states but v2-good2's; events before the kill" \
			"$(echo "$post_states" | tr '\n' ' '); $(echo "$post_ev" | wc -l) events, the first $(echo "$pre_ev" | wc -l) $([ "$post_kept" = "$pre_ev" ] && echo kept || echo changed)" \
			"$(echo "$pre_states" | tr '\n' ' '); the $(echo "$pre_ev" | wc -l) kept"
		if took=$(wait_state "$K" v2-good active); then
			pass restart_promoted
			echo "# v2-good promoted $took s after the restart"
		else
			fail restart_promoted "v2-good state actual ${took:-$(mfield "$K" v2-good 4)} expected active within $LIMIT s"
			lab ctl "$K" explain v2-good 2>&1 | sed 's/^/# /'
		fi
		ev=$(lab ctl "$K" events)
		verbose && echo "$ev" | sed 's/^/# /'
		nprom=$(echo "$ev" | grep -c 'v2-good *simulation -> active *by judge')
		nseq=$(echo "$ev" | awk '{print $3}' | sort | uniq -d | wc -l)
		kept=$(echo "$ev" | head -n "$(echo "$pre_ev" | wc -l)")
		check restart_audit "$({ [ "$nprom" = 1 ] && [ "$nseq" = 0 ] && [ "$kept" = "$pre_ev" ]; }; echo $?)" \
			"promotions of v2-good, duplicated sequence numbers, events before the kill kept" \
			"$nprom, $nseq, $([ "$kept" = "$pre_ev" ] && echo yes || echo no)" "1, 0, yes"
	else
		fail restart_resumes "tools/lab.sh daemon failed"
		for t in restart_promoted restart_audit; do fail $t "not run: the daemon did not restart"; done
	fi
	while [ "$(mfield "$K" v2-good2 4)" != rejected ] && [ $((SECONDS - dead_at)) -lt $LIMIT ]; do
		sleep 0.5
	done
	st=$(mfield "$K" v2-good2 4)
	promoted=$(lab ctl "$K" events | grep -c 'v2-good2 *[a-z]* -> active')
	echo "# v2-good2 $st $((SECONDS - dead_at)) s after its SIPp was killed"
	check dead_rejected_never_promoted "$({ [ "$st" = rejected ] && [ "$promoted" = 0 ]; }; echo $?)" \
		"v2-good2 (its SIPp killed) state within $LIMIT s, promotions" "$st, $promoted" "rejected, 0"
	verbose && lab ctl "$K" explain v2-good2 | sed 's/^/# /'
	calls_clean kill_no_failed_calls "$K"
	down_clean kill_torn_down "$K"
else
	fail lab_up_kill "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	for t in kill_calls_go_on restart_resumes restart_promoted restart_audit dead_rejected_never_promoted \
		kill_no_failed_calls kill_torn_down; do fail $t "not run: the lab did not come up"; done
fi

# ---- dying and outage: a machine dies after it started to pass; an outage -
#
#   v2-good2 (answers as version 1) is SIGKILLed once its streak is above 0
#   (consecutive_windows 30: not promoted before): it is never promoted and
#   is rejected within LIMIT seconds. Every machine, of both versions,
#   answers 503 to every INVITE for 6 s from 25 s after the machines started
#   (an outage upstream of the service): v2-good, as good as version 1, is
#   not rejected for it, up to 15 s after the outage.

D=tl$$d
IDS="$IDS $D"
if out=$("$LAB" up --id "$D" --scenario good,good2 --policy quick --windows 30 --outage 25:6 \
	--rate "$RATE" --mirror 50 2>&1); then
	pass lab_up_dying
	up_at=$SECONDS
	streak=0
	while ! gt0 "$streak" && [ $((SECONDS - up_at)) -lt $LIMIT ]; do
		sleep 0.5
		streak=$(mfield "$D" v2-good2 11)
	done
	st=$(mfield "$D" v2-good2 4)
	if gt0 "$streak" && [ "$st" = simulation ]; then
		lab signal "$D" sipp-v2-good2 KILL
		dead_at=$SECONDS
		echo "# v2-good2 killed at streak $streak, $((dead_at - up_at)) s after the lab came up"
		while [ "$(mfield "$D" v2-good2 4)" = simulation ] && [ $((SECONDS - dead_at)) -lt $LIMIT ]; do
			sleep 0.5
		done
		st=$(mfield "$D" v2-good2 4)
		promoted=$(lab ctl "$D" events | grep -c 'v2-good2 *[a-z]* -> active')
		echo "# v2-good2 $st $((SECONDS - dead_at)) s after its SIPp was killed"
		check died_passing_rejected "$({ [ "$st" = rejected ] && [ "$promoted" = 0 ]; }; echo $?)" \
			"v2-good2 (killed at streak $streak) state within $LIMIT s, promotions" "$st, $promoted" \
			"rejected, 0"
		verbose && lab ctl "$D" explain v2-good2 | sed 's/^/# /'
	else
		fail died_passing_rejected "v2-good2 streak, state actual ${streak:-none}, $st expected > 0, simulation within $LIMIT s"
		lab ctl "$D" explain v2-good2 2>&1 | sed 's/^/# /'
	fi
	# the outage: from 25 s after the machines started (about when up
	# returned), for 6 s; then 15 s more
	while [ $((SECONDS - up_at)) -lt 46 ]; do
		[ "$(mfield "$D" v2-good 4)" != rejected ] || break
		sleep 0.5
	done
	st=$(mfield "$D" v2-good 4)
	fl=$(count "$D" failed)
	check outage_not_rejected "$({ [ "$st" != rejected ] && gt0 "$fl"; }; echo $?)" \
		"v2-good state after an outage on both versions, calls the client saw fail" "$st, $fl" \
		"simulation or active, > 0 (the outage happened)"
	[ "$st" != rejected ] || lab ctl "$D" explain v2-good 2>&1 | sed 's/^/# /'
	verbose && lab ctl "$D" explain v2-good | sed 's/^/# /'
	lab traffic "$D" stop > /dev/null 2>&1
	down_clean dying_torn_down "$D"
else
	fail lab_up_dying "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	for t in died_passing_rejected outage_not_rejected dying_torn_down; do
		fail $t "not run: the lab did not come up"
	done
fi

# ---- trace: mirrored calls arrive whole at version 2 ----------------------
#
#   SIPp logs every message (tools/lab.sh up --trace) on the client and on
#   v2-good, which stays in simulation (min_simulation_seconds 600); every
#   Call-ID v2-good saw had every request the client sent in it (INVITE, ACK,
#   BYE), v2-good saw no other call, and with 50 % mirrored some calls were
#   not mirrored at all

T=tl$$t
IDS="$IDS $T"
if out=$("$LAB" up --id "$T" --scenario good --policy quick --min-sim 600 --trace --rate "$RATE" --mirror 50 \
	--machine-sw "$SIM_LENIENT" 2>&1); then
	pass lab_up_trace
	sleep 4
	st=$(mfield "$T" v2-good 4)
	calls_clean trace_no_failed_calls "$T"
	sleep 0.5   # the last messages into the files
	D=/run/understudy-lab/$T/log
	# Call-ID, then the requests in it: sent by the client, received by v2-good
	res=$(awk -F'\t' 'FNR == 1 { f++ }
		$7 ~ /^SIP\// { next }
		{ split($7, a, " ") }
		f == 1 && $4 == "S" { c[$5] = 1; cr[$5 " " a[1]] = 1 }
		f == 2 && $4 == "R" { v[$5] = 1; vr[$5 " " a[1]] = 1 }
		END {
			for (k in c) { n++; if (k in v) m++ }
			for (kr in cr) {
				split(kr, b, " ")
				if ((b[1] in v) && !(kr in vr)) { p++; if (!e) e = kr }
			}
			for (k in v) {
				if (!(k in c)) x++
				if (!((k " INVITE") in vr) || !((k " ACK") in vr) || !((k " BYE") in vr)) q++
			}
			printf "%d %d %d %d %d %s\n", n, m, p, x, q, e
		}' "$D/sipp-client.msgs" "$D/sipp-v2-good.msgs" 2> /dev/null)
	read -r ncalls nmirr npart nforeign nincomplete example <<< "${res:-0 0 0 0 0}"
	echo "# $T: client $ncalls calls, $nmirr mirrored to v2-good"
	check mirror_whole_calls "$({ [ "$st" = simulation ] && [ "$nmirr" -gt 0 ] && [ "$nmirr" -lt "$ncalls" ] &&
		[ "$npart" = 0 ] && [ "$nforeign" = 0 ] && [ "$nincomplete" = 0 ]; }; echo $?)" \
		"v2-good state; calls: client, mirrored, partial, foreign, without INVITE+ACK+BYE at v2 ${example:+(e.g. $example missing)}" \
		"$st; $ncalls, $nmirr, $npart, $nforeign, $nincomplete" "simulation; N, 0 < M < N, 0, 0, 0"
	down_clean trace_torn_down "$T"
else
	fail lab_up_trace "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	for t in trace_no_failed_calls mirror_whole_calls trace_torn_down; do fail $t "not run: the lab did not come up"; done
fi

# ---- strict: the machines' user agents hold their dialogs as servers do --
#
#   No balancer (--no-daemon, --no-traffic): a test caller (SIPp) in a
#   machine's own namespace calls the user agent on the VIP directly and
#   names another dialog: ACK and BYE with another To-tag (as a balancer
#   cloning the active machine's dialog would send them); an INVITE never
#   ACKed; a PRACK whose RAck names another RSeq. The strict SIPp scenario
#   and baresip answer the BYE 481 and count the call as failed; both
#   repeat a 200 that no ACK of theirs answers; the prack scenario answers
#   the PRACK 481. These are the behaviours the dialog tests below rely on.

D=tl$$d
IDS="$IDS $D"
W=$(mktemp -d /tmp/understudy-test-lab.XXXXXX)
trap 'cleanup; rm -rf "$W"' EXIT
SC=$TOP/tools/lab
sed 's/\[peer_tag_param\]/;tag=another-machine/' "$SC/uac.xml" > "$W/uac-wrongtag.xml"
awk '/<send/ { buf = $0; inside = 1; next }
	inside { buf = buf "\n" $0; if ($0 ~ /<\/send>/) { inside = 0; if (buf !~ /ACK sip:/) print buf }; next }
	{ print }' "$SC/uac.xml" > "$W/uac-noack.xml"
# shellcheck disable=SC2016 # $rseq is SIPp's
sed 's/RAck: \[\$rseq\]/RAck: 1[$rseq]/' "$SC/uac-prack.xml" > "$W/uac-badrack.xml"
if out=$("$LAB" up --id "$D" --scenario good --machine-sw v1-a=baresip --trace --no-daemon --no-traffic 2>&1); then
	pass lab_up_strict
	nsd() { local m=$1; shift; nsenter --net="/run/netns/usl-$D-$m" -- "$@"; }
	caller() {  # MACHINE ADDRESS PORT SCENARIO CALLS HOLD [TARGET]
		nsd "$1" timeout 20 sipp -sf "$4" -i "$2" -p "$3" -m "$5" -r 10 -d "$6" -nostdin \
			-trace_stat -stf "$W/caller-$1-$3.csv" -fd 1 "${7:-198.18.100.1:5060}" > /dev/null 2>&1
	}
	# a prack machine of its own next to v2-good's SIPp, on port 5062
	nsenter --net="/run/netns/usl-$D-v2-good" -- sipp -sf "$SC/uas-prack.xml" -i 198.18.100.1 -p 5062 -d 10 -key server prack-test -nostdin \
		-trace_stat -stf "$W/prack.csv" -fd 1 -trace_shortmsg -shortmessage_file "$W/prack.msgs" \
		> /dev/null 2>&1 &
	ppid=$!
	sleep 0.3
	caller v1-b 198.18.1.2 5071 "$W/uac-wrongtag.xml" 3 100 &
	caller v1-a 198.18.1.1 5071 "$W/uac-wrongtag.xml" 3 100 &
	caller v2-good 198.18.1.11 5071 "$W/uac-noack.xml" 2 2200 &
	caller v2-good 198.18.1.11 5072 "$W/uac-badrack.xml" 2 100 198.18.100.1:5062 &
	wait_callers() { local j; for j in $(jobs -p); do [ "$j" = "$ppid" ] || wait "$j"; done; }
	wait_callers
	sleep 5     # the machines' calls end after their 4 s for retransmissions
	snap "$D"
	check strict_sipp_481 "$({ [ "$(cv v1-b.failed)" = 3 ] && [ "$(cv v1-b.sent481)" = 3 ]; }; echo $?)" \
		"v1-b (strict SIPp): calls failed, 481 sent, to ACK+BYE of another dialog" \
		"$(cv v1-b.failed), $(cv v1-b.sent481)" "3, 3"
	check strict_baresip_481 "$({ [ "$(cv v1-a.failed)" = 3 ] && [ "$(cv v1-a.sent481)" -ge 3 ] &&
		gt0 "$(cv v1-a.retransmissions)"; }; echo $?)" \
		"v1-a (baresip): calls gone wrong, 481 sent, messages repeated, to ACK+BYE of another dialog" \
		"$(cv v1-a.failed), $(cv v1-a.sent481), $(cv v1-a.retransmissions)" "3, >= 3, > 0"
	check strict_sipp_repeats_200 "$([ "$(cv v2-good.retransmissions)" -ge 2 ]; echo $?)" \
		"v2-good (strict SIPp), 2 INVITEs never ACKed (BYE 2.2 s after the 200): 200s repeated" \
		"$(cv v2-good.retransmissions)" ">= 2"
	n481=$(grep -c 'SIP/2.0 481' "$W/prack.msgs" 2> /dev/null)
	nprack=$(awk -F'\t' '$4 == "R" && $7 ~ /^PRACK /' "$W/prack.msgs" 2> /dev/null | wc -l)
	pfail=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i; next } c && $0 != "" { v = $c } END { print v + 0 }' "$W/prack.csv")
	check strict_prack_rack "$({ [ "$nprack" -ge 2 ] && [ "$n481" = 2 ] && [ "$pfail" = 2 ]; }; echo $?)" \
		"uas-prack.xml, PRACKs naming another RSeq: received, 481 sent, failed calls" "$nprack, $n481, $pfail" ">= 2, 2, 2"
	kill "$ppid" 2> /dev/null; wait "$ppid" 2> /dev/null
	down_clean strict_torn_down "$D"
else
	fail lab_up_strict "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	for t in strict_sipp_481 strict_baresip_481 strict_sipp_repeats_200 strict_prack_rack strict_torn_down; do
		fail $t "not run: the lab did not come up"
	done
fi

# ---- real user agents: baresip on both versions, over IPv4 and IPv6 -----
#
#   tools/lab.sh up --ipv6 --machine-sw baresip: every machine runs baresip on
#   both VIPs, a second client calls the IPv6 VIP, version 2 is the same
#   software as version 1. The balancer must give v2-good a dialog of its own
#   in every mirrored call. Then: v2-good and v2-good.v6 are promoted; calls
#   clean on both families, IPv6 calls reach the machines' IPv6 side; no 481,
#   no repeated 200, no BYE of its own on any machine (1 % allowed for the
#   lab's lost frames, see ua_clean); and each mirrored call ended at v2-good
#   when it ended at the active machine (its 200 to the caller's BYE, from
#   the baresip message logs), within one judging window (1 s).

# call_ends ID SIM ACTIVE...: mirrored calls (Call-IDs the simulation machine
# and an active one received), and of those the calls whose end at SIM (the
# time it answered a BYE 200 or sent one) is not within 1 s of their end at
# the active machine, or never came; "mirrored late example"
call_ends() {
	local id=$1 sim=$2
	shift 2
	{ msgs "$id" "$sim" | sed 's/^/S\t/'; for m; do msgs "$id" "$m" | sed 's/^/A\t/'; done; } | awk -F'\t' '
		$5 == "R" && $8 ~ /^INVITE / && $7 == "CSeq:1 INVITE" { seen[$1, $6] = 1 }
		$5 == "S" && (($8 ~ /^SIP\/2\.0 200/ && $7 ~ / BYE$/) || $8 ~ /^BYE /) {
			if (!(($1, $6) in end)) end[$1, $6] = $4
		}
		END {
			for (k in seen) {
				split(k, p, SUBSEP)
				if (p[1] != "S" || !(("A", p[2]) in seen)) continue
				n++
				if (!(("S", p[2]) in end) || !(("A", p[2]) in end)) { late++; if (!ex) ex = p[2] " (no end at the simulation machine)"; continue }
				d = end["S", p[2]] - end["A", p[2]]
				if (d > 1 || d < -1) { late++; if (!ex) ex = p[2] " (" d " s)" }
			}
			print n + 0, late + 0, ex
		}'
}

R=tl$$v
IDS="$IDS $R"
# Real user agents judged for their dialogs, not their tail latency: on this
# lab's two shared CPUs a baresip's p99 jumps now and then (171 ms against
# 51 ms once, every machine repeating messages meanwhile), and the judge
# rightly rejects what it measures. Latency is judged strictly by the slow
# scenario above; here a 500 ms slack keeps scheduling noise out of it.
if out=$("$LAB" up --id "$R" --ipv6 --scenario good --machine-sw baresip \
	--policy quick --latency-slack 500ms --trace --rate 100 --mirror 50 2>&1); then
	pass lab_up_real
	for m in v2-good v2-good.v6; do
		if took=$(wait_state "$R" $m active); then
			pass "real_promoted${m#v2-good}"
			echo "# $m (baresip) promoted $took s after the lab came up"
		else
			fail "real_promoted${m#v2-good}" "$m state actual ${took:-$(mfield "$R" $m 4)} expected active within $LIMIT s"
			lab ctl "$R" explain $m 2>&1 | sed 's/^/# /'
		fi
	done
	calls_clean dual_calls_clean "$R"
	calls_clean dual_calls_clean6 "$R" client6.
	sleep 1
	snap "$R"
	p6=$(cv client6.placed) r6=$(( $(cv v1-a.v6.received) + $(cv v1-b.v6.received) + $(cv v2-good.v6.received) ))
	check dual_ipv6_calls "$({ gt0 "$p6" && [ "$r6" -ge "$p6" ] && gt0 "$(cv v2-good.v6.received)"; }; echo $?)" \
		"IPv6 calls placed, received by v1-a.v6 + v1-b.v6 + v2-good.v6 (mirrored ones too), by v2-good.v6" \
		"$p6, $r6, $(cv v2-good.v6.received)" "N, >= N, > 0"
	bad=$(ua_clean "$R" v1-a v1-b v1-a.v6 v1-b.v6)
	check real_active_clean "$([ -z "$bad" ]; echo $?)" \
		"version-1 baresip received/failed/unexpected/repeats/481/BYE not so" "${bad:-none}" "none (N/<=1%/-/<=1%/0/<=1%)"
	bad=$(ua_clean "$R" v2-good v2-good.v6)
	check real_sim_clean "$([ -z "$bad" ]; echo $?)" \
		"version-2 baresip (mirrored, then active) received/failed/unexpected/repeats/481/BYE not so" \
		"${bad:-none}" "none (N/<=1%/-/<=1%/0/<=1%)"
	for m in $bad; do repeated "$R" "${m%%:*}"; done
	for fam in "" .v6; do
		read -r nm nlate ex <<< "$(call_ends "$R" "v2-good$fam" "v1-a$fam" "v1-b$fam")"
		lim=$((nm / 100)); [ "$lim" -ge 1 ] || lim=1
		check "real_sim_call_length${fam}" "$({ gt0 "$nm" && [ "$nlate" -le "$lim" ]; }; echo $?)" \
			"v2-good$fam's mirrored calls, ended more than 1 s from the active machine's end or never${ex:+ (e.g. $ex)}" \
			"$nm, $nlate" "N, <= 1 %"
	done
	down_clean dual_torn_down "$R"
else
	fail lab_up_real "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
	for t in real_promoted real_promoted.v6 dual_calls_clean dual_calls_clean6 dual_ipv6_calls real_active_clean \
		real_sim_clean real_sim_call_length real_sim_call_length.v6 dual_torn_down; do
		fail $t "not run: the lab did not come up"
	done
fi

# ---- call flows: the machine hangs up, a re-INVITE, a reliable 183 --------
#
#   one lab per call flow (tools/lab.sh up --call-flow FLOW), strict SIPp on
#   every machine, message traces: every call clean at the client; the
#   active machines (v1-a, v1-b) and v2-good, in simulation, answered every
#   call without a failure, a 481 or a retransmission, and their traces show
#   the flow in every call (the lab's lost frames allowed: 1 %, at least one
#   call, any shortfall shown as a note with the balancer's counters):
#   hangup: a BYE of theirs, answered 200 (at v2-good by the balancer, on the
#   caller's behalf); reinvite: a
#   second INVITE with their own To-tag (else 481); prack: a PRACK naming
#   their own tag and RSeq (else 481).

# flow_seen ID FLOW MACHINE...: calls received, calls in which the trace
# shows the flow's step ("received seen"): hangup, a 200 to a BYE after the
# machine sent its BYE; reinvite, a second INVITE; prack, a PRACK
flow_seen() {
	local id=$1 flow=$2 m
	shift 2
	for m; do msgs "$id" "$m"; done | awk -F'\t' -v f="$flow" '
		$4 == "R" && $7 ~ /^INVITE / && $6 == "CSeq:1 INVITE" { rec[$5] = 1 }
		f == "hangup" && $4 == "S" && $7 ~ /^BYE / { bye[$5] = 1 }
		f == "hangup" && $4 == "R" && $7 ~ /^SIP\/2\.0 200/ && $6 ~ / BYE$/ && ($5 in bye) { seen[$5] = 1 }
		f == "reinvite" && $4 == "R" && $7 ~ /^INVITE / && $6 != "CSeq:1 INVITE" { seen[$5] = 1 }
		f == "prack" && $4 == "R" && $7 ~ /^PRACK / { seen[$5] = 1 }
		END { for (k in rec) { r++; if (k in seen) s++ } print r + 0, s + 0 }'
}

for flow in hangup reinvite prack; do
	F=tl$$${flow:0:1}
	IDS="$IDS $F"
	if ! out=$("$LAB" up --id "$F" --call-flow $flow --scenario good --policy hold --trace --rate 100 \
		--hold 300 --mirror 50 2>&1); then
		fail "lab_up_$flow" "tools/lab.sh up failed: $(echo "$out" | tail -5 | tr '\n' ' ')"
		for t in calls_clean active_clean mirrored sim_clean torn_down; do fail "${flow}_$t" "not run: the lab did not come up"; done
		continue
	fi
	pass "lab_up_$flow"
	sleep 4
	calls_clean "${flow}_calls_clean" "$F"
	sleep 4     # the machines' last calls end after their 4 s for retransmissions
	bad=$(FLOW_BYE=$([ $flow = hangup ] && echo 1) ua_clean "$F" v1-a v1-b)
	read -r nrec nseen <<< "$(flow_seen "$F" $flow v1-a v1-b)"
	check "${flow}_active_clean" "$({ [ -z "$bad" ] && gt0 "$nrec" && few_missing "$nrec" "$nseen"; }; echo $?)" \
		"v1-a, v1-b received/failed/unexpected/repeats/481/BYE not so; calls, calls with the $flow step" \
		"${bad:-none}; $nrec, $nseen" "none (N/<=1%/0/<=1%/0/<=1%); N, >= 99 % of N"
	check "${flow}_mirrored" "$(gt0 "$(cv v2-good.received)"; echo $?)" "calls mirrored to v2-good" "$(cv v2-good.received)" "> 0"
	bad=$(FLOW_BYE=$([ $flow = hangup ] && echo 1) ua_clean "$F" v2-good)
	read -r nrec nseen <<< "$(flow_seen "$F" $flow v2-good)"
	check "${flow}_sim_clean" "$({ [ -z "$bad" ] && gt0 "$nrec" && few_missing "$nrec" "$nseen"; }; echo $?)" \
		"v2-good (simulation) received/failed/unexpected/repeats/481/BYE not so; calls, calls with the $flow step" \
		"${bad:-none}; $nrec, $nseen" "none (N/<=1%/0/<=1%/0/<=1%); N, >= 99 % of N"
	# anything short of perfect is shown, within the tolerance too
	if [ -n "$bad" ] || [ "$(repeating_calls "$F" v2-good)" != 0 ] || [ "$nseen" != "$nrec" ]; then
		echo "# note: v2-good $(repeating_calls "$F" v2-good) calls with a message repeated," \
			"$((nrec - nseen)) of $nrec without the $flow step"
		repeated "$F" v2-good
		dp_counters "$F"
	fi
	down_clean "${flow}_torn_down" "$F"
done

echo "# $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
