#!/usr/bin/env bash
# The YAML path, whole process (issue 18): `kroxide validate` and `kroxide
# plan` of RGD files of 10 to 10,000 resources (N/3 x ConfigMap + Deployment
# + Service, one status field per service), min and median of 5 runs and peak
# memory (wall time includes GNU time's own fork), as a markdown table on
# stdout. Needs python3 and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p kroxide-cli --bin kroxide >&2
k=target/release/kroxide
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
for n in (12, 99, 999, 9999):
    s = n // 3
    out = ["apiVersion: kro.run/v1alpha1", "kind: ResourceGraphDefinition", "metadata:", f"  name: bench{n}",
           "spec:", "  schema:", "    apiVersion: v1alpha1", f"    kind: Bench{n}", "    spec:",
           '      image: string | default="nginx:1.27"', "      replicas: integer | default=1", "    status:"]
    out += [f"      ready{i}: ${{deploy{i}.status.availableReplicas}}" for i in range(s)]
    out.append("  resources:")
    for i in range(s):
        out += [f"  - id: config{i}", "    template:", "      apiVersion: v1", "      kind: ConfigMap", "      metadata:",
                f"        name: ${{schema.metadata.name}}-config{i}", "      data:", "        LEVEL: info",
                f"  - id: deploy{i}", "    template:", "      apiVersion: apps/v1", "      kind: Deployment", "      metadata:",
                f"        name: ${{schema.metadata.name}}-svc{i}", "      spec:", "        replicas: ${schema.spec.replicas}",
                "        selector:", "          matchLabels:", f"            app: svc{i}", "        template:", "          metadata:",
                "            labels:", f"              app: svc{i}", "          spec:", "            containers:", "            - name: app",
                "              image: ${schema.spec.image}", "              envFrom:", "              - configMapRef:",
                f"                  name: ${{config{i}.metadata.name}}",
                f"  - id: service{i}", "    template:", "      apiVersion: v1", "      kind: Service", "      metadata:",
                f"        name: ${{deploy{i}.metadata.name}}", "      spec:", "        selector:", f"          app: svc{i}",
                "        ports:", "        - port: 80"]
    open(f"{d}/rgd{n}.yaml", "w").write("\n".join(out) + "\n")
    open(f"{d}/inst{n}.yaml", "w").write(f"apiVersion: kro.run/v1alpha1\nkind: Bench{n}\nmetadata:\n  name: b\nspec: {{}}\n")
PY
echo "| resources | validate min | validate median | validate peak | plan min | plan median | plan peak |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in 12 99 999 9999; do
  row="| $n |"
  for cmd in validate plan; do
    args=("$cmd" "$dir/rgd$n.yaml")
    [ "$cmd" = plan ] && args+=(--instance "$dir/inst$n.yaml")
    times=(); peak=0
    for _ in 1 2 3 4 5; do
      start=$(date +%s%N)
      /usr/bin/time -f "%M" -o "$dir/t" "$k" "${args[@]}" >/dev/null
      end=$(date +%s%N)
      read -r m < "$dir/t"
      times+=("$(( (end - start) / 1000 ))"); [ "$m" -gt "$peak" ] && peak=$m
    done
    sorted=($(printf '%s\n' "${times[@]}" | sort -n))
    row="$row $(awk "BEGIN{printf \"%.1f ms\", ${sorted[0]}/1000}") | $(awk "BEGIN{printf \"%.1f ms\", ${sorted[2]}/1000}") | $(awk "BEGIN{printf \"%.1f MB\", $peak/1024}") |"
  done
  echo "$row"
done
