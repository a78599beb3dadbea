# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Sourced by the shell tests (POSIX sh): one line per check, counted.
passed=0
failed=0

check() {   # name, condition result (0 = pass), detail
	if [ "$2" = 0 ]; then
		echo "PASS $1"
		passed=$((passed + 1))
	else
		echo "test:FAIL:$1 $3"
		failed=$((failed + 1))
	fi
}
