#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# understudy lab: a balancer, its machines and a client in network namespaces
# on this machine, with real SIP software (SIPp) on every end.
#
#   client ──veth── balancer ──veth── switch (bridge) ── v1-a  v1-b  v2-...
#
#   ns usl-ID-client    eth0 198.18.0.1/24        default via 198.18.0.254
#   ns usl-ID-balancer  cli  198.18.0.254/24      understudyd, XDP us_client
#                       mach 198.18.1.254/24      XDP us_machine
#   ns usl-ID-switch    br0: uplink (to mach), one port per machine
#   ns usl-ID-v1-a      eth0 198.18.1.1/24        version 1.0, active
#   ns usl-ID-v1-b      eth0 198.18.1.2/24        version 1.0, active
#   ns usl-ID-v2-good   eth0 198.18.1.11/24       version 2.0, simulation: answers like v1
#   ns usl-ID-v2-bad    eth0 198.18.1.12/24       version 2.0, simulation: 503 to 1 % of INVITEs
#   ns usl-ID-v2-slow   eth0 198.18.1.13/24       version 2.0, simulation: answers 2 x slower
#   every machine holds the VIP 198.18.100.1/32 on lo, its default route is the
#   balancer, and runs SIPp as UAS on VIP:5060; the client runs SIPp as UAC
#   (INVITE, 100, 180, 200, ACK, BYE, 200) from 198.18.0.1:5070 to VIP:5060.
#
# --balancer kamailio: the same namespaces, but no XDP and no understudyd:
# Kamailio (tools/lab/kamailio.cfg, dispatcher over the active machines) runs
# in the balancer namespace on VIP:5060 (the VIP on the balancer's lo) and on
# 198.18.1.254:5060; the machines hold no VIP and their SIPp listens on their
# own address, where Kamailio sends (their answers go back to Kamailio's
# machine-side socket, its Via). The simulation machines get nothing.
#
# As in tests/livenet.c: GRO on on the veths XDP redirects into (the client's
# eth0, the switch's uplink), TX checksum offload off where sockets send UDP
# that XDP forwards (the client's and the machines' eth0), rp_filter and DAD
# off, forwarding on in the balancer (bpf_fib_lookup wants it).
#
# Everything a lab owns is named by its run id: namespaces usl-ID-*, pins
# /sys/fs/bpf/understudy-lab-ID, run directory /run/understudy-lab/ID (state
# file lab.env, daemon configuration, socket, state, logs, SIPp statistics).
# /run/understudy-lab/current names the lab commands act on by default.
#
# usage: tools/lab.sh COMMAND [OPTIONS]   (as root; "tools/lab.sh help")
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SCEN=$TOP/tools/lab
RUNBASE=${LAB_RUNBASE:-/run/understudy-lab}
PINBASE=/sys/fs/bpf
NSPFX=usl                   # namespaces usl-ID-ROLE
VIP=198.18.100.1
SIP_PORT=5060
CLI_IP=198.18.0.1
CLI_PORT=5070
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

say()  { printf 'lab: %s\n' "$*"; }
warn() { printf 'lab: %s\n' "$*" >&2; }
die()  { printf 'lab: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<EOF
usage: tools/lab.sh COMMAND [OPTIONS]          (as root)
  up [OPTIONS]           build the lab, start the machines' SIPp, the daemon and the calls
      --scenario LIST    version-2 machines, comma-separated: good, bad, slow, good2
                         (default good; good2: a second machine answering as version 1)
      --rate N           calls per second from the client (default 200)
      --mirror P         percent of calls mirrored to simulation (default 50)
      --hold MS          call hold time, ACK to BYE (default 500)
      --answer-ms MS     machines' answer time before each final (default 20; slow: 2x)
      --policy NAME      demo (min_paired 500, 20 s, 3 windows), quick (300, 5 s, 3)
                         or hold (10^9, 7 days, limits at their maximum: no verdict,
                         for benchmarks)
      --min-sim S        the policy's min_simulation_seconds instead of its own
      --window D         judging window (default 1s)
      --trace            SIPp logs every message (-trace_shortmsg) to log/sipp-NAME.msgs
      --sipp-buffer B    every SIPp's socket buffers, bytes (-buff_size; default SIPp's, 64 KiB)
      --balancer NAME    understudy (XDP and understudyd, default) or kamailio
                         (Kamailio's dispatcher in user space, no XDP)
      --kam-children N   kamailio: receiving processes per socket (default 1: more
                         reorder a 180 behind its 200 under load)
      --kam-shm MB       kamailio: shared memory (default 1024)
      --kam-alloc NAME   kamailio: memory manager, qm, fm or tlsf (default tlsf)
      --kam-args ARGS    kamailio: more arguments, split on blanks (e.g. "-A WITH_RAW")
      --id ID            the run id (default: random); --no-daemon, --no-traffic
  daemon                 start the balancer's process (understudyd or kamailio) in the
                         balancer namespace (if --no-daemon)
  traffic start|stop     start the client's calls / stop them (calls in progress end)
                         and print SIPp's summary
      --rate N, --hold MS  for this start: the rate and hold time instead of the lab's
      --calls N          place N calls, then exit (SIPp -m N)
  summary                SIPp's counters so far (client and machines)
  counts                 the same as NAME=VALUE words (for scripts)
  signal NAME SIG        send SIG to a lab process: understudyd, kamailio, sipp-client,
                         sipp-MACHINE
  ctl ARGS...            understudyctl with this lab's socket, e.g. "ctl status --watch 1"
  status                 namespaces, processes, the daemon's status, commands to use by hand
  down [--all]           stop everything and remove the lab (idempotent); --all: every lab
  list                   the ids of every lab here, whole or in pieces
options for every command: --id ID (default: the lab in $RUNBASE/current)
EOF
}

