#!/usr/bin/env bash
# Records what a real KRO does with every expression of the CEL oracle corpus.
#
#   scripts/kro-oracle.sh [CORPUS] [RESULTS]
#
# CORPUS defaults to crates/kroxide-semantics/tests/kro_oracle/corpus.txt,
# RESULTS to results.json next to it. Needs bash, kubectl and the usual tools
# (awk, sed, grep), and a cluster running KRO in $KUBECONFIG, for example the
# kit: `../shared/kit/up /tmp/oracle-kit && export KUBECONFIG=/tmp/oracle-kit/kubeconfig`.
# A failure at run time is written to KRO's log only (the instance gets no
# status), so the message is read from $KRO_LOG (default: the kit's
# logs/kro.log next to $KUBECONFIG).
#
# Each case is one expression in one context:
#   status  the instance status field `<id>: ${EXPR}` (KRO infers the field's
#           type from the expression; a status field must read `schema` or a
#           resource, so an expression that reads neither is sent as
#           `${schema.spec.name == schema.spec.name ? (EXPR) : (EXPR)}`);
#   cm      the ConfigMap data field `data.<id>: ${EXPR}` (a string field: KRO
#           checks the expression's type against it).
# What KRO did is one of: a value (the JSON it wrote, with its JSON type),
# `omitted` (the instance is fine but the field was not written), `rejected`
# (the RGD is Inactive: the message of its GraphAccepted condition), or
# `failed` (the instance never got the value: the reconcile error from KRO's log).
#
# Cases expected to succeed share one RGD per instance spec; cases marked
# `reject` or `fail` get one RGD each, as one bad expression stops the whole
# RGD or instance. A shared RGD that unexpectedly fails is split into one RGD
# per case, so every outcome belongs to exactly one expression.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${1:-$here/crates/kroxide-semantics/tests/kro_oracle/corpus.txt}
OUT=${2:-$(dirname "$CORPUS")/results.json}
NS=${KRO_ORACLE_NAMESPACE:-default}
if [[ -z "${KRO_LOG:-}" && -n "${KUBECONFIG:-}" ]]; then
  KRO_LOG="$(dirname "$KUBECONFIG")/logs/kro.log"
fi
KRO_LOG=${KRO_LOG:-/dev/null}
WAIT_RGD=${KRO_ORACLE_WAIT_RGD:-90}
WAIT_INSTANCE=${KRO_ORACLE_WAIT_INSTANCE:-45}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run=$(date +%s | tail -c 6)


