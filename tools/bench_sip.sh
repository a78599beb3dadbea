#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# SIP capacity: the highest call rate (calls per second) that SIPp sustains
# through the balancer with zero failed calls, on the lab's topology
# (tools/lab.sh: client ns -- balancer ns -- bridge -- machines), for
#
#   understudy_mirror_0    XDP + understudyd, mirror_percent 0: v1-a and v1-b
#                          active, v2-good in simulation receiving nothing
#   understudy_mirror_100  the same, mirror_percent 100: v2-good's SIPp gets
#                          every call too
#   kamailio_dispatcher    no XDP, no understudyd: Kamailio (tools/lab/
#                          kamailio.cfg) in the balancer namespace, dispatcher
#                          algorithm 0 (Call-ID hash) over v1-a and v1-b
#
# The daemon runs with the lab's policy "hold": it neither promotes nor
# rejects v2-good, which otherwise is rejected on latency once overload
# slows it, and then mirrored nothing. Each configuration gets its own lab,
# kept up for all its steps, after a warm-up (Kamailio starts slowly). A
# step is one SIPp UAC run (tools/lab/uac.xml) of RATE x SECONDS calls at
# RATE calls/s (-m); it passes when every placed call succeeded (SIPp's
# -trace_stat: FailedCall 0, SuccessfulCall = OutgoingCall = RATE x SECONDS),
# SIPp placed them at 95 % of RATE or more, and the machines received them
# (v1-a + v1-b: every call; v2-good: every call at mirror 100, none else).
# SIPp's defaults hold: a message the scenario does not expect, such as a
# 180 that comes after its 200, fails the call. A step that fails is stopped
# at its first failed call. The rate doubles from --start until a step
# fails, then is bisected until pass and fail are within 5 % or 250 calls/s.
# Between steps the client's SIPp has exited (killed by pid if it must be)
# and the machines and Kamailio have gone quiet.
#
# Calls hold 500 ms and the machines answer in 20 ms (the lab's defaults):
# short calls keep the calls in progress (about rate x 0.55 s) far below
# SIPp's and the balancer's tables, and a step's tail short; what is
# measured is the cost of the seven messages of a call, which the hold time
# does not change. Every SIPp gets 4 MiB socket buffers (8 MiB in effect,
# net.core.rmem_max's limit), as Kamailio does: with SIPp's 64 KiB the
# client's socket overflows first, at about 2000 calls/s through XDP. The
# UAS (tools/lab/uas.xml) sends its 200 once: a 200 lost on the way fails
# its call, unless a stateful proxy (Kamailio) repeats it for the client's
# retransmitted INVITE.
#
# At every step, over the middle of the run, the script reads the CPU time
# (utime + stime, /proc/PID/stat) of each SIPp, of understudyd or of all of
# Kamailio's processes, the whole machine's (/proc/stat), the datagrams
# each namespace's full socket buffers dropped (Udp RcvbufErrors) and, for
# understudy, the XDP programs' own run time (kernel.bpf_stats_enabled=1
# while the benchmark runs, restored after; bpftool prog: run_time_ns,
# run_cnt of us_client, us_machine, us_egress). It reports those of the
# highest passing step.
#
# Output: a table on stdout (progress on stderr); --json FILE writes
#   {"sip_capacity_cps": {CONFIG: N, ...}, "sip_capacity_detail": {CONFIG: {...}, ...}}
# Exit 0; 1 on a setup failure (a lab that does not come up, a missing
# tool); 2 on bad usage. Everything it started is torn down on exit, also on
# Ctrl-C. Needs root, and tools/deps.sh bench (kamailio, jq), make.
#
# usage: tools/bench_sip.sh [--json FILE] [--configs LIST] [--seconds S]
#            [--hold MS] [--answer-ms MS] [--start CPS] [--max CPS]
#            [--sipp-buffer BYTES] [--kam-children N] [--kam-shm MB] [--kam-alloc qm|fm|tlsf]
#            [--kam-args ARGS]
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
LAB=$TOP/tools/lab.sh
RUNBASE=${LAB_RUNBASE:-/run/understudy-lab}   # as tools/lab.sh
ALL_CONFIGS="understudy_mirror_0 understudy_mirror_100 kamailio_dispatcher"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# defaults, see usage
CONFIGS=$ALL_CONFIGS JSON="" SECS=8 HOLD=500 ANSWER=20 START=500 MAX=64000 SIPP_BUFFER=4194304
# Kamailio: the best of those tried (see tools/lab/kamailio.cfg): one receiver a
# socket (more reorder a call's 180 behind its 200, which SIPp counts as a
# failed call), 1 GiB of shared memory (64 MiB runs out at 500 calls/s), TLSF
KAM_CHILDREN=1 KAM_SHM=1024 KAM_ALLOC=tlsf KAM_ARGS=""
WARMUP_RATE=500 WARMUP_SECS=4     # before the first step: not judged
MIN_ACHIEVED=95                   # % of the rate SIPp must place calls at