need_root() { [ "$(id -u)" = 0 ] || die "needs root (network namespaces, BPF, XDP)"; }

# ---- the state of a lab ---------------------------------------------------

# lab_load ID: read the lab's state file (variables ID DIR NS_* PIN SOCK ...)
lab_load() {
	local f=$RUNBASE/$1/lab.env
	[ -r "$f" ] || return 1
	# shellcheck disable=SC1090
	. "$f"
}

# current_id: the id given with --id, else the one in $RUNBASE/current
current_id() {
	if [ -n "${OPT_ID:-}" ]; then echo "$OPT_ID"; return 0; fi
	[ -r "$RUNBASE/current" ] && cat "$RUNBASE/current" && return 0
	return 1
}

load_or_die() {
	local id
	id=$(current_id) || die "no lab is up (tools/lab.sh up)"
	lab_load "$id" || die "lab $id: no state file $RUNBASE/$id/lab.env (tools/lab.sh down --id $id cleans up)"
}

# in NS CMD...: run a command in a namespace (nsenter keeps /sys, hence
# /sys/fs/bpf, as it is; "ip netns exec" would remount /sys)
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }

# start_bg NAME NS LOG CMD...: start a process in a namespace, in its own
# session, stdin from /dev/null, output to LOG; its pid goes to pids/NAME
start_bg() {
	local name=$1 ns=$2 log=$3 pidf
	shift 3
	pidf=$DIR/pids/$name
	rm -f "$pidf"
	# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
	setsid nsenter --net="/run/netns/$ns" -- \
		sh -c 'echo $$ > "$0"; exec "$@"' "$pidf" "$@" < /dev/null > "$log" 2>&1 &
	for _ in $(seq 1 100); do
		[ -s "$pidf" ] && return 0
		sleep 0.02
	done
	die "$name: did not start (see $log)"
}

# pid_of NAME: the pid in pids/NAME if that process is still the lab's
# (a sipp, understudyd or kamailio: a pid file outliving its process must
# not name another process)
pid_of() {
	local pid
	[ -s "$DIR/pids/$1" ] || return 1
	pid=$(cat "$DIR/pids/$1")
	case $(cat "/proc/$pid/comm" 2> /dev/null) in
	sipp | understudyd | kamailio) echo "$pid" ;;
	*) return 1 ;;
	esac
}
# alive PID: exists and is no zombie (init may take a while to reap ours)
alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2> /dev/null &&
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -d' ' -f1)" != Z ]
}

# stop_pid PID SIGNAL SECONDS: signal, wait, then SIGKILL
stop_pid() {
	local pid=$1 sig=$2 t=$3 i
	alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < t * 20; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 40; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
}

ctl() { "$BUILD/understudyctl" --socket "$SOCK" "$@"; }

# ---- up -------------------------------------------------------------------

# machine table: name address version scenario-file answer-factor(tenths) state
machine_rows() {
	echo "v1-a 198.18.1.1 1.0 uas.xml 10 active"
	echo "v1-b 198.18.1.2 1.0 uas.xml 10 active"
	local s
	for s in ${SCENARIO//,/ }; do
		case $s in
		good) echo "v2-good 198.18.1.11 2.0 uas.xml 10 simulation" ;;
		bad)  echo "v2-bad 198.18.1.12 2.0 uas-refuse.xml 10 simulation" ;;
		slow) echo "v2-slow 198.18.1.13 2.0 uas.xml 20 simulation" ;;
		good2) echo "v2-good2 198.18.1.14 2.0 uas.xml 10 simulation" ;;
		esac
	done
}

