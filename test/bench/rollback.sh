#!/usr/bin/env bash
# Figures for `kubectl layering rollback` on the local cluster (issue 10):
# rolling a release (all four services' images) back, against what an operator
# would otherwise run, `kubectl rollout undo` of the four Deployments followed
# by `kubectl rollout status` of each, from the same start state in one run.
# Also: how long after its slowest pod became Ready the rollback returned.
# Needs the local cluster (make cluster) and the service images (make images).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/lib.sh
. test/bench/lib.sh
kubectl_undo() {
  for d in "${deployments[@]}"; do kubectl -n "$ns" rollout undo "deploy/$d" >/dev/null; done
  for d in "${deployments[@]}"; do kubectl -n "$ns" rollout status "deploy/$d" --timeout=5m >/dev/null; done
}
release() { "$plugin" deploy --env local --image-tag 0.1.0-bench >/dev/null 2>&1; }

need_cluster
retag 0.1.0-bench
"$plugin" deploy --env local >/dev/null 2>&1

printf '%-9s %3s %11s %10s %7s %18s\n' scenario run rollback_s kubectl_s ratio plugin_overhead_s
for i in $(seq "$runs"); do
  release
  t0=$(now); "$plugin" rollback --env local >/dev/null 2>&1; t1=$(now)
  plugin_s=$(echo "$t1 - $t0" | bc); overhead=$(echo "$t1 - $(slowest_ready)" | bc)
  release
  t0=$(now); kubectl_undo; t1=$(now)
  kubectl_s=$(echo "$t1 - $t0" | bc)
  printf '%-9s %3d %11.2f %10.2f %7.2f %18.2f\n' rollback "$i" "$plugin_s" "$kubectl_s" "$(echo "$plugin_s / $kubectl_s" | bc -l)" "$overhead"
done
"$plugin" deploy --env local >/dev/null 2>&1
echo "ratio = plugin rollback / (kubectl rollout undo + rollout status of the 4 Deployments) (target <= 0.8); plugin_overhead = rollback end - slowest pod Ready (target <= 2 s; 1 s resolution)"