say()  { printf 'bench_sip: %s\n' "$*" >&2; }
die()  { printf 'bench_sip: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<EOF
usage: tools/bench_sip.sh [OPTIONS]          (as root)
  --json FILE          also write the results as JSON to FILE
  --configs LIST       comma-separated, of: ${ALL_CONFIGS// /, } (default all)
  --seconds S          calls of a step: S seconds' worth at its rate (default $SECS)
  --hold MS            call hold time, ACK to BYE (default $HOLD)
  --answer-ms MS       machines' answer time before each final (default $ANSWER)
  --start CPS          the first rate of the ramp (default $START)
  --max CPS            the ramp stops there (default $MAX)
  --sipp-buffer B      every SIPp's socket buffers in bytes (default $SIPP_BUFFER; SIPp's
                       own 64 KiB overflows at the client long before anything else)
  --kam-children N     Kamailio's receiving processes per socket (default $KAM_CHILDREN)
  --kam-shm MB         Kamailio's shared memory (default $KAM_SHM)
  --kam-alloc NAME     Kamailio's memory manager: qm, fm or tlsf (default $KAM_ALLOC)
  --kam-args ARGS      more arguments to Kamailio (tools/lab.sh --kam-args)
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--json) JSON=${2:?}; shift 2 ;;
	--configs) CONFIGS=${2:?}; CONFIGS=${CONFIGS//,/ }; shift 2 ;;
	--seconds) SECS=${2:?}; shift 2 ;;
	--hold) HOLD=${2:?}; shift 2 ;;
	--answer-ms) ANSWER=${2:?}; shift 2 ;;
	--start) START=${2:?}; shift 2 ;;
	--max) MAX=${2:?}; shift 2 ;;
	--sipp-buffer) SIPP_BUFFER=${2:?}; shift 2 ;;
	--kam-children) KAM_CHILDREN=${2:?}; shift 2 ;;
	--kam-shm) KAM_SHM=${2:?}; shift 2 ;;
	--kam-alloc) KAM_ALLOC=${2:?}; shift 2 ;;
	--kam-args) KAM_ARGS=${2?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in "seconds $SECS" "hold $HOLD" "answer-ms $ANSWER" "start $START" "max $MAX" \
	"sipp-buffer $SIPP_BUFFER" "kam-children $KAM_CHILDREN" "kam-shm $KAM_SHM"; do
	case ${v#* } in '' | *[!0-9]* | 0) echo "bench_sip: --${v% *}: \"${v#* }\" is not a positive integer" >&2; exit 2 ;; esac
done
case $KAM_ALLOC in qm | fm | tlsf) ;; *) echo "bench_sip: --kam-alloc: \"$KAM_ALLOC\" is not qm, fm or tlsf" >&2; exit 2 ;; esac
for c in $CONFIGS; do
	case " $ALL_CONFIGS " in *" $c "*) ;; *) echo "bench_sip: --configs: \"$c\" is not one of $ALL_CONFIGS" >&2; exit 2 ;; esac
done
[ -n "$CONFIGS" ] || { echo "bench_sip: --configs: none given" >&2; exit 2; }

# ---- set-up and tear-down ---------------------------------------------------

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, BPF, XDP)"
for t in sipp bpftool jq nsenter ip; do
	command -v "$t" > /dev/null || die "$t not found: tools/deps.sh bench installs what the benchmark needs"
done
case " $CONFIGS " in
*" kamailio_dispatcher "*) command -v kamailio > /dev/null || die "kamailio not found: tools/deps.sh bench installs it" ;;
esac
case " $CONFIGS " in
*" understudy_"*)
	[ -x "$TOP/build/understudyd" ] || die "no build/understudyd: run make first"
	"$TOP/tools/bpffs.sh" > /dev/null || die "no bpffs at /sys/fs/bpf"
	;;
esac