write_config() {
	local pol
	case $POLICY in
	demo)  pol="min_paired: 500, min_simulation_seconds: 20, consecutive_windows: 3" ;;
	quick) pol="min_paired: 300, min_simulation_seconds: 5, consecutive_windows: 3" ;;
	# no promotion, no rejection: the most evidence docs/config.md allows
	# (which holds promotions back), and limits no machine can exceed (the
	# judge rejects on confident failure before it has that evidence)
	hold)  pol="min_paired: 1000000000, min_simulation_seconds: 604800, consecutive_windows: 1000, max_class_disagreement: 100%, max_error_increase: 100pp, max_latency_ratio: 100" ;;
	esac
	[ -n "$MIN_SIM" ] && pol="${pol/min_simulation_seconds: [0-9]*,/min_simulation_seconds: $MIN_SIM,}"
	{
		cat <<EOF
# understudy lab $ID: written by tools/lab.sh; docs/config.md describes every field.
balancer:
  client_interface: cli             # in namespace $NS_B
  machine_interfaces: [mach]
  xdp_mode: native
daemon:
  window: $WINDOW
  socket: $SOCK
  metrics_listen: 127.0.0.1:9464    # the balancer namespace's loopback
  state_dir: $DIR/state
  pin_root: $PIN
  log_level: info
services:
  - name: sip
    vip: $VIP
    port: $SIP_PORT
    protocol: udp
    mirror_percent: $MIRROR
    policy: {$pol}
    machines:
EOF
		local name addr ver file f st
		while read -r name addr ver file f st; do
			echo "      - {name: $name, address: $addr, version: \"$ver\", state: $st}"
		done < "$DIR/machines"
	} > "$CONF"
}

# ns_sysctl NS KEY=VALUE...: net sysctls of a namespace (/proc/sys/net is the
# writer's namespace's), without procps
ns_sysctl() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # the inner shell's variables
	in_ns "$ns" sh -c 'for kv; do echo "${kv#*=}" > "/proc/sys/net/${kv%%=*}" || exit 1; done' sh "$@"
}

build_net() {
	local ns name addr ver file f st
	for ns in "$NS_C" "$NS_B" "$NS_SW" $(awk -v p="$NSPFX-$ID-" '{print p $1}' "$DIR/machines"); do
		echo "$ns" >> "$DIR/namespaces"     # registered before it exists: down covers it
		ip netns add "$ns"
		# before any interface exists, so that every one inherits them
		ns_sysctl "$ns" ipv6/conf/all/accept_dad=0 ipv6/conf/default/accept_dad=0 \
			ipv4/conf/all/rp_filter=0 ipv4/conf/default/rp_filter=0
		ip -n "$ns" link set lo up
	done

	# client <-> balancer
	ip -n "$NS_B" link add cli type veth peer name eth0 netns "$NS_C"
	ip -n "$NS_B" addr add 198.18.0.254/24 dev cli
	ip -n "$NS_C" addr add $CLI_IP/24 dev eth0

	# balancer <-> switch; the machines on the bridge
	ip -n "$NS_SW" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$NS_B" link add mach type veth peer name uplink netns "$NS_SW"
	ip -n "$NS_SW" link set uplink master br0
	ip -n "$NS_B" addr add 198.18.1.254/24 dev mach
	while read -r name addr ver file f st; do
		ns=$NSPFX-$ID-$name
		ip -n "$NS_SW" link add "p-$name" type veth peer name eth0 netns "$ns"
		ip -n "$NS_SW" link set "p-$name" master br0
		ip -n "$NS_SW" link set "p-$name" up
		ip -n "$ns" addr add "$addr/24" dev eth0
		# behind Kamailio a machine is reached at its own address: it holds
		# no VIP, nothing of it answers from there
		[ "$BALANCER" = kamailio ] || ip -n "$ns" addr add $VIP/32 dev lo
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via 198.18.1.254
		# the machines' UDP is forwarded by XDP: send it with a finished checksum
		in_ns "$ns" ethtool -K eth0 tx off > /dev/null
	done < "$DIR/machines"
	ip -n "$NS_SW" link set br0 up
	ip -n "$NS_SW" link set uplink up

	ip -n "$NS_C" link set eth0 up
	ip -n "$NS_C" route add default via 198.18.0.254
	in_ns "$NS_C" ethtool -K eth0 tx off > /dev/null
	ip -n "$NS_B" link set cli up
	ip -n "$NS_B" link set mach up
	# Kamailio receives the calls on the VIP, as a local address
	[ "$BALANCER" != kamailio ] || ip -n "$NS_B" addr add $VIP/32 dev lo
	# bpf_fib_lookup wants forwarding on
	ns_sysctl "$NS_B" ipv4/ip_forward=1 ipv6/conf/all/forwarding=1

	# frames XDP-redirected into a veth need NAPI on its peer: GRO on
	in_ns "$NS_C" ethtool -K eth0 gro on > /dev/null
	in_ns "$NS_SW" ethtool -K uplink gro on > /dev/null

	# neighbours: one datagram from every host to its gateway (the balancer
	# learns the client and the machines, they learn the balancer)
	in_ns "$NS_C" bash -c 'echo warm-up > /dev/udp/198.18.0.254/9' 2> /dev/null || true
	while read -r name addr ver file f st; do
		in_ns "$NSPFX-$ID-$name" bash -c 'echo warm-up > /dev/udp/198.18.1.254/9' 2> /dev/null || true
	done < "$DIR/machines"
	sleep 0.2
}

