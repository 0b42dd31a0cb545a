#!/usr/bin/env bash
# Start-up of two or more builds of the node, side by side: each round starts every node once, in turn, on an empty
# DATA_DIR, and records the wall time from process start to the first 200 on /health and the CPU time (user + system)
# the process had used by then. On a shared machine the wall time follows the load; the CPU time much less, so
# compare the CPU figures of builds measured in the same rounds. Prints each run, then the medians.
#   bench/startup-ab.sh [--rounds N] NODE...
# NODE: a tenzro-node.dll (run with dotnet) or an executable. Example: the build output against a publish:
#   bench/startup-ab.sh src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll out/node/tenzro-node.dll
# Nodes run as the load generator's do: LAN discovery and the DHT off, peer links on 127.0.0.1 (a free port).
set -euo pipefail
rounds=5
if [ "${1:-}" = "--rounds" ]; then rounds=$2; shift 2; fi
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
nodes=()
for node in "$@"; do nodes+=("$(realpath "$node")"); done
set -- "${nodes[@]}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
tick_ms=$((1000 / $(getconf CLK_TCK)))
declare -A walls cpus
for round in $(seq "$rounds"); do
  for node in "$@"; do
    data=$(mktemp -d); port=$(free_port)
    if [[ "$node" == *.dll ]]; then command=(dotnet "$node"); else command=("$node"); fi
    started=$(date +%s%N)
    (cd "$data" && exec env PORT="$port" DATA_DIR="$data/data" BENCHMARK_ON_START=false MIN_CPU_CORES=0 MIN_MEMORY_GB=0 \
      MIN_STORAGE_GB=0 LOG_LEVEL=warning LAN_DISCOVERY_ENABLED=false DHT_ENABLED=false P2P_HOST=127.0.0.1 \
      LOCAL_DISCOVERY_PORT=0 "${command[@]}" >"$data/out.log" 2>&1) &
    pid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do
      kill -0 "$pid" 2>/dev/null || { echo "$node exited:"; cat "$data/out.log"; exit 1; }
      sleep 0.005
    done
    wall=$((($(date +%s%N) - started) / 1000000))
    cpu=$(awk -v t="$tick_ms" '{ print ($14 + $15) * t }' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data"
    echo "round $round: $node: $wall ms to healthy, CPU $cpu ms (load $(cut -d' ' -f1 /proc/loadavg))"
    walls[$node]+="$wall "; cpus[$node]+="$cpu "
  done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for node in "$@"; do
  echo "$node: median of $rounds: $(median <<<"${walls[$node]}") ms to healthy, CPU $(median <<<"${cpus[$node]}") ms"
done
