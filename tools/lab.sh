#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# understudy lab: a balancer, its machines and a client in network namespaces
# on this machine, with real SIP software on every end (SIPp, baresip).
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
#   balancer, and runs a SIP user agent on VIP:5060: SIPp as UAS with one of
#   the scenarios of tools/lab (--machine-sw sipp, the default) or baresip,
#   a real softphone answering automatically (--machine-sw baresip); the
#   client runs SIPp as UAC from 198.18.0.1:5070 to VIP:5060.
#
# Call flows (--call-flow; client scenario uac[-FLOW].xml, machines' SIPp
# scenario uas[-FLOW].xml):
#   basic     INVITE, 100, 180, 200, ACK, (hold) BYE, 200
#   hangup    the machine hangs up: ... ACK, (hold) BYE from the machine, 200
#   reinvite  ... ACK, (hold) re-INVITE with SDP, 200 with SDP, ACK, (hold) BYE, 200
#   prack     INVITE, 100, 183 reliable (100rel, RSeq), PRACK (RAck), 200,
#             200, ACK, (hold) BYE, 200
# The machines' SIPp scenarios check the To-tag of every in-dialog request
# exactly (481 and a failed call otherwise) and repeat their 200 until ACKed,
# as real servers do; baresip does both by itself (docs/lab.md).
#
# --ipv6: dual stack. Every namespace also gets an address from 2001:db8::/32:
#   client 2001:db8::1/64, balancer cli 2001:db8::fe/64, mach 2001:db8:1::fe/64,
#   machine 198.18.1.N -> 2001:db8:1::N/64 on a second port (eth1, its own MAC:
#   the balancer tells machines apart by MAC), the VIP 2001:db8:100::1/128 on
#   the machines' lo. The daemon's configuration gets a second service, "sip6", on
#   [2001:db8:100::1]:5060, whose machines are the same hosts, named NAME.v6;
#   every machine runs a second user agent on the IPv6 VIP, and a second client
#   SIPp calls it from [2001:db8::1]:5070 at the same rate.
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
# the address plan, shared with the tests' networks (tools/lab/net.h)
eval "$(sed -n 's/^#define US_NET_\([A-Z0-9_]*\) *"\{0,1\}\([^" ]*\)"\{0,1\}$/NET_\1=\2/p' \
	"$TOP/tools/lab/net.h")"
VIP=$NET_VIP4
SIP_PORT=5060
CLI_IP=$NET_CLIENT4
CLI_PORT=5070
VIP6=$NET_VIP6
CLI_IP6=$NET_CLIENT6
BAL_CLI6=$NET_BAL_CLI6
BAL_MACH6=$NET_BAL_MACH6
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
      --hold MS          call hold time, ACK to BYE (default 500; reinvite: before and
                         after the re-INVITE; hangup: the machines' time before their BYE)
      --answer-ms MS     SIPp machines' answer time before each final (default 20;
                         slow: 2x); baresip answers at once
      --call-flow FLOW   basic (default), hangup (the machine sends the BYE), reinvite
                         (a re-INVITE with SDP mid-call) or prack (a reliable 183, PRACK)
      --machine-sw SPEC  each machine's SIP software: sipp (default: SIPp, strict
                         scenario of the call flow), baresip (basic and reinvite flows;
                         not v2-bad, v2-slow) or sipp-lenient (basic flow only: matches
                         by Call-ID, never repeats its 200; for a machine in simulation
                         while the balancer leaves its dialog untranslated). SPEC: one
                         name for every machine, NAME=SW pairs, or both, comma-separated
                         (e.g. "baresip", "v1-a=baresip,v2-good=baresip",
                         "baresip,v1-b=sipp"); NAME is a machine's, without .v6
      --ipv6             dual stack: IPv6 addresses (2001:db8::/32) everywhere, a second
                         service on the IPv6 VIP 2001:db8:100::1, a user agent on it on
                         every machine and a second client calling it
      --policy NAME      demo (min_paired 500, 20 s, 3 windows), quick (300, 5 s, 3)
                         or hold (as demo, mode hold: judged and explained, never
                         moved; for benchmarks)
      --min-sim S        the policy's min_simulation_seconds instead of its own
      --windows N        the policy's consecutive_windows instead of its own
      --latency-slack MS the policy's latency_slack instead of 10ms (e.g. 500ms)
      --outage FROM:FOR  every SIPp machine, both versions, answers 503 to every INVITE
                         from FROM s after the machines start, for FOR s (an outage
                         upstream of the service; basic call flow, SIPp machines only)
      --window D         judging window (default 1s)
      --trace            SIPp logs every message (-trace_shortmsg) to log/sipp-NAME.msgs;
                         baresip every message whole to log/baresip-NAME.trace (its
                         log/baresip-NAME.msgs, one line a message, is always written)
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
  counts                 the same as NAME=VALUE words (for scripts): the client's
                         placed, successful, failed, unexpected, timeouts, retransmissions
                         (client6.* for the IPv6 client); per machine (NAME, NAME.v6)
                         received, failed, unexpected, retransmissions, sent481, bye
                         (BYEs it sent), sw
  signal NAME SIG        send SIG to a lab process: understudyd, kamailio, sipp-client,
                         sipp-client6, sipp-MACHINE, baresip-MACHINE (MACHINE: v1-a,
                         v1-a.v6, ...)
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

# pid_of NAME: the pid in pids/NAME if that process is still the lab's: the
# program its name says (sipp-*: sipp, baresip-*: baresip, blog-*: the perl
# filter of a baresip's output, understudyd, kamailio); a pid file outliving
# its process must not name another process
pid_of() {
	local pid want
	[ -s "$DIR/pids/$1" ] || return 1
	pid=$(cat "$DIR/pids/$1")
	case $1 in
	sipp-*) want=sipp ;;
	baresip-*) want=baresip ;;
	blog-*) want=perl ;;
	understudyd | kamailio) want=$1 ;;
	*) return 1 ;;
	esac
	[ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$want" ] || return 1
	# the filter: a perl running tools/lab/sipstamp.pl, none other
	[ "$want" != perl ] || tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q 'sipstamp\.pl' || return 1
	echo "$pid"
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

# the lab's machines: name, host number (198.18.1.N, 2001:db8:1::N), version,
# kind (answers as version 1 or refuses 1 % of calls), answer factor (tenths), state
base_rows() {
	echo "v1-a 1 1.0 normal 10 active"
	echo "v1-b 2 1.0 normal 10 active"
	local s
	for s in ${SCENARIO//,/ }; do
		case $s in
		good) echo "v2-good 11 2.0 normal 10 simulation" ;;
		bad)  echo "v2-bad 12 2.0 refuse 10 simulation" ;;
		slow) echo "v2-slow 13 2.0 normal 20 simulation" ;;
		good2) echo "v2-good2 14 2.0 normal 10 simulation" ;;
		esac
	done
}