# trace_opts NAME: SIPp's options to log every message (--trace) and its
# socket buffers (--sipp-buffer), into the array TOPTS
trace_opts() {
	TOPTS=()
	[ -z "${SIPP_BUFFER:-}" ] || TOPTS=(-buff_size "$SIPP_BUFFER")
	[ -n "${TRACE:-}" ] || return 0
	TOPTS+=(-trace_shortmsg -shortmessage_file "$DIR/log/sipp-$1.msgs")
}

start_machines() {
	local name addr ver file f st ms ip
	while read -r name addr ver file f st; do
		ms=$((ANSWER_MS * f / 10))
		ip=$VIP
		[ "$BALANCER" = kamailio ] && ip=$addr
		trace_opts "$name"
		# -timer_resol 1: the answer time to the ms (default 10 ms)
		start_bg "sipp-$name" "$NSPFX-$ID-$name" "$DIR/log/sipp-$name.log" \
			sipp -sf "$SCEN/$file" -i "$ip" -p $SIP_PORT -d "$ms" -timer_resol 1 \
			-key server "understudy-lab-$name" -nostdin \
			-trace_stat -stf "$DIR/stat/$name.csv" -fd 1 \
			-trace_screen -screen_file "$DIR/stat/$name.screen" \
			-trace_err -error_file "$DIR/log/sipp-$name.errors" "${TOPTS[@]}"
	done < "$DIR/machines"
	sleep 0.3
	while read -r name addr ver file f st; do
		alive "$(pid_of "sipp-$name")" || die "SIPp of $name exited: $(tail -3 "$DIR/log/sipp-$name.log")"
	done < "$DIR/machines"
}

start_daemon() {
	local pid i
	pid=$(pid_of understudyd || true)
	if alive "$pid"; then say "understudyd already runs (pid $pid)"; return 0; fi
	"$BUILD/understudyd" --check -c "$CONF" > /dev/null || die "configuration $CONF refused"
	start_bg understudyd "$NS_B" "$DIR/log/understudyd.log" "$BUILD/understudyd" -c "$CONF"
	pid=$(pid_of understudyd)
	for ((i = 0; i < 200; i++)); do
		if ctl status > /dev/null 2>&1; then
			say "understudyd runs in $NS_B (pid $pid), socket $SOCK"
			return 0
		fi
		alive "$pid" || break
		sleep 0.05
	done
	tail -20 "$DIR/log/understudyd.log" >&2 || true
	die "understudyd did not come up (log: $DIR/log/understudyd.log)"
}

# start_kamailio: Kamailio (tools/lab/kamailio.cfg) in the balancer namespace,
# dispatching to the active machines; up when both its sockets are bound
start_kamailio() {
	local pid i kargs=()
	read -ra kargs <<< "$KAM_ARGS"
	pid=$(pid_of kamailio || true)
	if alive "$pid"; then say "kamailio already runs (pid $pid)"; return 0; fi
	awk -v p=$SIP_PORT '$6 == "active" { print 1, "sip:" $2 ":" p }' "$DIR/machines" > "$DIR/dispatcher.list"
	mkdir -p "$DIR/kamailio"
	kamailio -c -f "$SCEN/kamailio.cfg" -A "DS_LIST=\"$DIR/dispatcher.list\"" -l "udp:127.0.0.1:$SIP_PORT" \
		> "$DIR/log/kamailio-check.log" 2>&1 || die "kamailio refuses $SCEN/kamailio.cfg (see $DIR/log/kamailio-check.log)"
	# -DD: the main process stays in the foreground (its pid is the lab's),
	# its receivers are its children; -E: log to stderr, into the log file
	start_bg kamailio "$NS_B" "$DIR/log/kamailio.log" \
		kamailio -f "$SCEN/kamailio.cfg" -DD -E -Y "$DIR/kamailio" \
		-A "DS_LIST=\"$DIR/dispatcher.list\"" \
		-l "udp:$VIP:$SIP_PORT" -l "udp:198.18.1.254:$SIP_PORT" \
		-n "$KAM_CHILDREN" -m "$KAM_SHM" -M 16 -x "$KAM_ALLOC" "${kargs[@]}"
	pid=$(pid_of kamailio || true)
	for ((i = 0; i < 600; i++)); do
		if [ "$(in_ns "$NS_B" ss -Hlun "( sport = :$SIP_PORT )" 2> /dev/null |
			grep -c -e " $VIP:$SIP_PORT " -e " 198.18.1.254:$SIP_PORT ")" = 2 ]; then
			say "kamailio runs in $NS_B (pid $pid, $KAM_CHILDREN receivers a socket, ${KAM_SHM} MB $KAM_ALLOC)"
			return 0
		fi
		alive "$pid" || break
		sleep 0.05
	done
	tail -20 "$DIR/log/kamailio.log" >&2 || true
	die "kamailio did not come up (log: $DIR/log/kamailio.log)"
}

# start_balancer: the balancer's process, understudyd or kamailio
start_balancer() {
	case $BALANCER in
	kamailio) start_kamailio ;;
	*) start_daemon ;;
	esac
}

