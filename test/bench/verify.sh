#!/usr/bin/env bash
# Figures for `kubectl layering verify` (issue 6): the wall time of a full
# verify of the healthy `local` environment (target <= 10 s).
# Needs the local cluster with the environment deployed (make demo, or make cluster + deploy).
# KUBECONFIG_LOCAL: another cluster's kubeconfig; VERIFY_PROBE_IMAGE: a probe image other than the default.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KUBECONFIG="${KUBECONFIG_LOCAL:-$PWD/.local-cluster/kubeconfig}"
runs=${RUNS:-5}
make -s build
bin/kubectl-layering deploy --env local >/dev/null 2>&1
printf '%-6s %10s %6s\n' run verify_s exit
for i in $(seq "$runs"); do
  t0=$(date +%s.%N); code=0; bin/kubectl-layering verify --env local ${VERIFY_PROBE_IMAGE:+--probe-image "$VERIFY_PROBE_IMAGE"} >/dev/null 2>&1 || code=$?; t1=$(date +%s.%N)
  printf '%-6d %10.2f %6d\n' "$i" "$(echo "$t1 - $t0" | bc)" "$code"
done
echo "full verify of a healthy local environment (all six checks); target <= 10 s"
