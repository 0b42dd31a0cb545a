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
# /metrics, python3 to count the results, procps for `free` (the hardware test compares with it), iproute2 and
# python3-zeroconf for the LAN discovery tests (network namespaces, and an independent DNS-SD browser).
# Installed when missing and this runs as root with apt-get (a fresh machine, CI); elsewhere, install them yourself.
need=()
command -v python3 >/dev/null || need+=(python3)
command -v free >/dev/null || need+=(procps)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/promtool ] || need+=(prometheus)
command -v ip >/dev/null || need+=(iproute2)
/usr/bin/python3 -c 'import zeroconf' 2>/dev/null || need+=(python3-zeroconf)
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
projects=(tests/Tenzro.Node.Tests tests/Tenzro.Node.IntegrationTests)
declare -A first_status
for project in "${projects[@]}"; do
  dotnet test "$project" -c Release --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results/first/$(basename "$project")" "$@"
  first_status[$project]=$?
done
aborted=0

# A test that fails is run once more (on its own, in its project), as CI runners do with --rerun-fails: a test that
# then passes is reported by name as flaky, and counts as passed; one that fails again counts as failed. Only for a
# whole run (no extra arguments), and only when at most 20 tests failed: more than that is not flakiness.
for project in "${projects[@]}"; do
  [ "${first_status[$project]}" -eq 0 ] && continue
  [ $# -eq 0 ] || continue
  filter=$(python3 - "$results/first/$(basename "$project")" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
failed = set()
for path in glob.glob(sys.argv[1] + "/*.trx"):
    root = ET.parse(path).getroot()
    methods = {t.get("id"): t.find("{*}TestMethod") for t in root.iterfind(".//{*}UnitTest")}
    for r in root.iterfind(".//{*}UnitTestResult"):
        if r.get("outcome") != "Passed" and r.get("outcome") != "NotExecuted":
            m = methods.get(r.get("testId"))
            if m is not None:
                failed.add(m.get("className") + "." + m.get("name"))
if 0 < len(failed) <= 20:
    print("|".join("FullyQualifiedName=" + f for f in sorted(failed)))
PY
)
    if [ -n "$filter" ]; then
      echo "running again what failed in $project: ${filter//FullyQualifiedName=/}"
      dotnet test "$project" -c Release --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results/rerun/$(basename "$project")" --filter "$filter"
    elif ! python3 -c 'import glob,sys; sys.exit(0 if glob.glob(sys.argv[1] + "/*.trx") else 1)' "$results/first/$(basename "$project")"; then
      echo "the tests of $project did not run to the end (no results were written)"; aborted=1
    fi
done

python3 - "$results" "$aborted" <<'PY'
import glob, os, sys, xml.etree.ElementTree as ET
def read(folder):
    """(passed count, {method: [outcomes of its results]}) of the trx files under folder."""
    passed, outcomes = 0, {}
    for path in glob.glob(folder + "/**/*.trx", recursive=True):
        root = ET.parse(path).getroot()
        methods = {t.get("id"): t.find("{*}TestMethod") for t in root.iterfind(".//{*}UnitTest")}
        for r in root.iterfind(".//{*}UnitTestResult"):
            m = methods.get(r.get("testId"))
            name = m.get("className") + "." + m.get("name") if m is not None else r.get("testName")
            outcomes.setdefault(name, []).append(r.get("outcome"))
            passed += r.get("outcome") == "Passed"
    return passed, outcomes
passed, first = read(sys.argv[1] + "/first")
_, rerun = read(sys.argv[1] + "/rerun")
failed, flaky = 0, []
for name, results in first.items():
    bad = sum(o not in ("Passed", "NotExecuted") for o in results)
    if bad == 0:
        continue
    if rerun.get(name) and all(o == "Passed" for o in rerun[name]):
        passed += bad
        flaky.append(name)
    else:
        failed += bad
failed += int(sys.argv[2])  # a test run that ended without writing its results
if flaky:
    print(f"flaky: {len(flaky)} failed once and passed when run again: {', '.join(sorted(flaky))}")
print(f"tests: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
