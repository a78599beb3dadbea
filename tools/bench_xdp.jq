# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# What build/bench_xdp measures beyond the per-packet costs bench_pps copies
# into bench/results/latest.json: the floor, every path as a multiple of it,
# the targets, cost against the INVITE's size and header lines. Merged by
# tools/bench.sh (and tests/test_bench.sh):
#   jq -s -f tools/bench_xdp.jq LATEST.json BENCH_XDP.json > MERGED.json
.[0] * (.[1] | {
	ns_per_packet: {floor: .ns_per_packet.floor},
	floor_frame_bytes, x_floor, x_floor_cold, floor_targets,
	ns_by_size, ns_by_header_lines
})