# ---------------------------------------------------------------- corpus
# `@schema {...}`: the instance spec's SimpleSchema (as JSON);
# `@spec {...}`: the default instance spec;
# `id | context | expect | spec | expression` (spec `-` is the default).
schema=$(sed -n 's/^@schema[[:space:]]*//p' "$CORPUS")
default_spec=$(sed -n 's/^@spec[[:space:]]*//p' "$CORPUS")
awk -F' \\| ' -v OFS='\t' '
  /^[[:space:]]*(#|@|$)/ { next }
  {
    id = $1; ctx = $2; expect = $3; spec = $4
    expr = $0
    for (i = 1; i <= 4; i++) { expr = substr(expr, index(expr, " | ") + 3) }
    gsub(/^[ \t]+|[ \t]+$/, "", id); gsub(/^[ \t]+|[ \t]+$/, "", ctx)
    gsub(/^[ \t]+|[ \t]+$/, "", expect); gsub(/^[ \t]+|[ \t]+$/, "", spec)
    if (id in seen) { print "duplicate id " id > "/dev/stderr"; exit 1 }
    seen[id] = 1
    print id, ctx, expect, spec, expr
  }' "$CORPUS" > "$work/cases.tsv"

jstr() { # a JSON string literal of $1
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

field_of() { # the field text KRO is given for case ($ctx, $expr)
  local ctx=$1 expr=$2
  if [[ $ctx == status && ! $expr =~ (^|[^a-zA-Z0-9_.])(schema|cm)([^a-zA-Z0-9_]|$) ]]; then
    printf '${schema.spec.name == schema.spec.name ? (%s) : (%s)}' "$expr" "$expr"
  else
    printf '${%s}' "$expr"
  fi
}

case_get() { # field $2 (1-based) of case $1
  awk -F'\t' -v id="$1" -v f="$2" '$1 == id { print $f; exit }' "$work/cases.tsv"
}

# ---------------------------------------------------------------- batches
nbatch=0
new_batch() { # ids... -> a new batch, named in $batch
  nbatch=$((nbatch + 1))
  batch="b$nbatch"
  mkdir -p "$work/$batch"
  printf '%s\n' "$@" > "$work/$batch/ids"
}

write_batch() { # batch
  local b=$1 n=${1#b}
  local kind="Oracle${run}B${n}" name="oracle${run}b${n}"
  local status="" data="\"_\": \"x\"" spec=""
  local id ctx expr s
  while read -r id; do
    ctx=$(case_get "$id" 2); s=$(case_get "$id" 4); expr=$(case_get "$id" 5)
    [[ $s == - ]] && s=$default_spec
    spec=$s
    if [[ $ctx == status ]]; then
      status+="${status:+, }$(jstr "$id"): $(jstr "$(field_of "$ctx" "$expr")")"
    else
      data+=", $(jstr "$id"): $(jstr "$(field_of "$ctx" "$expr")")"
    fi
  done < "$work/$b/ids"
  echo "$kind" > "$work/$b/kind"
  echo "$name" > "$work/$b/name"
  cat > "$work/$b/rgd.json" <<EOF
{"apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
 "metadata": {"name": "$name"},
 "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "$kind", "spec": $schema, "status": {$status}},
  "resources": [{"id": "cm", "template": {"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "\${schema.metadata.name}-cm"}, "data": {$data}}}]}}
EOF
  cat > "$work/$b/instance.json" <<EOF
{"apiVersion": "kro.run/v1alpha1", "kind": "$kind", "metadata": {"name": "$name", "namespace": "$NS"}, "spec": $spec}
EOF
}

# Splits a JSON object (one line) into `key<TAB>value` lines, values as JSON.
split_object() {
  awk '
  {
    s = $0; n = length(s); depth = 0; instr = 0; esc = 0; key = ""; start = 0; k = ""
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1)
      if (instr) {
        if (esc) { esc = 0 } else if (c == "\\") { esc = 1 } else if (c == "\"") { instr = 0; if (depth == 1 && expectkey) { k = substr(s, kstart, i - kstart); expectkey = 0 } }
        continue
      }
      if (c == "\"") { instr = 1; if (depth == 1 && expectkey) kstart = i + 1; continue }
      if (c == "{" || c == "[") {
        if (depth == 0) { expectkey = 1 }
        depth++; continue
      }
      if (c == ":" && depth == 1) { start = i + 1; continue }
      if ((c == "," && depth == 1) || ((c == "}" || c == "]") && depth == 1)) {
        if (start) print k "\t" substr(s, start, i - start)
        start = 0; expectkey = 1
        if (c != ",") depth--
        continue
      }
      if (c == "}" || c == "]") depth--
    }
  }'
}

json_type() { # the JSON type of a JSON value
  case ${1:0:1} in
    '"') echo string ;;
    '{') echo object ;;
    '[') echo array ;;
    t|f) echo boolean ;;
    n) echo null ;;
    *) if [[ $1 == *[.eE]* ]]; then echo number; else echo integer; fi ;;
  esac
}

record() { # id outcome value-json message
  local id=$1 outcome=$2 value=$3 message=$4
  local ctx spec expr
  ctx=$(case_get "$id" 2); spec=$(case_get "$id" 4); expr=$(case_get "$id" 5)
  [[ $spec == - ]] && spec=null
  {
    printf '{"id": %s, "context": %s, "spec": %s, "expression": %s, "field": %s, "outcome": %s' \
      "$(jstr "$id")" "$(jstr "$ctx")" "$spec" "$(jstr "$expr")" "$(jstr "$(field_of "$ctx" "$expr")")" "$(jstr "$outcome")"
    if [[ $outcome == value ]]; then
      printf ', "value": %s, "type": %s' "$value" "$(jstr "$(json_type "$value")")"
    fi
    if [[ -n $message ]]; then
      printf ', "message": %s' "$(jstr "$message")"
    fi
    printf '}\n'
  } >> "$work/results.lines"
  echo "  $id: $outcome${value:+ $value}${message:+ ($message)}" >&2
}