# machine_sw NAME: the SIP software of a machine, from --machine-sw
machine_sw() {
	local sw=sipp t
	for t in ${MACHINE_SW//,/ }; do
		case $t in
		"$1="*) echo "${t#*=}"; return ;;
		*=*) ;;
		*) sw=$t ;;
		esac
	done
	echo "$sw"
}

# check_machine_sw: --machine-sw names known machines and software, and each
# machine's software can play its part in the call flow
check_machine_sw() {
	local t names name host ver kind f st sw
	# every machine the lab knows (a name not in this lab's scenario is unused)
	names=" $(SCENARIO=good,bad,slow,good2 base_rows | awk '{printf "%s ", $1}')"
	for t in ${MACHINE_SW//,/ }; do
		sw=${t#*=}
		case $t in
		*=*) case $names in *" ${t%%=*} "*) ;; *) die "--machine-sw: no machine \"${t%%=*}\" in the lab (machines:$names)" ;; esac ;;
		esac
		case $sw in sipp | baresip | sipp-lenient) ;; *) die "--machine-sw: \"$sw\" is not sipp, baresip or sipp-lenient" ;; esac
	done
	while read -r name host ver kind f st; do
		sw=$(machine_sw "$name")
		case $sw/$kind/$f/$FLOW in
		baresip/refuse/*) die "--machine-sw: $name refuses 1 % of calls with a SIPp scenario; baresip cannot" ;;
		baresip/*/20/*) die "--machine-sw: $name answers 2x slower with a SIPp scenario; baresip answers at once" ;;
		baresip/*/*/hangup) die "--machine-sw: baresip does not hang up by itself (call flow hangup): $name must run sipp" ;;
		baresip/*/*/prack) die "--machine-sw: baresip 1.0 has no reliable provisional answers (it answers 420 to Require: 100rel; call flow prack): $name must run sipp" ;;
		sipp-lenient/refuse/*) die "--machine-sw: $name refuses calls with its own (strict) scenario; sipp-lenient is not for it" ;;
		sipp-lenient/*/*/basic) ;;
		sipp-lenient/*) die "--machine-sw: sipp-lenient has the basic call flow only, not $FLOW ($name)" ;;
		esac
	done < <(base_rows)
}

# uas_file KIND SW: the SIPp scenario of a machine ("-" for baresip)
uas_file() {
	case $2 in
	baresip) echo - ;;
	sipp-lenient) echo uas-lenient.xml ;;
	*) if [ "$1" = refuse ]; then echo uas-refuse.xml
	   elif [ "$FLOW" = basic ] && [ -n "$OUTAGE" ]; then echo uas-outage.xml
	   elif [ "$FLOW" = basic ]; then echo uas.xml
	   else echo "uas-$FLOW.xml"; fi ;;
	esac
}

# machine table, one row per user agent: name namespace family address
# version scenario-file answer-factor(tenths) state software. With --ipv6
# every machine has two: NAME on the IPv4 VIP, NAME.v6 on the IPv6 VIP.
machine_rows() {
	local name host ver kind f st sw file
	base_rows | while read -r name host ver kind f st; do
		sw=$(machine_sw "$name")
		file=$(uas_file "$kind" "$sw")
		echo "$name $name 4 $NET_MACH4$host $ver $file $f $st $sw"
		if [ -n "$IPV6" ]; then echo "$name.v6 $name 6 $NET_MACH6$host $ver $file $f $st $sw"; fi
	done
}

write_config() {
	local pol
	case $POLICY in
	# the lab's machines answer in a few ms; scheduling noise of that
	# order is no regression (latency_slack; v2-slow is 20 ms slower)
	demo)  pol="min_paired: 500, min_simulation_seconds: 20, consecutive_windows: 3, latency_slack: 10ms" ;;
	quick) pol="min_paired: 300, min_simulation_seconds: 5, consecutive_windows: 3, latency_slack: 10ms" ;;
	# judged and explained every window, never moved (policy mode hold)
	hold)  pol="mode: hold, min_paired: 500, min_simulation_seconds: 20, consecutive_windows: 3, latency_slack: 10ms" ;;
	esac
	[ -n "$MIN_SIM" ] && pol="${pol/min_simulation_seconds: [0-9]*,/min_simulation_seconds: $MIN_SIM,}"
	[ -n "$LAT_SLACK" ] && pol="${pol/latency_slack: [0-9a-z]*/latency_slack: $LAT_SLACK}"
	[ -n "$WINDOWS" ] && pol="${pol/consecutive_windows: [0-9]*/consecutive_windows: $WINDOWS}"
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
		local name ns fam addr ver file f st sw
		while read -r name ns fam addr ver file f st sw; do
			[ "$fam" = 4 ] || continue
			echo "      - {name: $name, address: $addr, version: \"$ver\", state: $st}"
		done < "$DIR/machines"
		[ -n "$IPV6" ] || return 0
		cat <<EOF
  # the same machines, on their IPv6 addresses, for the IPv6 VIP
  - name: sip6
    vip: "$VIP6"
    port: $SIP_PORT
    protocol: udp
    mirror_percent: $MIRROR
    policy: {$pol}
    machines:
