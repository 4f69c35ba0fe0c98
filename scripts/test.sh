#!/usr/bin/env bash
# Every test: the workspace's tests (no cluster needed: an in-process test
# API server stands in where one is), then the e2e suites on a real cluster
# started from ../shared/kit (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
bash scripts/e2e.sh
