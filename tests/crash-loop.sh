#!/usr/bin/env bash
# The crash loop (docs/RELIABILITY.md): the real node under load from 3 clients submitting every task type,
# killed with SIGKILL at random moments KILLS times (default 100) and restarted on the same DATA_DIR; then every
# acknowledged task is checked (present, final, not run twice, its blob or model there), no reservation is left and
# the store passes PRAGMA integrity_check; a development regional node checks that each task it assigned is reported
# at least once and at most once more per kill, always with the same result. CI runs 3 kills as CrashLoopTests. Usage: tests/crash-loop.sh [KILLS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp /tmp/tenzro-crash-loop-XXXXXX)
trap 'rm -f "$report"' EXIT
dotnet build Tenzro.Node.slnx -c Release --nologo -clp:ErrorsOnly >/dev/null
status=0
CRASH_LOOP_KILLS=${1:-100} CRASH_LOOP_SEED=${2:-$RANDOM} CRASH_LOOP_REPORT=$report \
  dotnet test tests/Tenzro.Node.IntegrationTests -c Release --no-build --filter "FullyQualifiedName~CrashLoopTests" \
  --logger "console;verbosity=detailed" | grep -E "^\s+(seed|kill) " || status=1
cat "$report" 2>/dev/null || true
exit $status
