#!/usr/bin/env bash
# The e2e suites on a real cluster: a real kube-apiserver, controller-manager
# and KRO (../shared/kit), with the kubelet simulator in each test. Starts the
# kit in a fresh directory, runs every test marked "needs a real cluster",
# and stops the kit (by its recorded PIDs) however the run ends.
#
# The tests of KRO main's features (crates/kroxide/tests/e2e_kro_main.rs,
# a few seconds) run against a second kit with KRO's main branch
# (KROXIDE_KIT_KRO=main), started alongside the first.
#
# To use a cluster of your own instead (disposable: the tests create and
# delete namespaces, CRDs and RGDs there):
#   KROXIDE_E2E_KUBECONFIG=~/.kube/config scripts/e2e.sh
# and for the KRO main tests, one running KRO main:
#   KROXIDE_E2E_KRO_MAIN_KUBECONFIG=~/.kube/kro-main scripts/e2e.sh
# Extra arguments go to the test binaries (a test name filter, --nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=()
cleanup() {
  for d in "${dirs[@]}"; do
    "$kit/down" "$d" --wipe >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}
trap cleanup EXIT
kit_dir() {
  kit="$(cd ../shared/kit 2>/dev/null && pwd)" || {
    echo "error: ../shared/kit (the real cluster kit) must sit beside the clone, or set $1" >&2
    exit 1
  }
}

if [ -z "${KROXIDE_E2E_KRO_MAIN_KUBECONFIG:-}" ]; then
  kit_dir KROXIDE_E2E_KRO_MAIN_KUBECONFIG
  main_dir="$(mktemp -d "${TMPDIR:-/tmp}/kroxide-kit-main.XXXXXX")"
  dirs+=("$main_dir")
  echo "starting a second cluster with KRO main (../shared/kit, KROXIDE_KIT_KRO=main) in $main_dir"
  # In the background: both kits start at once. Its ports are picked here
  # (free ones, the OS's), so that the two never race for the defaults.
  python3 - > "$main_dir/ports" <<'PY'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
names = ["API_PORT", "ETCD_PORT", "ETCD_PEER_PORT", "KRO_METRICS_PORT", "KRO_PROBE_PORT"]
for n, s in zip(names, socks):
    print(f"{n}={s.getsockname()[1]}")
PY
  KROXIDE_KIT_KRO=main "$kit/up" "$main_dir" > "$main_dir.up.log" 2>&1 &
  main_pid=$!
  export KROXIDE_E2E_KRO_MAIN_KUBECONFIG="$main_dir/kubeconfig"
fi

if [ -z "${KROXIDE_E2E_KUBECONFIG:-}" ]; then
  kit_dir KROXIDE_E2E_KUBECONFIG
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kroxide-kit.XXXXXX")"
  dirs+=("$dir")
  echo "starting the real cluster (../shared/kit) in $dir"
  "$kit/up" "$dir" | tail -n 2
  export KROXIDE_E2E_KUBECONFIG="$dir/kubeconfig"
fi

if [ -n "${main_pid:-}" ]; then
  if ! wait "$main_pid"; then
    echo "error: the KRO main kit did not start:" >&2
    cat "$main_dir.up.log" >&2
    exit 1
  fi
  tail -n 2 "$main_dir.up.log"
  rm -f "$main_dir.up.log"
fi

# Only the ignored tests: every one of them needs the real cluster.
cargo test --workspace --locked -- --ignored "$@"