EOF
		while read -r name ns fam addr ver file f st sw; do
			[ "$fam" = 6 ] || continue
			echo "      - {name: $name, address: \"$addr\", version: \"$ver\", state: $st}"
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
	local ns name nsn fam addr ver file f st sw
	for ns in "$NS_C" "$NS_B" "$NS_SW" $(awk -v p="$NSPFX-$ID-" '$3 == 4 {print p $2}' "$DIR/machines"); do
		echo "$ns" >> "$DIR/namespaces"     # registered before it exists: down covers it
		ip netns add "$ns"
		# before any interface exists, so that every one inherits them
		ns_sysctl "$ns" ipv6/conf/all/accept_dad=0 ipv6/conf/default/accept_dad=0 \
			ipv4/conf/all/rp_filter=0 ipv4/conf/default/rp_filter=0
		ip -n "$ns" link set lo up
	done

	# client <-> balancer
	ip -n "$NS_B" link add cli type veth peer name eth0 netns "$NS_C"
	ip -n "$NS_B" addr add "$NET_BAL_CLI4/$NET_PLEN4" dev cli
	ip -n "$NS_C" addr add "$CLI_IP/$NET_PLEN4" dev eth0

	# balancer <-> switch; the machines on the bridge
	ip -n "$NS_SW" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$NS_B" link add mach type veth peer name uplink netns "$NS_SW"
	ip -n "$NS_SW" link set uplink master br0
	ip -n "$NS_B" addr add "$NET_BAL_MACH4/$NET_PLEN4" dev mach
	while read -r name nsn fam addr ver file f st sw; do
		[ "$fam" = 4 ] || continue
		ns=$NSPFX-$ID-$name
		ip -n "$NS_SW" link add "p-$name" type veth peer name eth0 netns "$ns"
		ip -n "$NS_SW" link set "p-$name" master br0
		ip -n "$NS_SW" link set "p-$name" up
		ip -n "$ns" addr add "$addr/$NET_PLEN4" dev eth0
		# behind Kamailio a machine is reached at its own address: it holds
		# no VIP, nothing of it answers from there
		[ "$BALANCER" = kamailio ] || ip -n "$ns" addr add $VIP/32 dev lo
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "$NET_BAL_MACH4"
		# the machines' UDP is forwarded by XDP: send it with a finished checksum
		in_ns "$ns" ethtool -K eth0 tx off > /dev/null
	done < "$DIR/machines"
	# the IPv6 side of the same machines, on a second port (eth1, DAD off:
	# usable at once): the balancer tells a machine's answers by its MAC
	# address, one machine per MAC, and NAME.v6 is a machine of its own
	while read -r name nsn fam addr ver file f st sw; do
		[ "$fam" = 6 ] || continue
		ns=$NSPFX-$ID-$nsn
		ip -n "$NS_SW" link add "q-$nsn" type veth peer name eth1 netns "$ns"
		ip -n "$NS_SW" link set "q-$nsn" master br0
		ip -n "$NS_SW" link set "q-$nsn" up
		ip -n "$ns" addr add "$addr/$NET_PLEN6" dev eth1 nodad
		[ "$BALANCER" = kamailio ] || ip -n "$ns" addr add $VIP6/128 dev lo
		ip -n "$ns" link set eth1 up
		ip -n "$ns" -6 route add default via $BAL_MACH6 dev eth1
		in_ns "$ns" ethtool -K eth1 tx off > /dev/null
	done < "$DIR/machines"
	ip -n "$NS_SW" link set br0 up
	ip -n "$NS_SW" link set uplink up

	ip -n "$NS_C" link set eth0 up
	ip -n "$NS_C" route add default via "$NET_BAL_CLI4"
	if [ -n "$IPV6" ]; then
		ip -n "$NS_C" addr add "$CLI_IP6/$NET_PLEN6" dev eth0 nodad
		ip -n "$NS_C" -6 route add default via $BAL_CLI6 dev eth0
		ip -n "$NS_B" addr add "$BAL_CLI6/$NET_PLEN6" dev cli nodad
		ip -n "$NS_B" addr add "$BAL_MACH6/$NET_PLEN6" dev mach nodad
	fi
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
	# (IPv6: the neighbour solicitations pass the balancer's XDP programs,
	# which hand every packet not for a service to the kernel)
	in_ns "$NS_C" bash -c "echo warm-up > /dev/udp/$NET_BAL_CLI4/9" 2> /dev/null || true
	if [ -n "$IPV6" ]; then in_ns "$NS_C" bash -c "echo warm-up > /dev/udp/$BAL_CLI6/9" 2> /dev/null || true; fi
	while read -r name nsn fam addr ver file f st sw; do
		if [ "$fam" = 4 ]; then
			in_ns "$NSPFX-$ID-$nsn" bash -c "echo warm-up > /dev/udp/$NET_BAL_MACH4/9" 2> /dev/null || true
		else
			in_ns "$NSPFX-$ID-$nsn" bash -c "echo warm-up > /dev/udp/$BAL_MACH6/9" 2> /dev/null || true
		fi
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

