#!/usr/bin/env bash
# LAN discovery benchmark (docs/BENCHMARKS.md, "LAN discovery"): 5 nodes, each in its own network namespace on
# one bridge (a LAN made here; nothing reaches the host's interfaces). Four stay up; in each run a fifth starts
# with a fresh identity, and the script measures, from the fifth's first announcement (its log line) until all
# four list it, and until all four have an open link to it; then it is killed with SIGKILL and the script
# measures until no table lists it as found on the LAN. Needs root (ip netns), iproute2 and python3.
#   bench/lan/lan-bench.sh [RUNS]        (default 20; KEEP_LOG=1 keeps each node's last log in /tmp/lanbench-NS.log)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
[ "$(id -u)" = 0 ] || { echo "this benchmark makes network namespaces and needs root"; exit 2; }
dotnet build -c Release src/Tenzro.Node >/dev/null
dll=$(pwd)/src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll
tag=$$; sw=tnzb-sw-$tag; ns=()
cleanup() { for n in "${ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done; ip netns del "$sw" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$sw"; ip -n "$sw" link set lo up; ip -n "$sw" link add br0 type bridge; ip -n "$sw" link set br0 up
ip -n "$sw" addr add 10.79.0.254/24 dev br0
for i in 1 2 3 4 5; do
  n=tnzb-n$i-$tag; ns+=("$n"); ip netns add "$n"
  ip -n "$sw" link add v$i type veth peer name eth0 netns "$n"; ip -n "$sw" link set v$i master br0 up
  ip -n "$n" link set lo up; ip -n "$n" addr add 10.79.0.$i/24 dev eth0; ip -n "$n" link set eth0 up
done
ip netns exec "$sw" env NODE_DLL="$dll" NS_LIST="${ns[*]}" RUNS="$runs" python3 bench/lan/lan_bench.py
