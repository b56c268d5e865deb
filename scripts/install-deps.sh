#!/usr/bin/env bash
# Installs the Debian packages Sluice needs, only those missing. Idempotent.
set -euo pipefail
# openssh-server and iproute2: the several-hosts tests (network namespaces, an
# sshd per namespace: tests/integration/hosts_lib.sh); ethtool: their impaired
# links where the kernel has no sch_netem (offloads off for link_emu.py).
# python3-fuse (pulls fuse, fusermount): the stalling checkpoint store of
# tests/integration/test_checkpoint_timeout.sh (stall_fs.py). clang and
# libclang-rt-14-dev (libFuzzer's runtime for Debian 12's clang-14): make fuzz.
# zookeeper (the server, pulls a JRE) and libzookeeper-mt-dev (its C client,
# common/zk.c): high availability; scripts/zookeeper.sh runs a local server.
# libmbedtls-dev (mbedTLS, the TLS stack libnng already uses: certificates,
# signatures, AES-256-GCM of sealed checkpoints), openssl (scripts/sluice-certs.sh)
# and tcpdump (the security tests capture the loopback traffic of a run).
pkgs=(libprotobuf-c-dev protobuf-c-compiler libnng-dev libleveldb-dev libyaml-dev
      check libsubunit-dev pkg-config openssh-server iproute2 ethtool
      python3-fuse clang libclang-rt-14-dev zookeeper libzookeeper-mt-dev
      libmbedtls-dev openssl tcpdump)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing missing packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}"
