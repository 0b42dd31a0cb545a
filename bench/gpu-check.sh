#!/usr/bin/env bash
# What the node's GPU paths do on this machine, in one run (docs/HARDWARE.md, "GPU check"):
#   1. the driver's view (nvidia-smi);
#   2. the node's GPU detection and whether ONNX Runtime's CUDA provider loads (GET /api/hardware/profile:
#      gpus, gpuCompute, and the optimizations entry of the execution provider);
#   3. the GPU micro-benchmark (benchmarks.gpuMatMul, a 512x512 matmul on the CUDA provider);
#   4. an inference task on the GPU (tests/models/mlp.onnx with requirements.gpuCount 1, through `tenzro-node infer --gpu`),
#      and the same task on the CPU for comparison.
# It prints what it found and exits 0 when every step ran, 1 when a step failed, 2 when the machine has no NVIDIA GPU.
# Usage: bench/gpu-check.sh [node-binary]   (default: a Release build with ONNX Runtime's CUDA package,
#        -p:OnnxGpu=true, in artifacts/gpu-node, built first if missing; the default build carries the CPU package)
# The node runs on 127.0.0.1 with LAN discovery and the DHT off; its data directory is temporary.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
node=${1:-$root/artifacts/gpu-node/tenzro-node}
port=${GPU_CHECK_PORT:-18990}
failed=0

section() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*"; failed=1; }

section "driver"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "no NVIDIA GPU here (nvidia-smi is missing or lists none); nothing to check"
    exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
nvidia-smi | head -4 | tail -1

section "node build"
if [[ ! -x $node ]]; then
    if ! command -v dotnet >/dev/null 2>&1; then
        echo "no node binary at $node and no dotnet to build one; pass a published tenzro-node as the first argument"
        exit 1
    fi
    dotnet build -c Release -p:OnnxGpu=true --nologo -clp:ErrorsOnly src/Tenzro.Node -o "$root/artifacts/gpu-node" || exit 1
fi
echo "$node"

data=$(mktemp -d /tmp/tenzro-gpu-check-XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"' EXIT
PORT=$port DATA_DIR=$data/data BENCHMARK_ON_START=true LOG_LEVEL=warning \
    LAN_DISCOVERY_ENABLED=false DHT_ENABLED=false P2P_HOST=127.0.0.1 LOCAL_DISCOVERY_PORT=$((port + 1)) \
    MIN_CPU_CORES=0 MIN_MEMORY_GB=0 MIN_STORAGE_GB=0 \
    "$node" >"$data/node.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 1 600); do
    curl -fs "$url/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "the node exited:"; tail -20 "$data/node.log"; exit 1; }
    sleep 0.2
done

section "detection, CUDA provider and micro-benchmark"
# The start-up benchmarks run in the background after /health answers: wait for the GPU figure or its absence.
for _ in $(seq 1 300); do
    profile=$(curl -fs "$url/api/hardware/profile") || profile=""
    [[ -n $profile ]] && python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(0 if p.get("benchmarks") else 1)' "$profile" && break
    sleep 1
done
python3 - "$profile" <<'EOF' || failed=1
import json, sys
p = json.loads(sys.argv[1])
gpus = p.get("gpus") or []
print(f"gpus detected: {len(gpus)}")
for g in gpus:
    print("  " + json.dumps(g))
compute = p.get("gpuCompute")
print(f"gpuCompute: {json.dumps(compute)}")
bench = (p.get("benchmarks") or {}).get("gpuMatMul")
print(f"benchmarks.gpuMatMul: {json.dumps(bench)}")
for o in p.get("optimizations") or []:
    if "provider" in o.get("name", "").lower() or "onnx" in o.get("name", "").lower():
        print(f"optimization {o.get('name')}: {o.get('value')} ({o.get('reason')})")
ok = bool(gpus) and bool(compute) and compute.get("available") is True and bench is not None
sys.exit(0 if ok else 1)
EOF
[[ $failed -eq 0 ]] || fail "detection, the CUDA provider or the micro-benchmark (see above)"

section "inference on the GPU, then on the CPU"
inputs=$data/inputs.json
echo '{"x":{"type":"float32","shape":[1,4],"data":[0.5,-1.25,2,0.75]}}' >"$inputs"
for where in --gpu ""; do
    start=$(date +%s%N)
    if out=$("$node" infer tests/models/mlp.onnx "$inputs" --url "$url" $where 2>&1); then
        echo "${where:---cpu}: $(( ($(date +%s%N) - start) / 1000000 )) ms, CLI included: $out" | head -5
    else
        fail "inference ${where:-on the CPU}: $out"
    fi
done

section "node log (warnings)"
grep -iE "gpu|cuda|warn|fail" "$data/node.log" | head -20

echo
[[ $failed -eq 0 ]] && echo "gpu-check: every step ran" || echo "gpu-check: a step failed (above)"
exit $failed
