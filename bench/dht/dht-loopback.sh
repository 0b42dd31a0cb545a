#!/usr/bin/env bash
# DHT lookups between real node processes (bench/dht/dht_loopback.py), run inside a network namespace of their own
# with only a loopback interface, so that no DHT datagram can reach the host's interfaces. Needs root (ip netns).
#   bench/dht/dht-loopback.sh [NODES] [LOOKUPS]      # defaults: 20 nodes, 10 lookups per node
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "this benchmark makes a network namespace and needs root"; exit 2; }
dotnet build -c Release src/Tenzro.Node >/dev/null
ns="tenzro-dht-bench-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" env TENZRO_BENCH_NETNS="$ns" python3 bench/dht/dht_loopback.py "$@"