# ua_proc SW: the process name of a machine's software (pid file PROC-NAME)
ua_proc() { if [ "$1" = baresip ]; then echo baresip; else echo sipp; fi; }

# start_baresip NAME NS ADDRESS FAMILY: baresip as the machine's SIP service
# on ADDRESS:5060, answering every call at once (account answermode=auto),
# its SIP trace (-s) through tools/lab/sipstamp.pl into log/baresip-NAME.msgs
# (one line a message, timed) and log/baresip-NAME.log; both processes have
# pid files (baresip-NAME, blog-NAME). Configuration in baresip/NAME/.
start_baresip() {
	local name=$1 ns=$2 a=$3 hp=$3 d fifo i trace=()
	[ "$4" = 6 ] && hp="[$3]"
	d=$DIR/baresip/$name
	mkdir -p "$d"
	cat > "$d/config" <<EOF
# baresip of machine $name, lab $ID: written by tools/lab.sh (docs/lab.md)
poll_method		epoll
sip_listen		$hp:$SIP_PORT
call_local_timeout	120
# the default (256 call lines) runs out under load
call_max_calls		4096
audio_player		none,none
audio_source		none,none
audio_alert		none,none
module_path		/usr/lib/baresip/modules
module			g711.so
module_tmp		account.so
EOF
	echo "<sip:service@$hp>;regint=0;answermode=auto;audio_codecs=PCMU" > "$d/accounts"
	fifo=$d/output
	rm -f "$fifo" "$DIR/pids/baresip-$name" "$DIR/pids/blog-$name"
	mkfifo "$fifo"
	[ -z "${TRACE:-}" ] || trace=("$DIR/log/baresip-$name.trace")
	# the filter first: it opens the FIFO and waits for baresip's output
	# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
	setsid nsenter --net="/run/netns/$ns" -- sh -c 'echo $$ > "$0"; exec "$@"' "$DIR/pids/blog-$name" \
		perl "$SCEN/sipstamp.pl" "$hp:$SIP_PORT" "$DIR/log/baresip-$name.msgs" "$DIR/log/baresip-$name.log" \
		"${trace[@]}" < "$fifo" > "$DIR/log/blog-$name.err" 2>&1 &
	# as many open files as calls (two RTP sockets each); output line by line
	# shellcheck disable=SC2016
	setsid nsenter --net="/run/netns/$ns" -- sh -c 'echo $$ > "$0"; ulimit -n 65536 2> /dev/null || true; exec "$@"' \
		"$DIR/pids/baresip-$name" stdbuf -oL baresip -f "$d" -s < /dev/null > "$fifo" 2>&1 &
	for i in $(seq 1 100); do
		[ -s "$DIR/pids/baresip-$name" ] && [ -s "$DIR/pids/blog-$name" ] && return 0
		sleep 0.02
	done
	die "baresip of $name: did not start (see $DIR/log/baresip-$name.log)"
}

# ua_listening NS ADDRESS FAMILY: a socket is bound to ADDRESS:5060 in NS
ua_listening() {
	local a=$2
	[ "$3" = 6 ] && a="[$2]"
	in_ns "$1" ss -Hlun "( sport = :$SIP_PORT )" 2> /dev/null | grep -qF " $a:$SIP_PORT "
}

