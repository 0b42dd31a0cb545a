#!/usr/bin/env bash
# Runs every test of the solution (Release), or the ones a filter selects, and ends with the line
# "tests: N passed, N failed". Extra arguments go to 'dotnet test', for example:
#   ./test.sh --filter Suite=resources          # one suite, like the seed's 'npm test -- --suite=resources'
#   ./test.sh --collect:"XPlat Code Coverage"   # coverage (Cobertura XML under TestResults/)
# On a Debian machine, as root, it first installs the packages the tests use (Chromium, promtool, procps).
# The test projects run one after the other: on a 2-core machine, running them side by side only makes
# the process tests slower and their timings noisier.
set -uo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: Chromium for the dashboard test, promtool (in 'prometheus') to lint
# /metrics, python3 to count the results, procps for `free` (the hardware test compares with it).
# Installed when missing and this runs as root with apt-get (a fresh machine, CI); elsewhere, install them yourself.
need=()
command -v python3 >/dev/null || need+=(python3)
command -v free >/dev/null || need+=(procps)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/promtool ] || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing what the tests need: ${need[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } \
      || { echo "apt-get install ${need[*]} failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
  else
    echo "warning: missing ${need[*]} (apt-get install ${need[*]}); the tests that use them will fail"
  fi
fi

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