traffic_start() {
	local pid limit calls=()
	pid=$(pid_of sipp-client || true)
	if alive "$pid"; then say "the client already calls (pid $pid)"; return 0; fi
	rm -f "$DIR/stat/client.csv" "$DIR/stat/client.screen"
	# simultaneous calls: room for every call of 3 s past its hold time
	limit=$((RATE * (HOLD / 1000 + 3)))
	[ "$limit" -ge 10000 ] || limit=10000
	[ -z "${CALLS:-}" ] || calls=(-m "$CALLS")
	trace_opts client
	start_bg sipp-client "$NS_C" "$DIR/log/sipp-client.log" \
		sipp -sf "$SCEN/uac.xml" -i $CLI_IP -p $CLI_PORT -r "$RATE" -d "$HOLD" -l "$limit" "${calls[@]}" \
		-nostdin -trace_stat -stf "$DIR/stat/client.csv" -fd 1 \
		-trace_screen -screen_file "$DIR/stat/client.screen" \
		-trace_err -error_file "$DIR/log/sipp-client.errors" "${TOPTS[@]}" \
		"$VIP:$SIP_PORT"
	sleep 0.3
	# with --calls, a short run may be over already
	if ! alive "$(pid_of sipp-client)" &&
		{ [ -z "${CALLS:-}" ] || ! grep -q '^StartTime' "$DIR/stat/client.csv" 2> /dev/null; }; then
		die "the client's SIPp exited: $(tail -3 "$DIR/log/sipp-client.log")"
	fi
	say "the client calls $VIP:$SIP_PORT at $RATE calls/s (hold $HOLD ms${CALLS:+, $CALLS calls}), SIPp pid $(cat "$DIR/pids/sipp-client")"
}

# csv_field FILE NAME: the last value of a column of a SIPp statistics file
csv_field() {
	[ -s "$1" ] || { echo "-"; return; }
	awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
		c && $0 != "" { v = $c } END { print (v == "" ? "-" : v) }' "$1"
}

client_summary() {
	local f=$DIR/stat/client.csv
	if [ ! -s "$f" ]; then
		echo "client (SIPp UAC): no calls yet (tools/lab.sh traffic start)"
		return
	fi
	printf 'client (SIPp UAC): %s calls placed, %s successful, %s failed (%s on an unexpected message, %s on a receive timeout), %s retransmissions\n' \
		"$(csv_field "$f" 'OutgoingCall(C)')" "$(csv_field "$f" 'SuccessfulCall(C)')" \
		"$(csv_field "$f" 'FailedCall(C)')" "$(csv_field "$f" 'FailedUnexpectedMessage(C)')" \
		"$(csv_field "$f" 'FailedTimeoutOnRecv(C)')" "$(csv_field "$f" 'Retransmissions(C)')"
}

# client_counts: SIPp's counters, one NAME=VALUE a line
client_counts() {
	local f=$DIR/stat/client.csv
	echo "placed=$(csv_field "$f" 'OutgoingCall(C)') successful=$(csv_field "$f" 'SuccessfulCall(C)')" \
		"failed=$(csv_field "$f" 'FailedCall(C)') unexpected=$(csv_field "$f" 'FailedUnexpectedMessage(C)')" \
		"timeouts=$(csv_field "$f" 'FailedTimeoutOnRecv(C)') retransmissions=$(csv_field "$f" 'Retransmissions(C)')" |
		tr ' ' '\n'
	local name addr ver file _ st
	while read -r name addr ver file _ st; do
		echo "$name.received=$(csv_field "$DIR/stat/$name.csv" 'IncomingCall(C)')" \
			"$name.failed=$(csv_field "$DIR/stat/$name.csv" 'FailedCall(C)')"
	done < "$DIR/machines" | tr ' ' '\n'
}

machines_summary() {
	local name addr ver file f st
	while read -r name addr ver file f st; do
		printf '  %-8s (SIPp UAS) %s calls received, %s failed\n' "$name" \
			"$(csv_field "$DIR/stat/$name.csv" 'IncomingCall(C)')" \
			"$(csv_field "$DIR/stat/$name.csv" 'FailedCall(C)')"
	done < "$DIR/machines"
}

traffic_stop() {
	local pid
	pid=$(pid_of sipp-client || true)
	if alive "$pid"; then
		# SIGUSR1: SIPp places no new call and exits once the calls in
		# progress have ended (hold + answers: about a second here)
		kill -USR1 "$pid" 2>/dev/null || true
		stop_pid "$pid" 0 $((HOLD / 1000 + 10))
		say "the client stopped calling"
	fi
	if [ -s "$DIR/stat/client.screen" ]; then
		echo "---- SIPp UAC (client), final screen: messages, retransmissions, timeouts, unexpected"
		awk '/Scenario Screen/ { n++ } n == 1 && !/Scenario Screen/' "$DIR/stat/client.screen" |
			sed -n '/Messages/,/^ *$/p' | sed '/^ *$/d'
	fi
	client_summary
}