TICK=$(getconf CLK_TCK)
NCPU=$(nproc)
RUN=bs$$                  # lab ids bs<pid>a, bs<pid>b, bs<pid>c
IDS=""
TMP=$(mktemp -d /tmp/bench_sip.XXXXXX)
STATS_WAS=""              # kernel.bpf_stats_enabled before this run
CLIENT_PID=""

# labs of earlier runs killed outright (their pid is gone)
for id in $("$LAB" list); do
	case $id in
	bs[0-9]*[a-z]) p=${id#bs}; kill -0 "${p%?}" 2> /dev/null || "$LAB" down --id "$id" > /dev/null 2>&1 || true ;;
	esac
done

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local id
	trap - EXIT INT TERM
	[ -z "$CLIENT_PID" ] || stop_client
	for id in $IDS; do "$LAB" down --id "$id" > /dev/null 2>&1 || say "tearing lab $id down failed"; done
	if [ -n "$STATS_WAS" ]; then echo "$STATS_WAS" > /proc/sys/kernel/bpf_stats_enabled || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'say "interrupted: tearing down"; exit 130' INT TERM

# alive PID: exists and is no zombie
alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2> /dev/null &&
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -d' ' -f1)" != Z ]
}

# stop_client: the client's SIPp, by pid: TERM, then KILL (an overloaded
# SIPp can ignore SIGTERM); it is gone (its port free) on return
stop_client() {
	local i
	if alive "$CLIENT_PID"; then
		kill -TERM "$CLIENT_PID" 2> /dev/null || true
		for ((i = 0; i < 40; i++)); do alive "$CLIENT_PID" || break; sleep 0.05; done
		kill -KILL "$CLIENT_PID" 2> /dev/null || true
		for ((i = 0; i < 100; i++)); do alive "$CLIENT_PID" || break; sleep 0.05; done
	fi
	alive "$CLIENT_PID" && die "the client's SIPp (pid $CLIENT_PID) does not exit"
	CLIENT_PID=""
}

# ---- measuring ----------------------------------------------------------------

# procs: NAME PID, one a line, of the lab's processes (the client's SIPp if
# it runs; the machines' SIPp; understudyd; every kamailio process) and of
# the kernel's softirq threads (where softirq work goes when it piles up)
procs() {
	local f p
	for f in "$DIR"/pids/*; do
		p=$(cat "$f" 2> /dev/null) || continue
		case ${f##*/} in kamailio) continue ;; esac
		alive "$p" && echo "${f##*/} $p"
	done
	if [ "$BAL" = kamailio ]; then
		for p in $(ip netns pids "$NS_B" 2> /dev/null); do
			[ "$(cat "/proc/$p/comm" 2> /dev/null)" = kamailio ] && echo "kamailio $p"
		done
	fi
	for p in $(pgrep '^ksoftirqd/'); do echo "ksoftirqd $p"; done
	return 0
}

# sample FILE: the time (ns), the whole machine's CPU (/proc/stat), each
# lab process's utime+stime (ticks), each XDP program's run time and count
sample() {
	local name pid id
	{
		echo "time $(date +%s%N)"
		awk '$1 == "cpu" { print "host", $2 + $3, $4, $5 + $6, $7, $8, $9 }' /proc/stat
		procs | while read -r name pid; do
			sed 's/.*) //' "/proc/$pid/stat" 2> /dev/null |
				awk -v n="$name" -v p="$pid" '{ print "proc", n, p, $12 + $13 }'
		done
		for id in $XDP_IDS; do
			bpftool prog show id "$id" -j 2> /dev/null |
				jq -r '"xdp \(.name) \(.id) \(.run_time_ns // 0) \(.run_cnt // 0)"'
		done
	} > "$1"
}

