#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# A real Prometheus server (Debian's prometheus) scrapes understudyd's
# /metrics on loopback and a value is queried back through its HTTP API.
# The daemon runs with --no-attach: it loads and programs the maps but
# attaches nothing. Needs root (BPF maps). Ports are chosen per run.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
run=$(mktemp -d /tmp/understudy-prom.XXXXXX)
pin=/sys/fs/bpf/understudy-prom-$$
mport=$((20000 + $$ % 20000))
pport=$((mport + 1))
daemon_pid=
prom_pid=

cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
	rm -rf "$pin" "$run"
}
trap cleanup EXIT INT TERM

# check NAME RESULT DETAIL; the passed and failed counts
. "$top/tests/checks.sh"

cat > "$run/understudy.yaml" <<YAML
balancer:
  client_interface: ust-cli0       # not touched: --no-attach
  machine_interfaces: [ust-mach0]
daemon:
  window: 1s
  socket: $run/ctl.sock
  metrics_listen: 127.0.0.1:$mport
  state_dir: $run/state
  pin_root: $pin
services:
  - name: sip
    vip: 198.18.100.1
    port: 5060
    mirror_percent: 10
    machines:
      - name: v1-a
        address: 198.18.1.1
        version: "1.0"
        state: active
      - name: v2-a
        address: 198.18.1.11
        version: "2.0"
        state: simulation
YAML
cat > "$run/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: understudy
    static_configs:
      - targets: ['127.0.0.1:$mport']
YAML

"$top/build/understudyd" --no-attach -c "$run/understudy.yaml" 2> "$run/daemon.log" &
daemon_pid=$!
prometheus --config.file="$run/prometheus.yml" --storage.tsdb.path="$run/tsdb" \
	--web.listen-address="127.0.0.1:$pport" > "$run/prom.log" 2>&1 &
prom_pid=$!

# the daemon serves the text format itself
ok=1
for _ in $(seq 1 50); do
	if curl -sf "http://127.0.0.1:$mport/metrics" > "$run/metrics.txt"; then ok=0; break; fi
	sleep 0.2
done
check metrics_served $ok "no answer on 127.0.0.1:$mport/metrics; daemon log: $(tail -3 "$run/daemon.log")"
grep -q '^understudy_machine_state{service="sip",machine="v2-a",version="2.0",state="simulation"} 1$' "$run/metrics.txt"
check metrics_state_gauge $? "understudy_machine_state for v2-a missing"
grep -q '^# TYPE understudy_response_latency_seconds histogram$' "$run/metrics.txt" &&
	grep -q 'understudy_response_latency_seconds_bucket{service="sip",machine="v1-a",version="1.0",le="+Inf"} 0' "$run/metrics.txt"
check metrics_histogram $? "latency histogram missing"

# Prometheus scrapes it; ask Prometheus for a value
val=
for _ in $(seq 1 100); do
	val=$(curl -sf "http://127.0.0.1:$pport/api/v1/query?query=understudy_windows_total" |
	      sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
	[ -n "$val" ] && [ "$val" -ge 1 ] && break
	sleep 0.3
done
[ -n "$val" ] && [ "$val" -ge 1 ]
check prometheus_query_windows $? "understudy_windows_total via Prometheus: '${val}'; prometheus log: $(tail -3 "$run/prom.log")"
up=$(curl -sf "http://127.0.0.1:$pport/api/v1/query?query=up%7Bjob%3D%22understudy%22%7D" |
     sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
[ "$up" = 1 ]
check prometheus_target_up $? "up{job=understudy} is '$up'"
st=$(curl -sf "http://127.0.0.1:$pport/api/v1/query?query=understudy_machine_state%7Bmachine%3D%22v1-a%22%2Cstate%3D%22active%22%7D" |
     sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
[ "$st" = 1 ]
check prometheus_query_state $? "understudy_machine_state{machine=v1-a,state=active} is '$st'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
