#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The configuration parser under libFuzzer (build/fuzz_config: ASan, UBSan,
# and the validator's promise, see fuzz/fuzz_config.c) for SECONDS (default
# 20; `make fuzz-config FUZZ_SECONDS=3600` for an hour), seeded with the
# shipped configurations and tests/config/bad. The corpus it grows is kept in
# build/fuzz-config/corpus (later runs start from it); a crash, its input
# and the sanitizer's report are left in build/fuzz-config/ and fail the test.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
out="$top/build/fuzz-config"
bin="$top/build/fuzz_config"
[ -x "$bin" ] || { echo "test_fuzz_config: $bin not built (make all)" >&2; exit 1; }
mkdir -p "$out/corpus"
cd "$out"
set +e
"$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix="$out/" -print_final_stats=1 \
	"$out/corpus" "$top/tests/config" "$top/tests/config/bad" "$top/tests/config/fuzz-seeds" "$top/etc" >"$out/log" 2>&1
rc=$?
set -e
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
if [ "$rc" != 0 ]; then
	echo "test:FAIL:fuzz_config exit $rc after ${runs:-?} runs; the report:"
	grep -E 'ERROR|SUMMARY|fuzz_config:|artifact|Test unit written' "$out/log" | head -20
	exit 1
fi
echo "test:ok:fuzz_config ${runs:-?} runs in $secs s, no crash, leak or refusal of the validator"
