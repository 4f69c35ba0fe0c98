#!/usr/bin/env bash
# Side-by-side benchmark on a real cluster (issue 18): starts ../shared/kit in
# a fresh directory and the kubelet simulator (Pods ready 0.1 s after they are
# seen), runs `cargo bench -p kroxide --bench cluster` with the arguments given
# (default: 12 and 999 objects, 3 tries, every tool), writes the tables into
# BENCHMARKS.md, and stops what it started by PID. Takes 15-30 minutes.
#   scripts/bench-cluster.sh                                  # 12 and 999 objects
#   scripts/bench-cluster.sh --sizes 9999 --tries 1 --tools floor,direct
# With KUBECONFIG set to a running cluster, that cluster is used instead.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=""
if [ -z "${KROXIDE_BENCH_KUBECONFIG:-}" ]; then
  kit="$(mktemp -d /tmp/kroxide-bench-kit.XXXXXX)"
  ../shared/kit/up "$kit" >/dev/null
  export KUBECONFIG="$kit/kubeconfig"
else
  export KUBECONFIG="$KROXIDE_BENCH_KUBECONFIG"
fi
cargo build --release --locked -p kroxide-cli -p kroxide-testserver --bin kroxide --bin kroxide-testserver --example microservices
target/release/kroxide-testserver kubelet --ready-after 100ms >/dev/null 2>&1 &
kubelet=$!
cleanup() {
  kill "$kubelet" 2>/dev/null || true
  if [ -n "$kit" ]; then ../shared/kit/down "$kit" --wipe >/dev/null 2>&1 || true; rm -rf "$kit"; fi
}
trap cleanup EXIT
if [ $# -eq 0 ]; then set -- --sizes 12,999 --tries 3; fi
cargo bench --locked -p kroxide --bench cluster -- "$@"
