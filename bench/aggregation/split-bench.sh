#!/usr/bin/env bash
# Split tasks across a group (docs/BENCHMARKS.md, "Split tasks across a group"): a CPU-bound split compute job on
# one node against a group of three, every node process held to half a core by a cgroup v1 CPU quota
# (cpu.cfs_quota_us 50000 of cpu.cfs_period_us 100000, one group per node under /sys/fs/cgroup/cpu, removed at
# the end), and the same job with one member killed (SIGKILL) mid-job. Nodes listen on 127.0.0.1 only, with LAN
# discovery and the DHT off. Needs root (the CPU groups), cgroup v1's cpu controller and python3.
#   bench/aggregation/split-bench.sh [RUNS]   (default 3)
# Environment: RANGE_END (12000000000: the range [0, RANGE_END) of the task), PARTS (6), AGGREGATION_LEASE
# (10000 ms), KILL_AT (0.4: the share of the group's median time at which a member is killed), QUOTA_US (50000),
# SHARES (65536: cpu.shares of each node's group, so that it gets its quota while other work runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "this benchmark makes cgroups and needs root"; exit 2; }
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || { echo "no cgroup v1 cpu controller at /sys/fs/cgroup/cpu"; exit 2; }
dotnet build -c Release src/Tenzro.Node >/dev/null
RUNS=${1:-3} NODE_DLL=$(pwd)/src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll python3 bench/aggregation/split_bench.py