# cpu_json A B: what happened between two samples, as JSON: seconds, each
# process's (kamailio's summed) % of one CPU, the machine's busy % (of one
# CPU: 100 x CPUs = all busy) and what of it no lab process used (other),
# each XDP program's packets/s, ns/packet and % of one CPU
cpu_json() {
	awk -v tick="$TICK" -v ncpu="$NCPU" '
		FNR == 1 { f++ }
		$1 == "time" { t[f] = $2 }
		$1 == "host" { for (i = 2; i <= 7; i++) h[f, i] = $i }
		$1 == "proc" { k = $2 " " $3; c[f, k] = $4; if (f == 2) keys[k] = $2 }
		$1 == "xdp" { k = $2 " " $3; r[f, k] = $4; n[f, k] = $5; if (f == 2) xk[k] = $2 }
		END {
			s = (t[2] - t[1]) / 1e9
			if (s <= 0) { print "{}"; exit }
			for (k in keys) if ((1, k) in c) {
				u = (c[2, k] - c[1, k]) / tick / s * 100
				use[keys[k]] += u
				nproc[keys[k]]++
				if (u > top[keys[k]]) top[keys[k]] = u
			}
			# /proc/stat: user+nice system idle+iowait irq softirq steal, in
			# ticks; idle is clock-based (NO_HZ), the others are counted at
			# each tick, which this VM does not always deliver: busy is the
			# time less idle, and softirq only a share of the counted ticks
			busy = ncpu * 100 - (h[2, 4] - h[1, 4]) / tick / s * 100
			if (busy < 0) busy = 0
			cnt = 0
			for (i = 2; i <= 7; i++) if (i != 4) cnt += h[2, i] - h[1, i]
			ours = 0
			for (p in use) ours += use[p]
			# (a name of several processes sums them)
			other = busy - ours
			printf "{\"seconds\": %.2f, \"process_cpu_percent\": {", s
			sep = ""
			for (p in use) { printf "%s\"%s\": %.1f", sep, p, use[p]; sep = ", " }
			# the busiest of several (of Kamailio: receivers, timers)
			for (p in use) if (nproc[p] > 1 && p != "ksoftirqd") printf ", \"%s_busiest\": %.1f", p, top[p]
			printf "}, \"host_cpu_percent\": {\"busy\": %.1f, \"other\": %.1f, \"softirq_share_of_busy_ticks\": %.1f}",
				busy, (other > 0 ? other : 0), cnt ? (h[2, 6] - h[1, 6]) / cnt * 100 : 0
			printf ", \"xdp\": {"
			sep = ""
			for (k in xk) {
				if (!((1, k) in r)) continue
				dn = n[2, k] - n[1, k]; dr = r[2, k] - r[1, k]
				printf "%s\"%s\": {\"packets_per_second\": %.0f, \"ns_per_packet\": %.1f, \"cpu_percent\": %.2f}",
					sep, xk[k], dn / s, dn ? dr / dn : 0, dr / (s * 1e9) * 100
				sep = ", "
			}
			print "}}"
		}' "$1" "$2"
}

# lab_ticks: CPU ticks of the machines' SIPp, Kamailio's processes and
# the softirq threads (the client's SIPp has exited). Not understudyd's:
# it walks its transaction map every window, whether calls come or not,
# and deletes entries after timer F (32 s)
lab_ticks() {
	local name pid
	procs | while read -r name pid; do
		[ "$name" != understudyd ] || continue
		sed 's/.*) //' "/proc/$pid/stat" 2> /dev/null | awk '{ print $12 + $13 }'
	done | awk '{ s += $1 } END { print s + 0 }'
}

# drain: wait until the lab's processes use less than a quarter of a CPU
# (idle SIPp servers poll: about 2 % each), at most 20 s
drain() {
	local a b i
	for ((i = 0; i < 40; i++)); do
		a=$(lab_ticks)
		sleep 0.5
		b=$(lab_ticks)
		[ $(((b - a) * 100 * 2 / TICK)) -lt 25 ] && return 0
	done
	say "  (the lab did not go quiet within 20 s)"
}

# udp_errors: NAME RCVBUF-ERRORS, one a line, for each of the lab's
# namespaces (Udp: RcvbufErrors, /proc/net/snmp: datagrams a full socket
# buffer dropped)
udp_errors() {
	local ns
	while read -r ns; do
		# shellcheck disable=SC2016 # awk's fields, not the shell's
		nsenter --net="/run/netns/$ns" awk -v n="${ns#"usl-$ID-"}" \
			'$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1; next }
			 $1 == "Udp:" && h { print n, $c + 0 }' /proc/net/snmp 2> /dev/null || true
	done < "$DIR/namespaces"
}

# csv_last FILE COLUMN: the last value of a column of SIPp's statistics
csv_last() {
	awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
		c && $0 != "" { v = $c } END { print (v == "" ? 0 : v) }' "$1" 2> /dev/null || echo 0
}

# received: NAME CALLS, one a line: the calls each machine's SIPp received
received() {
	local f
	for f in "$DIR"/stat/v*.csv; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%.csv} $(csv_last "$DIR/stat/$f" 'IncomingCall(C)')"
	done
}

