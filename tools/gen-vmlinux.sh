#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate the checked-in vmlinux.h from the running kernel's BTF and record
# which kernel it came from. BPF objects are CO-RE, so this only needs redoing
# when the programs start using types or fields the snapshot lacks.
set -euo pipefail
arch=$(uname -m)
case "$arch" in x86_64) arch=x86 ;; aarch64) arch=arm64 ;; esac
out="$(dirname "$0")/../vmlinux/$arch"
mkdir -p "$out"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out/vmlinux.h.tmp"
mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
echo "$(uname -r) $(uname -v) generated $(date -u +%F)" > "$out/KERNEL"
echo "wrote $out/vmlinux.h from $(uname -r)"
