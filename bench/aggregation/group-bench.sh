#!/usr/bin/env bash
# Aggregation groups (docs/BENCHMARKS.md, "Aggregation groups"): formation time, leader failover after SIGKILL and
# false leader changes under CPU load, between real node processes on 127.0.0.1 (LAN discovery and the DHT off,
# linked by tenzro:// entries). Needs python3.
#   bench/aggregation/group-bench.sh formation [RUNS]     (default 5)
#   bench/aggregation/group-bench.sh failover [KILLS]     (default 50; AGGREGATION_ELECTION_TIMEOUT=150 unless set)
#   bench/aggregation/group-bench.sh steady [MINUTES]     (default 10; default election timeout, 2 busy loops at nice 19)
# Environment: POLL_MS (20), KEEP_LOGS (copy each node's log to /tmp/groupbench-NAME.log).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?formation, failover or steady}
case "$mode" in
  formation) count=${2:-5} ;;
  failover) count=${2:-50} ;;
  steady) count=${2:-10} ;;
  *) echo "unknown mode $mode: formation, failover or steady" >&2; exit 2 ;;
esac
dotnet build -c Release src/Tenzro.Node >/dev/null
NODE_DLL=$(pwd)/src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll python3 bench/aggregation/group_bench.py "$mode" "$count"
