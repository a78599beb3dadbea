#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Mount the BPF filesystem at /sys/fs/bpf if it is not mounted yet, mode 0755:
# mounted without a mode it is 1777 on many hosts, where any user may make
# (and then own) a pin root before the daemon does. understudyd refuses a pin
# root it does not own or that others may write in, whatever the mount.
set -eu
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then
	exit 0
fi
mkdir -p /sys/fs/bpf
mount -t bpf -o mode=0755 bpf /sys/fs/bpf
echo "bpffs: mounted /sys/fs/bpf (mode 0755)"
