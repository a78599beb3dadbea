#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Mount the BPF filesystem at /sys/fs/bpf if it is not mounted yet.
set -eu
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then
	exit 0
fi
mkdir -p /sys/fs/bpf
mount -t bpf bpf /sys/fs/bpf
echo "bpffs: mounted /sys/fs/bpf"