start_machines() {
	local name nsn fam addr ver file f st sw ms ip i hold=() outage=()
	[ "$FLOW" != hangup ] || hold=(-set hold "$HOLD")
	# --outage FROM:FOR: from FROM s after the machines start, for FOR s
	if [ -n "$OUTAGE" ]; then
		local t0
		t0=$(date +%s)
		outage=(-set outage_from $((t0 + ${OUTAGE%%:*})) -set outage_to $((t0 + ${OUTAGE%%:*} + ${OUTAGE#*:})))
		say "outage: every machine answers 503 from $(date -d @$((t0 + ${OUTAGE%%:*})) +%T) for ${OUTAGE#*:} s"
	fi
	while read -r name nsn fam addr ver file f st sw; do
		ms=$((ANSWER_MS * f / 10))
		ip=$VIP
		[ "$fam" = 6 ] && ip=$VIP6
		[ "$BALANCER" = kamailio ] && ip=$addr
		if [ "$sw" = baresip ]; then
			start_baresip "$name" "$NSPFX-$ID-$nsn" "$ip" "$fam"
			continue
		fi
		trace_opts "$name"
		# -timer_resol 1: the answer time to the ms (default 10 ms)
		start_bg "sipp-$name" "$NSPFX-$ID-$nsn" "$DIR/log/sipp-$name.log" \
			sipp -sf "$SCEN/$file" -i "$ip" -p $SIP_PORT -d "$ms" -timer_resol 1 \
			-key server "understudy-lab-$name" -nostdin "${hold[@]}" \
			$([ "$file" = uas-outage.xml ] && echo "${outage[@]}") \
			-trace_stat -stf "$DIR/stat/$name.csv" -fd 1 \
			-trace_screen -screen_file "$DIR/stat/$name.screen" \
			-trace_err -error_file "$DIR/log/sipp-$name.errors" "${TOPTS[@]}"
	done < "$DIR/machines"
	# every user agent listening (baresip takes a moment)
	while read -r name nsn fam addr ver file f st sw; do
		ip=$VIP
		[ "$fam" = 6 ] && ip=$VIP6
		[ "$BALANCER" = kamailio ] && ip=$addr
		for ((i = 0; i < 100; i++)); do
			ua_listening "$NSPFX-$ID-$nsn" "$ip" "$fam" && break
			alive "$(pid_of "$(ua_proc "$sw")-$name")" || break
			sleep 0.05
		done
		if [ "$sw" = baresip ]; then
			{ alive "$(pid_of "baresip-$name")" && ua_listening "$NSPFX-$ID-$nsn" "$ip" "$fam"; } ||
				die "baresip of $name did not come up: $(tail -3 "$DIR/log/baresip-$name.log" 2> /dev/null)"
		else
			{ alive "$(pid_of "sipp-$name")" && ua_listening "$NSPFX-$ID-$nsn" "$ip" "$fam"; } ||
				die "SIPp of $name exited: $(tail -3 "$DIR/log/sipp-$name.log")"
		fi
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
	awk -v p=$SIP_PORT '$3 == 4 && $8 == "active" { print 1, "sip:" $4 ":" p }' "$DIR/machines" > "$DIR/dispatcher.list"
	mkdir -p "$DIR/kamailio"
	kamailio -c -f "$SCEN/kamailio.cfg" -A "DS_LIST=\"$DIR/dispatcher.list\"" -l "udp:127.0.0.1:$SIP_PORT" \
		> "$DIR/log/kamailio-check.log" 2>&1 || die "kamailio refuses $SCEN/kamailio.cfg (see $DIR/log/kamailio-check.log)"
	# -DD: the main process stays in the foreground (its pid is the lab's),
	# its receivers are its children; -E: log to stderr, into the log file
	start_bg kamailio "$NS_B" "$DIR/log/kamailio.log" \
		kamailio -f "$SCEN/kamailio.cfg" -DD -E -Y "$DIR/kamailio" \
		-A "DS_LIST=\"$DIR/dispatcher.list\"" \
		-l "udp:$VIP:$SIP_PORT" -l "udp:$NET_BAL_MACH4:$SIP_PORT" \
		-n "$KAM_CHILDREN" -m "$KAM_SHM" -M 16 -x "$KAM_ALLOC" "${kargs[@]}"
	pid=$(pid_of kamailio || true)
	for ((i = 0; i < 600; i++)); do
		if [ "$(in_ns "$NS_B" ss -Hlun "( sport = :$SIP_PORT )" 2> /dev/null |
			grep -c -e " $VIP:$SIP_PORT " -e " $NET_BAL_MACH4:$SIP_PORT ")" = 2 ]; then
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

# client_file: the client's scenario for the call flow
client_file() { if [ "$FLOW" = basic ]; then echo uac.xml; else echo "uac-$FLOW.xml"; fi; }

# start_client NAME ADDRESS TARGET: the client's SIPp (pid file sipp-NAME,
# statistics stat/NAME.csv)
start_client() {
	local name=$1 src=$2 target=$3 limit calls=() stat=${1#sipp-}
	# simultaneous calls: room for every call of 3 s past its hold time
	# (twice the hold time with a re-INVITE between)
	limit=$((RATE * (2 * HOLD / 1000 + 3)))
	[ "$limit" -ge 10000 ] || limit=10000
	[ -z "${CALLS:-}" ] || calls=(-m "$CALLS")
	rm -f "$DIR/stat/$stat.csv" "$DIR/stat/$stat.screen"
	trace_opts "$stat"
	start_bg "$name" "$NS_C" "$DIR/log/$name.log" \
		sipp -sf "$SCEN/$(client_file)" -i "$src" -p $CLI_PORT -r "$RATE" -d "$HOLD" -l "$limit" "${calls[@]}" \
		-nostdin -trace_stat -stf "$DIR/stat/$stat.csv" -fd 1 \
		-trace_screen -screen_file "$DIR/stat/$stat.screen" \
		-trace_err -error_file "$DIR/log/$name.errors" "${TOPTS[@]}" \
		"$target"
}

traffic_start() {
	local pid c
	pid=$(pid_of sipp-client || true)
	if alive "$pid"; then say "the client already calls (pid $pid)"; return 0; fi
	start_client sipp-client $CLI_IP "$VIP:$SIP_PORT"
	[ -z "$IPV6" ] || start_client sipp-client6 $CLI_IP6 "[$VIP6]:$SIP_PORT"
	sleep 0.3
	# with --calls, a short run may be over already
	for c in client $([ -z "$IPV6" ] || echo client6); do
		if ! alive "$(pid_of "sipp-$c")" &&
			{ [ -z "${CALLS:-}" ] || ! grep -q '^StartTime' "$DIR/stat/$c.csv" 2> /dev/null; }; then
			die "the client's SIPp ($c) exited: $(tail -3 "$DIR/log/sipp-$c.log")"
		fi
	done
	say "the client calls $VIP:$SIP_PORT${IPV6:+ and [$VIP6]:$SIP_PORT} at $RATE calls/s${IPV6:+ each} (call flow $FLOW, hold $HOLD ms${CALLS:+, $CALLS calls}), SIPp pid $(cat "$DIR/pids/sipp-client")"
}

# csv_field FILE NAME: the last value of a column of a SIPp statistics file
csv_field() {
	[ -s "$1" ] || { echo "-"; return; }
	awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
		c && $0 != "" { v = $c } END { print (v == "" ? "-" : v) }' "$1"
}

# client_summary [NAME]: the client's (client or client6) SIPp counters
client_summary() {
	local c=${1:-client} f
	f=$DIR/stat/$c.csv
	if [ ! -s "$f" ]; then
		echo "$c (SIPp UAC): no calls yet (tools/lab.sh traffic start)"
		return
	fi
	printf '%s (SIPp UAC): %s calls placed, %s successful, %s failed (%s on an unexpected message, %s on a receive timeout), %s retransmissions\n' \
		"$c" "$(csv_field "$f" 'OutgoingCall(C)')" "$(csv_field "$f" 'SuccessfulCall(C)')" \
		"$(csv_field "$f" 'FailedCall(C)')" "$(csv_field "$f" 'FailedUnexpectedMessage(C)')" \
		"$(csv_field "$f" 'FailedTimeoutOnRecv(C)')" "$(csv_field "$f" 'Retransmissions(C)')"
}

# msgs_counts FILE: from a message log (SIPp's -trace_shortmsg or
# sipstamp.pl's: date, time, epoch, S|R, Call-ID, CSeq, first line), the
# machine's "received failed retransmissions sent481 bye": calls received
# (INVITEs without To-tag), calls gone wrong (a 481, 4xx-6xx to an INVITE,
# or a BYE of its own), messages sent again (a 200 repeated for want of an
# ACK, a BYE for want of an answer), 481s sent, calls it sent a BYE in
msgs_counts() {
	if [ ! -e "$1" ]; then echo "- - - - -"; return; fi
	awk -F'\t' '
		$4 == "R" && $7 ~ /^INVITE / && ($8 == "" || $8 == "-") { rec[$5] = 1 }
		$4 != "S" { next }
		{ k = $5 SUBSEP $6 SUBSEP $7; if (n[k]++) retr++ }
		$7 ~ /^SIP\/2\.0 481/ { c481++; bad[$5] = 1 }
		$7 ~ /^SIP\/2\.0 [4-6][0-9][0-9]/ && $6 ~ / INVITE$/ { bad[$5] = 1 }
		$7 ~ /^BYE / { bye[$5] = 1; bad[$5] = 1 }
		END {
			for (k in rec) r++
			for (k in bad) f++
			for (k in bye) b++
			print r + 0, f + 0, retr + 0, c481 + 0, b + 0
		}' "$1"
}

# machine_counts NAME SW: "received failed unexpected retransmissions sent481 bye"
# (SIPp: its statistics, and its message log with --trace; baresip: its
# message log; "-" where a figure is not known)
machine_counts() {
	local r f rt c481 b
	if [ "$2" = baresip ]; then
		read -r r f rt c481 b <<< "$(msgs_counts "$DIR/log/baresip-$1.msgs")"
		echo "$r $f - $rt $c481 $b"
		return
	fi
	local csv=$DIR/stat/$1.csv
	read -r _ _ _ c481 b <<< "$(msgs_counts "$DIR/log/sipp-$1.msgs")"
	# a machine that hangs up sends a BYE in every call, by design
	echo "$(csv_field "$csv" 'IncomingCall(C)') $(csv_field "$csv" 'FailedCall(C)')" \
		"$(csv_field "$csv" 'FailedUnexpectedMessage(C)') $(csv_field "$csv" 'Retransmissions(C)') $c481 $b"
}

# client_counts: SIPp's counters, one NAME=VALUE a line
client_counts() {
	local c f p
	for c in client $([ -z "$IPV6" ] || echo client6); do
		f=$DIR/stat/$c.csv
		p=""
		[ "$c" = client ] || p="$c."
		echo "${p}placed=$(csv_field "$f" 'OutgoingCall(C)') ${p}successful=$(csv_field "$f" 'SuccessfulCall(C)')" \
			"${p}failed=$(csv_field "$f" 'FailedCall(C)') ${p}unexpected=$(csv_field "$f" 'FailedUnexpectedMessage(C)')" \
			"${p}timeouts=$(csv_field "$f" 'FailedTimeoutOnRecv(C)') ${p}retransmissions=$(csv_field "$f" 'Retransmissions(C)')" |
			tr ' ' '\n'
	done
	local name nsn fam addr ver file _ st sw r fl u rt c481 b
	while read -r name nsn fam addr ver file _ st sw; do
		read -r r fl u rt c481 b <<< "$(machine_counts "$name" "$sw")"
		echo "$name.received=$r $name.failed=$fl $name.unexpected=$u $name.retransmissions=$rt" \
			"$name.sent481=$c481 $name.bye=$b $name.sw=$sw"
	done < "$DIR/machines" | tr ' ' '\n'
}

machines_summary() {
	local name nsn fam addr ver file f st sw r fl u rt c481 b
	while read -r name nsn fam addr ver file f st sw; do
		read -r r fl u rt c481 b <<< "$(machine_counts "$name" "$sw")"
		printf '  %-11s (%-12s) %s calls received, %s failed (%s on an unexpected message), %s retransmissions, %s 481 sent, %s BYE sent\n' \
			"$name" "$sw" "$r" "$fl" "$u" "$rt" "$c481" "$b"
	done < "$DIR/machines"
}

traffic_stop() {
	local pid c pids=()
	for c in client client6; do
		pid=$(pid_of "sipp-$c" || true)
		# SIGUSR1: SIPp places no new call and exits once the calls in
		# progress have ended (hold + answers: about a second here)
		if alive "$pid"; then kill -USR1 "$pid" 2>/dev/null || true; pids+=("$pid"); fi
	done
	for pid in "${pids[@]}"; do stop_pid "$pid" 0 $((2 * HOLD / 1000 + 10)); done
	[ ${#pids[@]} = 0 ] || say "the client stopped calling"
	for c in client client6; do
		[ -s "$DIR/stat/$c.csv" ] || continue
		if [ -s "$DIR/stat/$c.screen" ]; then
			echo "---- SIPp UAC ($c), final screen: messages, retransmissions, timeouts, unexpected"
			awk '/Scenario Screen/ { n++ } n == 1 && !/Scenario Screen/' "$DIR/stat/$c.screen" |
				sed -n '/Messages/,/^ *$/p' | sed '/^ *$/d'
		fi
		client_summary "$c"
	done
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
	case $FLOW in basic | hangup | reinvite | prack) ;; *) die "--call-flow: \"$FLOW\" is not basic, hangup, reinvite or prack" ;; esac
	case $FLOW,$SCENARIO in
	basic,*) ;;
	*bad*) die "--scenario bad: the machine refusing 1 % of calls has the basic call flow only, not $FLOW" ;;
	esac
	[ -z "$IPV6" ] || [ "$BALANCER" != kamailio ] || die "--ipv6: the lab's Kamailio listens on IPv4 only"
	check_machine_sw
	if [ -n "$(base_rows | while read -r n _; do [ "$(machine_sw "$n")" != baresip ] || echo y; done)" ]; then
		for t in baresip stdbuf perl; do
			command -v $t > /dev/null || die "$t not found (Debian: baresip-core, coreutils, perl; tools/deps.sh installs them)"
		done
		perl -MTime::HiRes -e 1 2> /dev/null || die "perl's Time::HiRes is missing (Debian: perl)"
	fi
	case $POLICY in demo | quick | hold) ;; *) die "--policy: \"$POLICY\" is not demo, quick or hold" ;; esac
	for v in "rate $RATE" "hold $HOLD" "answer-ms $ANSWER_MS"; do
		case ${v#* } in '' | *[!0-9]* | 0) die "--${v% *}: \"${v#* }\" is not a positive integer" ;; esac
	done
	case $MIN_SIM in *[!0-9]*) die "--min-sim: \"$MIN_SIM\" is not a number of seconds" ;; esac
	case $LAT_SLACK in ""|[0-9]*ms) ;; *) die "--latency-slack: \"$LAT_SLACK\" is not a number of milliseconds (e.g. 500ms)" ;; esac
	case $WINDOWS in *[!0-9]* | 0) die "--windows: \"$WINDOWS\" is not a number of windows (1 or more)" ;; esac
	case $OUTAGE in "" | [0-9]*:[0-9]*) ;; *) die "--outage: \"$OUTAGE\" is not FROM:FOR (seconds)" ;; esac
	case $OUTAGE in *:*[!0-9]* | *[!0-9]*:*) die "--outage: \"$OUTAGE\" is not FROM:FOR (seconds)" ;; esac
	if [ -n "$OUTAGE" ] && { [ "$FLOW" != basic ] ||
		[ -n "$(base_rows | while read -r n _; do [ "$(machine_sw "$n")" = sipp ] || echo "$n"; done)" ]; }; then
		die "--outage: the outage scenario is SIPp's strict basic flow: not with --call-flow $FLOW, nor baresip or sipp-lenient machines"
	fi
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
FLOW=$FLOW MACHINE_SW=$(printf '%q' "$MACHINE_SW") IPV6=$IPV6
MIN_SIM=$MIN_SIM TRACE=$TRACE SIPP_BUFFER=$SIPP_BUFFER WINDOWS=$WINDOWS OUTAGE=$OUTAGE LAT_SLACK=$LAT_SLACK
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
	local who
	who=$(awk '{printf "%s%s (%s)", s, $1, $9; s=", "}' "$DIR/machines")
	if [ "$BALANCER" = kamailio ]; then
		say "machines answer on their own address, port $SIP_PORT (call flow $FLOW): $who"
	else
		say "machines answer on $VIP:$SIP_PORT${IPV6:+ and [$VIP6]:$SIP_PORT} (call flow $FLOW): $who"
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
		for f in sipp-client sipp-client6 understudyd kamailio $(ls "$dir/pids"); do
			case $f in
			# baresip's first SIGTERM ends its calls (a BYE each, answered or
			# not), a second one ends baresip
			baresip-*) pid=$(pid_of "$f") && { kill -TERM "$pid" 2> /dev/null; sleep 0.1; stop_pid "$pid" TERM 3; } ;;
			*) pid=$(pid_of "$f") && stop_pid "$pid" TERM 5 ;;
			esac
		done
	fi
	# removing the pinned links detaches the XDP programs
	rm -rf "$PINBASE/understudy-lab-$id"
	for ns in $(ip netns list 2> /dev/null | awk -v p="$NSPFX-$id-" 'index($1, p) == 1 {print $1}'); do
		# SIPp, baresip, its output filter, understudyd or kamailio (its
		# main process's children, or all of it, pid file lost) still in
		# the lab's namespaces; anything else there (a shell "nsenter"
		# opened) is left alone
		for pid in $(ip netns pids "$ns" 2> /dev/null); do
			case $(cat "/proc/$pid/comm" 2> /dev/null) in
			sipp | understudyd | kamailio | baresip) stop_pid "$pid" TERM 2 ;;
			perl)
				if tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q 'sipstamp\.pl'; then
					stop_pid "$pid" TERM 2
				else
					warn "pid $pid (perl) is still in $ns: left running"
				fi ;;
			"") ;; # gone meanwhile
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
	local name pid p ns
	if [ "$BALANCER" = kamailio ]; then
		echo "understudy lab $ID: balancer kamailio ($KAM_CHILDREN receivers a socket, $KAM_SHM MB, $KAM_ALLOC), scenario $SCENARIO, $RATE calls/s"
	else
		echo "understudy lab $ID: scenario $SCENARIO, call flow $FLOW, $RATE calls/s${IPV6:+ per family (dual stack)}, $MIRROR % mirrored, policy $POLICY, window $WINDOW"
	fi
	echo
	echo "namespaces:"
	while read -r ns; do
		if [ -e "/run/netns/$ns" ]; then echo "  $ns"; else echo "  $ns (missing)"; fi
	done < "$DIR/namespaces"
	echo
	echo "processes:"
	for p in $([ "$BALANCER" = kamailio ] && echo kamailio || echo understudyd) sipp-client \
		$([ -z "$IPV6" ] || echo sipp-client6) \
		$(awk '{ if ($9 == "baresip") print "baresip-" $1, "blog-" $1; else print "sipp-" $1 }' "$DIR/machines"); do
		pid=$(pid_of "$p" || true)
		if alive "$pid"; then
			printf '  %-20s pid %-7s up %s\n' "$p" "$pid" "$(ps -o etime= -p "$pid" 2> /dev/null | tr -d ' ')"
		else
			printf '  %-20s not running\n' "$p"
		fi
	done
	echo
	echo "SIP user agents so far:"
	printf '  '; client_summary
	[ -z "$IPV6" ] || { printf '  '; client_summary client6; }
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
  $BUILD/understudyctl --socket $SOCK explain $(awk '$8 == "simulation" {print $1; exit}' "$DIR/machines")
  $BUILD/understudyctl --socket $SOCK events          (also: machines, diffs, promote, reject, ...)
  bpftool map dump pinned $PIN/us_machines
  bpftool map dump pinned $PIN/us_services
  bpftool map dump pinned $PIN/us_calls | head
  bpftool link show; nsenter --net=/run/netns/$NS_B bpftool net
  nsenter --net=/run/netns/$NS_B bash          (a shell in the balancer; "ip netns exec" would hide /sys/fs/bpf)
  files: $CONF, $DIR/log/ (daemon, SIPp, baresip: NAME.msgs one line a SIP message),
         $DIR/stat/ (SIPp statistics), $DIR/baresip/ (baresip configurations)
  tools/lab.sh traffic stop | tools/lab.sh down
