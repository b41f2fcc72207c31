#!/usr/bin/env bash
# Figures for `kubectl layering deploy` on the local cluster (issue 5): its wall
# time against `kubectl apply --server-side` + `kubectl rollout status` of the
# very same manifests (`kubectl layering render`, in `kubectl kustomize` order), and its overhead over the
# slowest pod's time to Ready. Two scenarios, each from the same start state:
#   fresh   - the environment does not exist (namespace and volumes removed)
#   release - every service moves to a new image tag (the same image, retagged)
# The plugin also waits for what kubectl does not (claims bound, autoscalers
# reading metrics); the fresh figures include that wait.
# Needs the local cluster (make cluster) and the service images (make images).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/lib.sh
. test/bench/lib.sh
reset_env() {
  kubectl delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
  kubectl delete pv -l layering-detection.io/environment=local --ignore-not-found >/dev/null
}
kubectl_deploy() { # manifests file
  kubectl apply --server-side --force-conflicts -f "$1" >/dev/null
  for d in "${deployments[@]}"; do kubectl -n "$ns" rollout status "deploy/$d" --timeout=5m >/dev/null; done
}

need_cluster
manifests=$(mktemp -d)
trap 'rm -rf "$manifests"' EXIT
retag 0.1.0-bench
"$plugin" render --env local >"$manifests/base.yaml"
"$plugin" render --env local --image-tag 0.1.0-bench >"$manifests/release.yaml"

declare -A ratios # scenario -> "r1 r2 …", for the medians
row() { # scenario run plugin_s kubectl_s overhead
  local r; r=$(echo "$3 / $4" | bc -l)
  ratios[$1]+="$r "
  printf '%-8s %3d %10.2f %10.2f %7.2f %18s\n' "$1" "$2" "$3" "$4" "$r" "$5"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {printf "%.2f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-8s %3s %10s %10s %7s %18s\n' scenario run plugin_s kubectl_s ratio plugin_overhead_s
for i in $(seq "$runs"); do
  reset_env
  t0=$(now); "$plugin" deploy --env local >/dev/null 2>&1; t1=$(now)
  plugin_s=$(echo "$t1 - $t0" | bc); overhead=$(echo "$t1 - $(slowest_ready)" | bc)
  reset_env
  t0=$(now); kubectl_deploy "$manifests/base.yaml"; t1=$(now)
  kubectl_s=$(echo "$t1 - $t0" | bc)
  row fresh "$i" "$plugin_s" "$kubectl_s" "$(printf %.2f "$overhead")"
done
reset_env
"$plugin" deploy --env local >/dev/null 2>&1
for i in $(seq "$runs"); do
  t0=$(now); "$plugin" deploy --env local --image-tag 0.1.0-bench >/dev/null 2>&1; t1=$(now)
  plugin_s=$(echo "$t1 - $t0" | bc); overhead=$(echo "$t1 - $(slowest_ready)" | bc)
  "$plugin" deploy --env local >/dev/null 2>&1 # back to 0.1.0, untimed
  t0=$(now); kubectl_deploy "$manifests/release.yaml"; t1=$(now)
  kubectl_s=$(echo "$t1 - $t0" | bc)
  row release "$i" "$plugin_s" "$kubectl_s" "$(printf %.2f "$overhead")"
  "$plugin" deploy --env local >/dev/null 2>&1 # back to 0.1.0, untimed
done
# No-op: the environment is exactly as the manifests say (target <= 0.5 s).
"$plugin" deploy --env local >/dev/null 2>&1
for i in $(seq "$runs"); do
  t0=$(now); "$plugin" deploy --env local >/dev/null 2>&1; t1=$(now)
  plugin_s=$(echo "$t1 - $t0" | bc)
  t0=$(now); kubectl_deploy "$manifests/base.yaml"; t1=$(now)
  kubectl_s=$(echo "$t1 - $t0" | bc)
  row no-op "$i" "$plugin_s" "$kubectl_s" -
done
for sc in fresh release no-op; do printf 'median ratio %-8s %s (%d runs)\n' "$sc" "$(echo "${ratios[$sc]}" | median)" "$runs"; done
echo "ratio = plugin / kubectl wall time (target <= 0.8); plugin_overhead = plugin end - slowest pod Ready (target <= 2 s; 1 s resolution)"