cmd_up() {
	need_root
	local t0=$SECONDS s
	for t in ip ethtool nsenter setsid sipp; do
		command -v "$t" > /dev/null || die "$t not found (Debian: iproute2, ethtool, util-linux, sip-tester)"
	done
	case $BALANCER in
	understudy)
		if [ ! -x "$BUILD/understudyd" ] || [ ! -x "$BUILD/understudyctl" ]; then
			die "no $BUILD/understudyd or understudyctl: run make first"
		fi
		[ "$(stat -f -c %T $PINBASE 2> /dev/null)" = bpf_fs ] || die "$PINBASE is no bpffs (tools/bpffs.sh mounts it)"
		;;
	kamailio)
		command -v kamailio > /dev/null || die "kamailio not found (Debian: kamailio; tools/deps.sh bench installs it)"
		case $KAM_ALLOC in qm | fm | tlsf) ;; *) die "--kam-alloc: \"$KAM_ALLOC\" is not qm, fm or tlsf" ;; esac
		for v in "kam-children $KAM_CHILDREN" "kam-shm $KAM_SHM"; do
			case ${v#* } in '' | *[!0-9]* | 0) die "--${v% *}: \"${v#* }\" is not a positive integer" ;; esac
		done
		;;
	*) die "--balancer: \"$BALANCER\" is not understudy or kamailio" ;;
	esac
	for s in ${SCENARIO//,/ }; do
		case $s in good | bad | slow | good2) ;; *) die "--scenario: \"$s\" is not good, bad, slow or good2" ;; esac
	done
	case $POLICY in demo | quick | hold) ;; *) die "--policy: \"$POLICY\" is not demo, quick or hold" ;; esac
	for v in "rate $RATE" "hold $HOLD" "answer-ms $ANSWER_MS"; do
		case ${v#* } in '' | *[!0-9]* | 0) die "--${v% *}: \"${v#* }\" is not a positive integer" ;; esac
	done
	case $MIN_SIM in *[!0-9]*) die "--min-sim: \"$MIN_SIM\" is not a number of seconds" ;; esac
	case $SIPP_BUFFER in *[!0-9]* | 0) die "--sipp-buffer: \"$SIPP_BUFFER\" is not a number of bytes" ;; esac
	case $MIRROR in '' | *[!0-9.]*) die "--mirror: \"$MIRROR\" is not a percentage (0..100)" ;; esac

	ID=${OPT_ID:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
	case $ID in *[!a-z0-9]* | "") die "--id: \"$ID\" must be letters and digits" ;; esac
	DIR=$RUNBASE/$ID
	[ -e "$DIR" ] && die "lab $ID exists already ($DIR): tools/lab.sh down --id $ID"
	mkdir -p "$RUNBASE"
	mkdir -m 0700 "$DIR"
	mkdir "$DIR/pids" "$DIR/log" "$DIR/stat" "$DIR/state"
	NS_C=$NSPFX-$ID-client NS_B=$NSPFX-$ID-balancer NS_SW=$NSPFX-$ID-switch
	PIN=$PINBASE/understudy-lab-$ID SOCK=$DIR/understudyd.sock CONF=$DIR/understudy.yaml
	cat > "$DIR/lab.env" <<EOF
# understudy lab $ID (tools/lab.sh), $(date -u +%FT%TZ)
ID=$ID DIR=$DIR PIN=$PIN SOCK=$SOCK CONF=$CONF
NS_C=$NS_C NS_B=$NS_B NS_SW=$NS_SW
SCENARIO=$SCENARIO RATE=$RATE MIRROR=$MIRROR HOLD=$HOLD ANSWER_MS=$ANSWER_MS POLICY=$POLICY WINDOW=$WINDOW
MIN_SIM=$MIN_SIM TRACE=$TRACE SIPP_BUFFER=$SIPP_BUFFER
BALANCER=$BALANCER KAM_CHILDREN=$KAM_CHILDREN KAM_SHM=$KAM_SHM KAM_ALLOC=$KAM_ALLOC
KAM_ARGS=$(printf '%q' "$KAM_ARGS")
EOF
	echo "$ID" > "$RUNBASE/current"
	: > "$DIR/namespaces"
	machine_rows > "$DIR/machines"
	# a failure (set -e, die) or a signal on the way up leaves nothing behind
	trap 'warn "up failed: tearing lab $ID down"; lab_down "$ID" > /dev/null 2>&1 || true' EXIT
	trap 'exit 130' INT TERM

	build_net
	say "lab $ID: namespaces $(tr '\n' ' ' < "$DIR/namespaces")"
	start_machines
	if [ "$BALANCER" = kamailio ]; then
		say "machines answer on their own address, port $SIP_PORT, with SIPp: $(awk '{printf "%s%s", s, $1; s=", "}' "$DIR/machines")"
	else
		say "machines answer on $VIP:$SIP_PORT with SIPp: $(awk '{printf "%s%s", s, $1; s=", "}' "$DIR/machines")"
		write_config
	fi
	if [ -z "${NO_DAEMON:-}" ]; then start_balancer; fi
	if [ -z "${NO_TRAFFIC:-}" ]; then traffic_start; fi
	trap - EXIT INT TERM
	say "lab $ID is up ($((SECONDS - t0)) s); tools/lab.sh status shows it, tools/lab.sh down removes it"
}

