#!/usr/bin/env bash
# Runs every test of the solution (Release), or the ones a filter selects, and ends with the line
# "tests: N passed, N failed". Extra arguments go to 'dotnet test', for example:
#   ./test.sh --filter Suite=resources          # one suite, like the seed's 'npm test -- --suite=resources'
#   ./test.sh --collect:"XPlat Code Coverage"   # coverage (Cobertura XML under TestResults/)
# The test projects run one after the other: on a 2-core machine, running them side by side only makes
# the process tests slower and their timings noisier.
set -uo pipefail
cd "$(dirname "$0")"
results=TestResults
rm -rf "$results"
dotnet build Tenzro.Node.slnx -c Release --nologo -clp:ErrorsOnly || { echo "tests: 0 passed, 1 failed"; exit 1; }
status=0
for project in tests/Tenzro.Node.Tests tests/Tenzro.Node.IntegrationTests; do
  dotnet test "$project" -c Release --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@" || status=1
done
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = 0
for path in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    counters = ET.parse(path).getroot().find(".//{*}Counters")
    if counters is not None:
        passed += int(counters.get("passed", 0))
        failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
print(f"tests: {passed} passed, {failed} failed")
PY
exit $status
