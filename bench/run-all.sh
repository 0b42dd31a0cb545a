#!/usr/bin/env bash
# Runs every load scenario in a reduced form (each well under a minute) against real node processes on
# 127.0.0.1 and prints one line per scenario: "name: value unit (ratio x baseline)".
# Not part of the test suite. Full runs: see docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release src/Tenzro.Node >/dev/null
dotnet build -c Release bench/Tenzro.Node.LoadTest >/dev/null
load() { dotnet bench/Tenzro.Node.LoadTest/bin/Release/net10.0/Tenzro.Node.LoadTest.dll "$@" 2>/dev/null | tail -n 1; }
load health    --duration 3 --runs 3 --clients 16
load submit    --duration 3 --runs 3 --clients 32
load compute   --duration 3 --runs 3
load inference --duration 3 --runs 3
load mixed     --runs 1 --tasks 300
load slots     --runs 1 --tasks 200
load estimate  --runs 1 --tasks 25
load startup   --duration 5 --runs 3