# ---- down -----------------------------------------------------------------

# lab_down ID: every process, pin, namespace and file of a lab; idempotent,
# also for a lab half built or whose state file is gone
lab_down() {
	local id=$1 dir=$RUNBASE/$1 f pid ns
	if [ -d "$dir/pids" ]; then
		# the client first (no new calls), then the balancer, then the machines
		DIR=$dir
		for f in sipp-client understudyd kamailio $(ls "$dir/pids"); do
			pid=$(pid_of "$f") && stop_pid "$pid" TERM 5
		done
	fi
	# removing the pinned links detaches the XDP programs
	rm -rf "$PINBASE/understudy-lab-$id"
	for ns in $(ip netns list 2> /dev/null | awk -v p="$NSPFX-$id-" 'index($1, p) == 1 {print $1}'); do
		# SIPp, understudyd or kamailio (its main process's children, or all
		# of it, pid file lost) still in the lab's namespaces; anything else
		# there (a shell "nsenter" opened) is left alone
		for pid in $(ip netns pids "$ns" 2> /dev/null); do
			case $(cat "/proc/$pid/comm" 2> /dev/null) in
			sipp | understudyd | kamailio) stop_pid "$pid" TERM 2 ;;
			*) warn "pid $pid ($(cat "/proc/$pid/comm" 2> /dev/null)) is still in $ns: left running" ;;
			esac
		done
		ip netns del "$ns" 2> /dev/null || true
	done
	rm -rf "$dir"
	if [ "$(cat "$RUNBASE/current" 2> /dev/null)" = "$id" ]; then rm -f "$RUNBASE/current"; fi
	rmdir "$RUNBASE" 2> /dev/null || true
	return 0
}

