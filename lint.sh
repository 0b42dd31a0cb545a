#!/usr/bin/env bash
# Lints what the build does not: C# whitespace (the build already enforces the code style of .editorconfig),
# the Dockerfile, the compose file (against the Compose specification's schema), the systemd unit and the
# Kubernetes manifest. Ends with "lint: N passed, N failed"; exit 1 when a check fails.
# The Dockerfile and compose linters come from npm (dockerfile-utils, dclint) and are installed into .lint/
# on first use; the Kubernetes schema is the one of Debian's python3-kubernetes; systemd-analyze comes with
# systemd. As root with apt-get (a fresh machine, CI), the Debian packages are installed when missing.
set -uo pipefail
cd "$(dirname "$0")"

# The Python that has the Kubernetes client: Debian's (/usr/bin/python3) unless the one on PATH has it too.
k8s_python() { for python in python3 /usr/bin/python3; do "$python" -c 'import kubernetes, yaml' 2>/dev/null && { echo "$python"; return; }; done; echo python3; }
need=()
command -v npm >/dev/null || need+=(npm)
"$(k8s_python)" -c 'import kubernetes, yaml' 2>/dev/null || need+=(python3-kubernetes)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing what lint needs: ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } \
    || { echo "apt-get install ${need[*]} failed"; exit 1; }
fi
passed=0 failed=0
check() { # check NAME COMMAND...: runs the command, prints its output only when it fails
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' <<<"$out" | head -n 40; fi
}

lint_tools=.lint/node_modules/.bin
if [ ! -x "$lint_tools/dclint" ] || [ ! -x "$lint_tools/dockerfile-utils" ]; then
  command -v npm >/dev/null || { echo "npm is needed for the Dockerfile and compose linters (apt-get install npm)"; exit 1; }
  npm install --silent --no-audit --no-fund --prefix .lint dockerfile-utils@0.16.3 dclint@3.1.0 >/dev/null \
    || { echo "npm install of dockerfile-utils and dclint failed"; exit 1; }
fi

check "C# whitespace (dotnet format whitespace --verify-no-changes)" dotnet format whitespace Tenzro.Node.slnx --verify-no-changes
check "Dockerfile (dockerfile-utils lint)" "$lint_tools/dockerfile-utils" lint Dockerfile
# The image is built here (docker build -t tenzro-local-node .), so it has no registry tag to pin.
check "docker-compose.yml (dclint: Compose schema and errors)" "$lint_tools/dclint" docker-compose.yml --quiet --disable-rule service-image-require-explicit-tag

verify_unit() { # systemd-analyze checks that ExecStart exists: point it at a binary that does, keep the rest
  local dir; dir=$(mktemp -d)
  sed 's#^ExecStart=/opt/tenzro-node/tenzro-node#ExecStart=/bin/true#' deploy/tenzro-node.service >"$dir/tenzro-node.service"
  local out; out=$(systemd-analyze verify "$dir/tenzro-node.service" 2>&1); local rc=$?
  rm -rf "$dir"
  echo "$out"
  [ $rc -eq 0 ] && ! grep -q 'tenzro-node.service' <<<"$out"
}
if command -v systemd-analyze >/dev/null; then
  check "deploy/tenzro-node.service (systemd-analyze verify)" verify_unit
else
  echo "skip deploy/tenzro-node.service: systemd-analyze is not installed"
fi

check "deploy/kubernetes/tenzro-node.yaml (Kubernetes schema, probes, volume claim, non-root)" "$(k8s_python)" tools/check-kubernetes.py deploy/kubernetes/tenzro-node.yaml
check "app.json (every seed setting declared and described)" python3 tools/check-app-json.py app.json

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