# placed_rate FILE CALLS: the rate SIPp placed calls at: the calls placed
# by the last statistics line before all were placed, over the time since
# the start (the epoch in StartTime and CurrentTime)
placed_rate() {
	awk -F';' -v all="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "OutgoingCall(C)") o = i; if ($i == "StartTime") st = i; if ($i == "CurrentTime") ct = i }; next }
		o && $o < all && $o > 0 { split($st, a, "\t"); split($ct, b, "\t"); if (b[3] > a[3]) r = $o / (b[3] - a[3]) }
		END { printf "%.0f\n", r }' "$1" 2> /dev/null || echo 0
}

# ---- a step ---------------------------------------------------------------------

# step RATE [warmup]: one SIPp UAC run of RATE x SECS calls; appends its
# record to $TMP/$CFG.steps (JSON lines) and its CPU to $TMP/$CFG.cpu.RATE;
# returns 0 when it passed
step() {
	local rate=$1 warm=${2:-} calls secs t0 now a_done="" b_done="" csv reason="" pass=true
	local placed ok failed unexp tmo retr achieved wall drops recv nact nsim
	secs=$SECS
	[ -z "$warm" ] || secs=$WARMUP_SECS
	calls=$((rate * secs))
	csv=$DIR/stat/client.csv
	udp_errors > "$TMP/udp.a"
	received > "$TMP/recv.a"
	t0=$(date +%s%N)
	"$LAB" traffic start --id "$ID" --rate "$rate" --calls "$calls" > "$TMP/traffic.log" 2>&1 ||
		die "$CFG: the client's SIPp did not start: $(tail -3 "$TMP/traffic.log")"
	CLIENT_PID=$(cat "$DIR/pids/sipp-client")
	# until it exits by itself: the calls' time, hold and answers, and room
	# for SIPp's 5 s receive timeouts
	while alive "$CLIENT_PID"; do
		now=$((($(date +%s%N) - t0) / 1000000))
		if [ -z "$a_done" ] && [ "$now" -ge 1500 ]; then sample "$TMP/a"; a_done=1; fi
		if [ -z "$b_done" ] && [ "$now" -ge $((secs * 1000 - 500)) ]; then sample "$TMP/b"; b_done=1; fi
		if [ "$(csv_last "$csv" 'FailedCall(C)')" != 0 ]; then
			reason="failed calls"
			break
		fi
		if [ "$now" -ge $((secs * 1000 + HOLD + 4 * ANSWER + 15000)) ]; then
			reason="calls still open $(((secs * 1000 + HOLD + 4 * ANSWER + 15000) / 1000)) s after the start"
			break
		fi
		sleep 0.2
	done
	stop_client
	wall=$((($(date +%s%N) - t0) / 1000000))
	placed=$(csv_last "$csv" 'OutgoingCall(C)') ok=$(csv_last "$csv" 'SuccessfulCall(C)')
	failed=$(csv_last "$csv" 'FailedCall(C)') unexp=$(csv_last "$csv" 'FailedUnexpectedMessage(C)')
	tmo=$(csv_last "$csv" 'FailedTimeoutOnRecv(C)') retr=$(csv_last "$csv" 'Retransmissions(C)')
	achieved=$(placed_rate "$csv" "$calls")
	udp_errors > "$TMP/udp.b"
	# the namespaces whose sockets dropped datagrams in this step
	drops=$(awk 'FNR == NR { a[$1] = $2; next } $2 > a[$1] { printf "%s%s: %d", s, $1, $2 - a[$1]; s = ", " }' \
		"$TMP/udp.a" "$TMP/udp.b")
	if [ -n "$reason" ]; then
		pass=false
	elif [ "$failed" != 0 ] || [ "$ok" != "$placed" ] || [ "$placed" != "$calls" ]; then
		pass=false reason="placed $placed of $calls, $ok successful, $failed failed"
		[ "$placed" = "$calls" ] ||
			reason="$reason; the client's SIPp exited early: $(tail -1 "$DIR/log/sipp-client.log" 2> /dev/null | cut -c1-200)"
	elif [ "$achieved" -lt $((rate * MIN_ACHIEVED / 100)) ]; then
		pass=false reason="SIPp placed the calls at $achieved calls/s only"
	fi
	if [ -z "$warm" ]; then
		jq -nc --argjson rate "$rate" --argjson calls "$calls" --argjson pass "$pass" --arg reason "$reason" \
			--argjson placed "$placed" --argjson ok "$ok" --argjson failed "$failed" --argjson unexp "$unexp" \
			--argjson tmo "$tmo" --argjson retr "$retr" --argjson achieved "$achieved" --argjson wall "$wall" \
			--arg drops "$drops" \
			'{rate: $rate, calls: $calls, pass: $pass, placed: $placed, successful: $ok, failed: $failed,
			  failed_unexpected: $unexp, failed_timeout: $tmo, retransmissions: $retr,
			  placed_cps: $achieved, wall_ms: $wall}
			 + (if $reason == "" then {} else {reason: $reason} end)
			 + (if $drops == "" then {} else {udp_rcvbuf_errors: ($drops | split(", ")
				| map(split(": ") | {(.[0]): (.[1] | tonumber)}) | add)} end)' \
			>> "$TMP/$CFG.steps"
		if [ "$pass" = true ] && [ -n "$b_done" ]; then cpu_json "$TMP/a" "$TMP/b" > "$TMP/$CFG.cpu.$rate"; fi
	fi
	say "$(printf '  %s%6d cps: %-4s %s/%s calls, %s failed (%s unexpected, %s timeouts), %s retransmissions, placed at %s cps%s%s' \
		"${warm:+warm-up }" "$rate" "$([ "$pass" = true ] && echo pass || echo FAIL)" "$ok" "$calls" "$failed" "$unexp" \
		"$tmo" "$retr" "$achieved" "${reason:+: $reason}" "${drops:+; socket buffer drops: $drops}")"
	drain
	# the machines' statistics are written every second: each call went to
	# one active machine, and to the simulation machine when mirrored
	sleep 1.1
	received > "$TMP/recv.b"
	recv=$(awk 'FNR == NR { a[$1] = $2; next } { printf "%s%s: %d", s, $1, $2 - a[$1]; s = ", " }' \
		"$TMP/recv.a" "$TMP/recv.b")
	if [ "$pass" = true ]; then
		read -r nact nsim <<< "$(awk 'FNR == NR { a[$1] = $2; next }
			{ d = $2 - a[$1]; if ($1 ~ /^v1-/) act += d; else sim += d } END { print act + 0, sim + 0 }' \
			"$TMP/recv.a" "$TMP/recv.b")"
		if [ "$nact" != "$placed" ] || [ "$nsim" != $((placed * MIRROR / 100)) ]; then
			pass=false reason="the machines received $recv calls (expected $placed to v1-a and v1-b, $((placed * MIRROR / 100)) to v2-good)"
			say "    FAIL: $reason"
		fi
	fi
	if [ -z "$warm" ]; then
		jq -c --arg recv "$recv" --argjson pass "$pass" --arg reason "$reason" \
			'. + {pass: $pass, machines_received: ($recv | split(", ") | map(split(": ") | {(.[0]): (.[1] | tonumber)}) | add)}
			 + (if $reason == "" then {} else {reason: $reason} end)' <<< "$(tail -1 "$TMP/$CFG.steps")" > "$TMP/last"
		sed -i '$d' "$TMP/$CFG.steps"
		cat "$TMP/last" >> "$TMP/$CFG.steps"
		[ "$pass" = true ] || rm -f "$TMP/$CFG.cpu.$rate"
	fi
	[ "$pass" = true ]
}

