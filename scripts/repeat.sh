#!/usr/bin/env bash
# Reliability on a real cluster: deploys the microservices example N times
# (default 10) in each mode, with the kubelet simulator making Pods ready
# after each DELAY (default "100ms 2s"), and counts the runs that end healthy
# with a complete status (every service ready, health "healthy").
#   KUBECONFIG=/tmp/kit/kubeconfig scripts/repeat.sh [N] [DELAYS]
# Without KUBECONFIG it starts ../shared/kit in a fresh directory and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
delays="${2:-100ms 2s}"
cargo build -q -p kroxide-cli -p kroxide-testserver --bins --example microservices
bin=target/debug
if [ -z "${KUBECONFIG:-}" ]; then
  kit="$(cd ../shared/kit && pwd)"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kroxide-kit.XXXXXX")"
  trap '"$kit/down" "$dir" --wipe >/dev/null 2>&1 || true' EXIT
  "$kit/up" "$dir" | tail -n 1
  export KUBECONFIG="$dir/kubeconfig"
fi
work="$(mktemp -d)"
$bin/examples/microservices render > "$work/rgd.yaml"
complete() {
  python3 -c 'import json,sys
try:
    s=json.load(sys.stdin)
except ValueError:
    sys.exit(1)
ok = s.get("health")=="healthy" and all(s.get("services",{}).get(k,{}).get("ready") is True for k in ("user","product","order")) and s.get("gatewayUrl")
sys.exit(0 if ok else 1)'
}
for delay in $delays; do
  $bin/kroxide-testserver kubelet --ready-after "$delay" >"$work/kubelet.log" 2>&1 &
  kubelet=$!
  for mode in direct kro; do
    good=0; times=""
    for i in $(seq 1 "$runs"); do
      ns="repeat-$mode-${delay//./-}-$i-$$"
      start=$(date +%s.%N)
      if $bin/kroxide deploy "$work/rgd.yaml" --mode "$mode" --instance examples/microservices/dev.yaml \
           -n "$ns" --create-namespace --timeout 2m -o json 2>"$work/err" | complete; then
        good=$((good + 1))
      else
        echo "  run $i ($mode, $delay) failed: $(tail -n 3 "$work/err")" >&2
      fi
      times="$times $(python3 -c "print(round($(date +%s.%N) - $start, 2))")"
      kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
    done
    echo "$mode, Pods ready after $delay: $good of $runs healthy with a complete status; seconds:$times"
  done
  kill "$kubelet"; wait "$kubelet" 2>/dev/null || true
done
rm -rf "$work"