# Runs the batches given; a batch of several cases that does not give every
# value is split, and its cases run again one per RGD.
run_round() {
  local batches=("$@") b again=()
  for b in "${batches[@]}"; do
    write_batch "$b"
    kubectl apply -f "$work/$b/rgd.json" > /dev/null
  done
  local deadline=$((SECONDS + WAIT_RGD)) pending=("${batches[@]}") left state
  while ((${#pending[@]})) && ((SECONDS < deadline)); do
    sleep 2
    left=()
    for b in "${pending[@]}"; do
      state=$(kubectl get rgd "$(cat "$work/$b/name")" -o jsonpath='{.status.state}' 2>/dev/null || true)
      accepted=$(kubectl get rgd "$(cat "$work/$b/name")" -o jsonpath='{.status.conditions[?(@.type=="GraphAccepted")].status}' 2>/dev/null || true)
      if [[ $state == Active ]]; then
        echo active > "$work/$b/rgd-state"
        kubectl apply -f "$work/$b/instance.json" > /dev/null
      elif [[ $accepted == False ]]; then
        echo inactive > "$work/$b/rgd-state"
      else
        left+=("$b")
      fi
    done
    pending=("${left[@]+"${left[@]}"}")
  done
  for b in "${pending[@]+"${pending[@]}"}"; do echo timeout > "$work/$b/rgd-state"; done

  # Instances: wait for every value, or for a reconcile error in KRO's log.
  deadline=$((SECONDS + WAIT_INSTANCE))
  pending=()
  for b in "${batches[@]}"; do [[ $(cat "$work/$b/rgd-state") == active ]] && pending+=("$b"); done
  while ((${#pending[@]})) && ((SECONDS < deadline)); do
    sleep 2
    left=()
    for b in "${pending[@]}"; do
      collect "$b"
      if [[ -s "$work/$b/missing" ]] && ! kro_error "$(cat "$work/$b/name")" > /dev/null; then
        left+=("$b")
      fi
    done
    pending=("${left[@]+"${left[@]}"}")
  done
  sleep 1

  for b in "${batches[@]}"; do
    local ids n name kind
    mapfile -t ids < "$work/$b/ids"
    n=${#ids[@]}
    name=$(cat "$work/$b/name")
    case $(cat "$work/$b/rgd-state") in
      inactive|timeout)
        if ((n > 1)); then
          for id in "${ids[@]}"; do new_batch "$id"; again+=("$batch"); done
        else
          local msg
          msg=$(kubectl get rgd "$name" -o jsonpath='{.status.conditions[?(@.type=="GraphAccepted")].message}' 2>/dev/null || true)
          [[ $(cat "$work/$b/rgd-state") == timeout ]] && msg="RGD not Active after ${WAIT_RGD}s: $msg"
          record "${ids[0]}" rejected "" "$msg"
        fi
        ;;
      active)
        collect "$b"
        local id v
        for id in "${ids[@]}"; do
          if v=$(awk -F'\t' -v id="$id" '$1 == id { print $2; found = 1 } END { exit !found }' "$work/$b/values"); then
            record "$id" value "$v" ""
          elif ((n > 1)); then
            new_batch "$id"; again+=("$batch")
          else
            local err state
            err=$(kro_error "$name" || true)
            state=$(kubectl get "$(cat "$work/$b/kind" | tr 'A-Z' 'a-z')" "$name" -n "$NS" -o jsonpath='{.status.state}' 2>/dev/null || true)
            if [[ -n $err ]]; then
              record "$id" failed "" "$err"
            elif [[ $state == ACTIVE ]]; then
              record "$id" omitted "" ""
            else
              record "$id" failed "" "no value and no error after ${WAIT_INSTANCE}s (instance state: ${state:-none})"
            fi
          fi
        done
        ;;
    esac
  done
  for b in "${batches[@]}"; do
    kubectl delete -f "$work/$b/instance.json" --wait=false --ignore-not-found > /dev/null 2>&1 || true
  done
  if ((${#again[@]})); then
    echo "splitting into ${#again[@]} single-case RGDs" >&2
    run_round "${again[@]}"
  fi
}

kro_error() { # instance name: the last reconcile error KRO logged for it
  grep -E "(\"item\": \\{\"name\":\"$1\"|\"controller\": \"$1s\").*\"error\": \"" "$KRO_LOG" 2>/dev/null | grep -v '"error": "cluster mutated"' | head -1 |
    sed 's/.*"error": "\(.*\)"\(, "delay": "[^"]*"\)\{0,1\}}$/\1/; s/\\"/"/g; s/\\\\/\\/g' | grep .
}

collect() { # batch: values (id<TAB>json) and missing ids
  local b=$1 name kind
  name=$(cat "$work/$b/name"); kind=$(tr 'A-Z' 'a-z' < "$work/$b/kind")
  {
    kubectl get "$kind" "$name" -n "$NS" -o jsonpath='{.status}' 2>/dev/null | split_object || true
    kubectl get configmap "$name-cm" -n "$NS" -o jsonpath='{.data}' 2>/dev/null | split_object || true
  } > "$work/$b/values"
  [[ -s "$work/kro-version" ]] || kubectl get "$kind" "$name" -n "$NS" -o jsonpath='{.metadata.labels.kro\.run/kro-version}' > "$work/kro-version" 2>/dev/null || true
  awk -F'\t' 'NR == FNR { have[$1] = 1; next } !($1 in have)' "$work/$b/values" "$work/$b/ids" > "$work/$b/missing"
}

# ok cases: one batch per family (the id up to its first `_`) and instance
# spec; reject/fail cases: one each.
first=()
while IFS= read -r key; do
  mapfile -t ids < <(awk -F'\t' -v k="$key" '{ f = $1; sub(/_.*/, "", f) } $3 == "ok" && f "\t" $4 == k { print $1 }' "$work/cases.tsv")
  if ((${#ids[@]})); then new_batch "${ids[@]}"; first+=("$batch"); fi
done < <(awk -F'\t' '$3 == "ok" { f = $1; sub(/_.*/, "", f); print f "\t" $4 }' "$work/cases.tsv" | sort -u)
while IFS= read -r id; do
  new_batch "$id"; first+=("$batch")
done < <(awk -F'\t' '$3 != "ok" { print $1 }' "$work/cases.tsv")

echo "$(wc -l < "$work/cases.tsv") cases in ${#first[@]} RGDs" >&2
: > "$work/results.lines"
run_round "${first[@]}"

# Results in corpus order.
kro=$(cat "$work/kro-version" 2>/dev/null || true)
k8s=$(kubectl version 2>/dev/null | sed -n 's/^Server Version: //p')
{
  printf '{\n"header": %s,\n"kro": %s,\n"schema": %s,\n"spec": %s,\n"cases": [\n' \
    "$(jstr "Recorded by scripts/kro-oracle.sh from a running KRO; do not edit. Re-record: start a cluster with KRO (../shared/kit/up DIR; export KUBECONFIG=DIR/kubeconfig), then run scripts/kro-oracle.sh")" \
    "$(jstr "KRO $kro, Kubernetes $k8s")" "$schema" "$default_spec"
  awk -F'\t' 'NR == FNR { order[++n] = $1; next }
    { line = $0; sub(/^\{"id": "/, "", line); id = substr(line, 1, index(line, "\"") - 1); r[id] = $0 }
    END { for (i = 1; i <= n; i++) if (order[i] in r) printf "%s%s\n", r[order[i]], (i < n ? "," : "") }' \
    "$work/cases.tsv" "$work/results.lines"
  printf ']\n}\n'
} > "$OUT"
echo "wrote $OUT" >&2

# The RGDs go (their instances went after each round).
for ((i = 1; i <= nbatch; i++)); do
  kubectl delete rgd "oracle${run}b$i" --wait=false --ignore-not-found > /dev/null 2>&1 || true
done