EOF
}

# ---- main -----------------------------------------------------------------

main() {
	local cmd=${1:-help}
	[ $# -gt 0 ] && shift
	SCENARIO=good RATE=200 MIRROR=50 HOLD=500 ANSWER_MS=20 POLICY=demo WINDOW=1s
	FLOW=basic MACHINE_SW=sipp IPV6=""
	BALANCER=understudy KAM_CHILDREN=1 KAM_SHM=1024 KAM_ALLOC=tlsf KAM_ARGS=""
	OPT_ID="" NO_DAEMON="" NO_TRAFFIC="" ALL="" MIN_SIM="" TRACE="" SIPP_BUFFER="" CALLS="" OPT_RATE="" OPT_HOLD=""
	WINDOWS="" OUTAGE="" LAT_SLACK=""
	local args=()
	while [ $# -gt 0 ]; do
		case $1 in
		--scenario) SCENARIO=${2:?}; shift 2 ;;
		--call-flow) FLOW=${2:?}; shift 2 ;;
		--machine-sw) MACHINE_SW=${2:?}; shift 2 ;;
		--ipv6) IPV6=1; shift ;;
		--rate) RATE=${2:?} OPT_RATE=${2:?}; shift 2 ;;
		--mirror) MIRROR=${2:?}; shift 2 ;;
		--hold) HOLD=${2:?} OPT_HOLD=${2:?}; shift 2 ;;
		--answer-ms) ANSWER_MS=${2:?}; shift 2 ;;
		--policy) POLICY=${2:?}; shift 2 ;;
		--window) WINDOW=${2:?}; shift 2 ;;
		--min-sim) MIN_SIM=${2:?}; shift 2 ;;
		--windows) WINDOWS=${2:?}; shift 2 ;;
		--latency-slack) LAT_SLACK=${2:?}; shift 2 ;;
		--outage) OUTAGE=${2:?}; shift 2 ;;
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
	summary)
		load_or_die; client_summary
		[ -z "$IPV6" ] || client_summary client6
		machines_summary ;;
	counts) load_or_die; client_counts ;;
	list) all_ids ;;
	ctl) load_or_die; ctl "${args[@]}" ;;
	signal)
		need_root; load_or_die
		[ ${#args[@]} = 2 ] || die "signal: NAME SIGNAL (NAME: understudyd, sipp-client, sipp-MACHINE, baresip-MACHINE)"
		pid=$(pid_of "${args[0]}") || die "signal: ${args[0]} is not running"
		kill "-${args[1]}" "$pid" ;;
	help | -h | --help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
