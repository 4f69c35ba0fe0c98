#!/usr/bin/env bash
# The e2e suites on a real cluster: a real kube-apiserver, controller-manager
# and KRO (../shared/kit), with the kubelet simulator in each test. Starts the
# kit in a fresh directory, runs every test marked "needs a real cluster",
# and stops the kit (by its recorded PIDs) however the run ends.
#
# To use a cluster of your own instead (disposable: the tests create and
# delete namespaces, CRDs and RGDs there):
#   KROXIDE_E2E_KUBECONFIG=~/.kube/config scripts/e2e.sh
# Extra arguments go to the test binaries (a test name filter, --nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KROXIDE_E2E_KUBECONFIG:-}" ]; then
  kit="$(cd ../shared/kit 2>/dev/null && pwd)" || {
    echo "error: ../shared/kit (the real cluster kit) must sit beside the clone, or set KROXIDE_E2E_KUBECONFIG" >&2
    exit 1
  }
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kroxide-kit.XXXXXX")"
  trap '"$kit/down" "$dir" --wipe >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
  echo "starting the real cluster (../shared/kit) in $dir"
  "$kit/up" "$dir" | tail -n 2
  export KROXIDE_E2E_KUBECONFIG="$dir/kubeconfig"
fi

# Only the ignored tests: every one of them needs the real cluster.
cargo test --workspace --locked -- --ignored "$@"
