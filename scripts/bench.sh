#!/usr/bin/env bash
# Runs the benchmarks and writes BENCHMARKS.md (release build; a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example microservices
cargo bench -p kroxide --bench scale -- "$@"