# every lab on this machine, whole or in pieces: run directories, namespaces, pins
all_ids() {
	{
		local d
		for d in "$RUNBASE"/*/ "$PINBASE"/understudy-lab-*/; do
			[ -d "$d" ] || continue
			d=${d%/}
			d=${d##*/}
			echo "${d#understudy-lab-}"
		done
		ip netns list 2> /dev/null | awk -v p="$NSPFX-" 'index($1, p) == 1 {split($1, a, "-"); print a[2]}'
	} | sort -u
}

cmd_down() {
	need_root
	local id ids=""
	if [ -n "${ALL:-}" ]; then
		ids=$(all_ids)
	else
		ids=$(current_id) || { say "no lab is up: nothing to tear down"; return 0; }
	fi
	[ -n "$ids" ] || { say "no lab is up: nothing to tear down"; return 0; }
	for id in $ids; do
		lab_down "$id"
		say "lab $id: torn down"
	done
}

# ---- status ---------------------------------------------------------------

cmd_status() {
	load_or_die
	local name addr ver file f st pid p ns
	if [ "$BALANCER" = kamailio ]; then
		echo "understudy lab $ID: balancer kamailio ($KAM_CHILDREN receivers a socket, $KAM_SHM MB, $KAM_ALLOC), scenario $SCENARIO, $RATE calls/s"
	else
		echo "understudy lab $ID: scenario $SCENARIO, $RATE calls/s, $MIRROR % mirrored, policy $POLICY, window $WINDOW"
	fi
	echo
	echo "namespaces:"
	while read -r ns; do
		if [ -e "/run/netns/$ns" ]; then echo "  $ns"; else echo "  $ns (missing)"; fi
	done < "$DIR/namespaces"
	echo
	echo "processes:"
	for p in $([ "$BALANCER" = kamailio ] && echo kamailio || echo understudyd) sipp-client \
		$(awk '{print "sipp-" $1}' "$DIR/machines"); do
		pid=$(pid_of "$p" || true)
		if alive "$pid"; then
			printf '  %-14s pid %-7s up %s\n' "$p" "$pid" "$(ps -o etime= -p "$pid" 2> /dev/null | tr -d ' ')"
		else
			printf '  %-14s not running\n' "$p"
		fi
	done
	echo
	echo "SIPp so far:"
	printf '  '; client_summary
	machines_summary
	echo
	if [ "$BALANCER" = kamailio ]; then
		echo "kamailio: listens on $(in_ns "$NS_B" ss -Hlun "( sport = :$SIP_PORT )" | awk '{printf "%s%s", s, $4; s=", "}')," \
			"dispatches (Call-ID hash) to $(awk '{printf "%s%s", s, $2; s=" "}' "$DIR/dispatcher.list" 2> /dev/null)"
		echo
		echo "by hand:"
		echo "  nsenter --net=/run/netns/$NS_B bash          (a shell in the balancer)"
		echo "  files: $SCEN/kamailio.cfg, $DIR/dispatcher.list, $DIR/log/ (kamailio, SIPp), $DIR/stat/ (SIPp statistics)"
		echo "  tools/lab.sh traffic stop | tools/lab.sh down"
		return 0
	fi
	echo "understudyctl status:"
	if alive "$(pid_of understudyd || true)"; then
		ctl status | sed 's/^/  /' || true
	else
		echo "  (the daemon is not running: tools/lab.sh daemon starts it)"
	fi
	echo
	cat <<EOF
by hand:
  $BUILD/understudyctl --socket $SOCK status --watch 1
  $BUILD/understudyctl --socket $SOCK explain $(awk '$6 == "simulation" {print $1; exit}' "$DIR/machines")
  $BUILD/understudyctl --socket $SOCK events          (also: machines, diffs, promote, reject, ...)
  bpftool map dump pinned $PIN/us_machines
  bpftool map dump pinned $PIN/us_services
  bpftool map dump pinned $PIN/us_calls | head
  bpftool link show; nsenter --net=/run/netns/$NS_B bpftool net
  nsenter --net=/run/netns/$NS_B bash          (a shell in the balancer; "ip netns exec" would hide /sys/fs/bpf)
  files: $CONF, $DIR/log/ (daemon, SIPp), $DIR/stat/ (SIPp statistics)
  tools/lab.sh traffic stop | tools/lab.sh down
EOF
}

# ---- main -----------------------------------------------------------------

main() {
	local cmd=${1:-help}
	[ $# -gt 0 ] && shift
	SCENARIO=good RATE=200 MIRROR=50 HOLD=500 ANSWER_MS=20 POLICY=demo WINDOW=1s
	BALANCER=understudy KAM_CHILDREN=1 KAM_SHM=1024 KAM_ALLOC=tlsf KAM_ARGS=""
	OPT_ID="" NO_DAEMON="" NO_TRAFFIC="" ALL="" MIN_SIM="" TRACE="" SIPP_BUFFER="" CALLS="" OPT_RATE="" OPT_HOLD=""
	local args=()
	while [ $# -gt 0 ]; do
		case $1 in
		--scenario) SCENARIO=${2:?}; shift 2 ;;
		--rate) RATE=${2:?} OPT_RATE=${2:?}; shift 2 ;;
		--mirror) MIRROR=${2:?}; shift 2 ;;
		--hold) HOLD=${2:?} OPT_HOLD=${2:?}; shift 2 ;;
		--answer-ms) ANSWER_MS=${2:?}; shift 2 ;;
		--policy) POLICY=${2:?}; shift 2 ;;
		--window) WINDOW=${2:?}; shift 2 ;;
		--min-sim) MIN_SIM=${2:?}; shift 2 ;;
		--trace) TRACE=1; shift ;;
		--sipp-buffer) SIPP_BUFFER=${2:?}; shift 2 ;;
		--balancer) BALANCER=${2:?}; shift 2 ;;
		--kam-children) KAM_CHILDREN=${2:?}; shift 2 ;;
		--kam-shm) KAM_SHM=${2:?}; shift 2 ;;
		--kam-alloc) KAM_ALLOC=${2:?}; shift 2 ;;
		--kam-args) KAM_ARGS=${2?}; shift 2 ;;
		--calls) CALLS=${2:?}; shift 2 ;;
		--id) OPT_ID=${2:?}; shift 2 ;;
		--no-daemon) NO_DAEMON=1; shift ;;
		--no-traffic) NO_TRAFFIC=1; shift ;;
		--all) ALL=1; shift ;;
		*) args+=("$1"); shift ;;
		esac
	done
	case $cmd in
	up) [ ${#args[@]} = 0 ] || die "up: unexpected \"${args[0]}\""; cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	daemon) need_root; load_or_die; start_balancer ;;
	traffic)
		need_root; load_or_die
		# this start's own rate and hold time, over the lab's
		RATE=${OPT_RATE:-$RATE} HOLD=${OPT_HOLD:-$HOLD}
		for v in "rate $RATE" "hold $HOLD" "calls ${CALLS:-1}"; do
			case ${v#* } in '' | *[!0-9]* | 0) die "--${v% *}: \"${v#* }\" is not a positive integer" ;; esac
		done
		case ${args[0]:-} in
		start) traffic_start ;;
		stop) traffic_stop ;;
		*) die "traffic: start or stop" ;;
		esac ;;
	summary) load_or_die; client_summary; machines_summary ;;
	counts) load_or_die; client_counts ;;
	list) all_ids ;;
	ctl) load_or_die; ctl "${args[@]}" ;;
	signal)
		need_root; load_or_die
		[ ${#args[@]} = 2 ] || die "signal: NAME SIGNAL (NAME: understudyd, sipp-client, sipp-MACHINE)"
		pid=$(pid_of "${args[0]}") || die "signal: ${args[0]} is not running"
		kill "-${args[1]}" "$pid" ;;
	help | -h | --help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