# ---- a configuration --------------------------------------------------------

# run_config NAME: a lab, the warm-up, the ramp and the bisection; writes
# $TMP/NAME.result (the capacity) and $TMP/NAME.json (the detail)
run_config() {
	CFG=$1
	local letter opts=() v2st lo=0 hi=0 r tol mid t0=$SECONDS xdp="" id
	case $CFG in
	understudy_mirror_0) letter=a BAL=understudy MIRROR=0 ;;
	understudy_mirror_100) letter=b BAL=understudy MIRROR=100 ;;
	kamailio_dispatcher) letter=c BAL=kamailio MIRROR=0 ;;
	esac
	ID=$RUN$letter DIR=$RUNBASE/$ID
	IDS="$IDS $ID"
	[ "$BAL" = understudy ] ||
		opts=(--kam-children "$KAM_CHILDREN" --kam-shm "$KAM_SHM" --kam-alloc "$KAM_ALLOC" --kam-args "$KAM_ARGS")
	say "$CFG: lab $ID up (balancer $BAL, mirror $MIRROR %, hold $HOLD ms, answer $ANSWER ms)"
	"$LAB" up --id "$ID" --no-traffic --scenario good --policy hold --mirror "$MIRROR" \
		--hold "$HOLD" --answer-ms "$ANSWER" --sipp-buffer "$SIPP_BUFFER" --balancer "$BAL" "${opts[@]}" \
		> "$TMP/up.log" 2>&1 ||
		die "$CFG: tools/lab.sh up failed: $(tail -5 "$TMP/up.log")"
	NS_B=usl-$ID-balancer
	XDP_IDS=""
	if [ "$BAL" = understudy ]; then
		# us_client and us_machine: attached in the balancer; us_egress (the
		# devmap's program): the one sharing us_client's maps
		XDP_IDS=$(nsenter --net="/run/netns/$NS_B" bpftool -j net | jq -r '.[0].xdp[].id' | sort -u | tr '\n' ' ')
		[ -n "$XDP_IDS" ] || die "$CFG: no XDP program attached in $NS_B"
		id=$(echo "$XDP_IDS" | awk '{print $1}')
		xdp=$(bpftool -j prog show | jq -r --argjson id "$id" '
			(map(select(.id == $id)) | .[0].map_ids) as $m
			| .[] | select(.name == "us_egress" and ((.map_ids // []) - $m) == []) | .id')
		XDP_IDS="$XDP_IDS $xdp"
	fi
	: > "$TMP/$CFG.steps"
	# a cold Kamailio (and a cold lab) answers its first calls slowly
	step "$WARMUP_RATE" warmup || true
	r=$START
	while [ "$r" -le "$MAX" ]; do
		if step "$r"; then lo=$r r=$((r * 2)); else hi=$r; break; fi
	done
	if [ "$hi" != 0 ]; then
		while :; do
			tol=$((lo * 5 / 100))
			[ "$tol" -ge 250 ] || tol=250
			[ $((hi - lo)) -gt "$tol" ] || break
			mid=$(((lo + hi) / 2 / 50 * 50))
			[ "$mid" -gt "$lo" ] || break
			if step "$mid"; then lo=$mid; else hi=$mid; fi
		done
	fi
	echo "$lo" > "$TMP/$CFG.result"
	# the simulation machine is still in simulation (policy hold)
	v2st=""
	if [ "$BAL" = understudy ]; then
		v2st=$("$LAB" ctl --id "$ID" status 2> /dev/null | awk '$1 == "v2-good" { print $4 }' || true)
	fi
	jq -n --argjson hold "$HOLD" --argjson answer "$ANSWER" --argjson secs "$SECS" --argjson cap "$lo" \
		--argjson fail "$hi" --arg bal "$BAL" --argjson mirror "$MIRROR" --argjson t "$((SECONDS - t0))" \
		--argjson buf "$SIPP_BUFFER" --argjson kc "$KAM_CHILDREN" --argjson ks "$KAM_SHM" --arg ka "$KAM_ALLOC" --arg kx "$KAM_ARGS" \
		--arg v2st "$v2st" --slurpfile steps "$TMP/$CFG.steps" \
		--slurpfile cpu <(cat "$TMP/$CFG.cpu.$lo" 2> /dev/null || echo '{}') '
		{balancer: $bal, hold_ms: $hold, answer_ms: $answer, seconds_per_step: $secs, sipp_buffer_bytes: $buf,
		 capacity_cps: $cap, lowest_failing_cps: (if $fail == 0 then null else $fail end),
		 steps: $steps, at_capacity: $cpu[0], bench_seconds: $t}
		+ (if $bal == "understudy" then {mirror_percent: $mirror, policy: "hold", v2_good_state_after: $v2st}
		   else {kamailio: {children_per_socket: $kc, shm_mb: $ks, allocator: $ka, extra_args: $kx, dispatcher_algorithm: 0}} end)' \
		> "$TMP/$CFG.json"
	"$LAB" down --id "$ID" > /dev/null 2>&1 || say "$CFG: tearing lab $ID down failed"
	say "$CFG: $lo calls/s ($((SECONDS - t0)) s)"
}

# ---- main -------------------------------------------------------------------

T0=$SECONDS
case " $CONFIGS " in
*" understudy_"*)
	STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 > /proc/sys/kernel/bpf_stats_enabled
	;;
esac
say "host load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
for c in $CONFIGS; do run_config "$c"; done

# ---- report -------------------------------------------------------------------

report_json() {
	local c
	for c in $CONFIGS; do jq -c --arg c "$c" '{($c): .}' "$TMP/$c.json"; done |
		jq -s --argjson load "$LOAD_BEFORE" --argjson t "$((SECONDS - T0))" '
			add as $d
			| {sip_capacity_cps: ($d | map_values(.capacity_cps)),
			   sip_capacity_detail: ($d + {host: {load_before: $load, bench_seconds: $t}})}'
}
report_json > "$TMP/all.json"
[ -z "$JSON" ] || cp "$TMP/all.json" "$JSON"

echo
echo "SIP capacity through the balancer: SIPp uac.xml, hold $HOLD ms, answer $ANSWER ms, $SECS s of calls a step, zero failed calls"
printf '%-22s %9s  %s\n' configuration "calls/s" "steps (calls/s, x: failed)"
for c in $CONFIGS; do
	printf '%-22s %9s  %s\n' "$c" "$(cat "$TMP/$c.result")" \
		"$(jq -r '[.[] | "\(.rate)\(if .pass then "" else "x" end)"] | join(" ")' < <(jq -s . "$TMP/$c.steps"))"
done
echo
echo "At the capacity and at the lowest failing rate (retransmissions; datagrams dropped by full socket buffers)"
for c in $CONFIGS; do
	jq -r --arg c "$c" '
		def drops: (.udp_rcvbuf_errors // {} | to_entries | map("\(.key) \(.value)") | join(", "))
			| if . == "" then "none" else . end;
		(.capacity_cps) as $cap | (.lowest_failing_cps) as $f
		| (.steps | map(select(.rate == $cap and .pass)) | last) as $p
		| (.steps | map(select(.rate == $f and (.pass | not))) | last) as $x
		| "\($c):",
		  (if $p then "  \($p.rate) calls/s: pass, \($p.retransmissions) retransmissions, drops: \($p | drops)" else empty end),
		  (if $x then "  \($x.rate) calls/s: \($x.failed) failed (\($x.failed_unexpected) on an unexpected message, \($x.failed_timeout) on a timeout) after \($x.placed) calls, \($x.retransmissions) retransmissions, drops: \($x | drops)"
		   else "  no failure up to --max" end)' "$TMP/$c.json"
done
echo
echo "CPU at the capacity, % of one CPU (the machine has $NCPU; $((NCPU * 100)) = all busy)"
printf '%-22s %7s %7s %7s %8s %9s %10s %6s\n' configuration client v1-a v1-b v2-good balancer "host busy" other
for c in $CONFIGS; do
	jq -r --arg c "$c" '.at_capacity as $a
		| ($a.process_cpu_percent // {}) as $p
		| [$c, ($p["sipp-client"] // "-"), ($p["sipp-v1-a"] // "-"), ($p["sipp-v1-b"] // "-"),
		   ($p["sipp-v2-good"] // "-"), ($p.kamailio // $p.understudyd // "-"),
		   ($a.host_cpu_percent.busy // "-"), ($a.host_cpu_percent.other // "-")] | @tsv' "$TMP/$c.json" |
		awk -F'\t' '{ printf "%-22s %7s %7s %7s %8s %9s %10s %6s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
done
echo "  (process time: utime+stime, which includes the softirq work, XDP's too, done while the process"
echo "  ran; balancer: understudyd, or all of Kamailio's processes; host busy: wall time less idle time"
echo "  (/proc/stat); other: host busy less the lab's processes and ksoftirqd: kernel threads, this script)"
if jq -e '[.sip_capacity_detail[] | objects | .at_capacity.xdp // {} | length] | add > 0' "$TMP/all.json" > /dev/null 2>&1; then
	echo
	echo "XDP programs at the capacity (kernel.bpf_stats_enabled)"
	printf '%-22s %-11s %10s %10s %9s\n' configuration program "packets/s" "ns/packet" "% of CPU"
	for c in $CONFIGS; do
		jq -r --arg c "$c" '.at_capacity.xdp // {} | to_entries
			| sort_by({us_client: 0, us_machine: 1, us_egress: 2}[.key] // 9)[]
			| [$c, .key, .value.packets_per_second, .value.ns_per_packet, .value.cpu_percent] | @tsv' "$TMP/$c.json" |
			awk -F'\t' '{ printf "%-22s %-11s %10s %10s %9s\n", $1, $2, $3, $4, $5 }'
	done
fi
if [ -n "$JSON" ]; then echo; echo "JSON: $JSON"; fi
if jq -e '[.sip_capacity_detail[] | objects | .at_capacity.host_cpu_percent.other // 0] | max > 50' \
	"$TMP/all.json" > /dev/null 2>&1; then
	say "warning: something outside the lab used more than half a CPU during a measurement: figures disturbed?"
fi
say "done in $((SECONDS - T0)) s"
