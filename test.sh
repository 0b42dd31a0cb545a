#!/usr/bin/env bash
# Runs every test of the solution (Release), or the ones a filter selects, and ends with the line
# "tests: N passed, N failed". Extra arguments go to 'dotnet test', for example:
#   ./test.sh --filter Suite=resources          # one suite, like the seed's 'npm test -- --suite=resources'
#   ./test.sh --collect:"XPlat Code Coverage"   # coverage (Cobertura XML under TestResults/)
set -uo pipefail
cd "$(dirname "$0")"
results=TestResults
rm -rf "$results"
dotnet test Tenzro.Node.slnx -c Release --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@"
status=$?
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
