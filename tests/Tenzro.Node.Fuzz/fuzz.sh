#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted bytes with AFL++ (Debian's afl++) through SharpFuzz.
#   tests/Tenzro.Node.Fuzz/fuzz.sh                 CI: replay the corpus, then 15 s per target (90 s in all)
#   tests/Tenzro.Node.Fuzz/fuzz.sh 60              60 s per target
#   tests/Tenzro.Node.Fuzz/fuzz.sh 3600 regional   one hour on one target
# Targets: task-json, regional, wasm-entry, mdns, dht, onnx-graph (see FuzzTargets.cs). Findings go to tests/Tenzro.Node.Fuzz/findings/
# (ignored by git). A crash is copied into corpus/TARGET/, where the unit tests replay it, and the script exits 1:
# fix the code, keep the input. The last line is "fuzz: N executions, N crashes".
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(task-json regional wasm-entry mdns dht onnx-graph)
fuzz=tests/Tenzro.Node.Fuzz
command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install afl++"; exit 2; }

build=$(mktemp -d /tmp/tenzro-fuzz-build-XXXXXX)
trap 'rm -rf "$build"' EXIT
dotnet build "$fuzz" -c Release -o "$build" --nologo -clp:ErrorsOnly >/dev/null
dotnet tool restore >/dev/null

# Replay first, uninstrumented: every kept input, crashes found before included, must pass.
for target in "${targets[@]}"; do
  dotnet "$build/Tenzro.Node.Fuzz.dll" "$target" "$fuzz/corpus/$target"/*
done

for assembly in Tenzro.Node.Core.dll Tenzro.Node.Runtimes.dll Makaretu.Dns.dll; do
  dotnet sharpfuzz "$build/$assembly" >/dev/null
done

export AFL_SKIP_CPUFREQ=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
executions=0
crashes=0
for target in "${targets[@]}"; do
  findings="$fuzz/findings/$target"
  rm -rf "$findings"
  mkdir -p "$findings"
  afl-fuzz -i "$fuzz/corpus/$target" -o "$findings" -V "$seconds" -t 5000 -m none -- dotnet "$build/Tenzro.Node.Fuzz.dll" "$target" >"$findings/afl.log" 2>&1 \
    || { echo "afl-fuzz failed on $target:"; tail -20 "$findings/afl.log"; exit 1; }
  stats="$findings/default/fuzzer_stats"
  done_here=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
  found=0
  for crash in "$findings"/default/crashes/id:*; do
    [ -e "$crash" ] || continue
    found=$((found + 1))
    cp "$crash" "$fuzz/corpus/$target/crash-$(sha256sum "$crash" | cut -c1-16)"
  done
  echo "$target: $done_here executions in ${seconds}s, $found crash(es)"
  executions=$((executions + done_here))
  crashes=$((crashes + found))
done

echo "fuzz: $executions executions, $crashes crashes"
[ "$crashes" -eq 0 ]
