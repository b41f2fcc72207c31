#!/usr/bin/env bash
# Figures for `kubectl layering alarms sync` against the local AWS (issue 12):
# a cold sync (nothing exists: 12 alarms and the dashboard created) and a
# no-op sync (nothing changed), each with its wall time and the CloudWatch
# calls it made. Needs the local AWS (make aws).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .local-aws/env ] || { echo "no local AWS: run make aws first" >&2; exit 2; }
# shellcheck source=/dev/null
. .local-aws/env
make -s build
settings=$(mktemp)
trap 'rm -f "$settings"' EXIT
echo "clusterName: layering-detection-bench" >"$settings"
sync() { bin/kubectl-layering alarms "$@" --env prod --settings "$settings" --allow-missing-metrics --kubeconfig /dev/null -o json; }
now() { date +%s.%N; }
printf '%-6s %3s %8s %6s %7s\n' sync run seconds reads writes
for i in 1 2 3; do
  bin/kubectl-layering alarms delete --env prod --settings "$settings" --kubeconfig /dev/null >/dev/null 2>&1 || true
  for kind in cold no-op; do
    t0=$(now); out=$(sync sync 2>/dev/null); t1=$(now)
    printf '%-6s %3d %8.3f %6s %7s\n' "$kind" "$i" "$(echo "$t1 - $t0" | bc)" \
      "$(echo "$out" | sed -n 's/.*"apiReads": \([0-9]*\).*/\1/p')" "$(echo "$out" | sed -n 's/.*"apiWrites": \([0-9]*\).*/\1/p')"
  done
done
bin/kubectl-layering alarms delete --env prod --settings "$settings" --kubeconfig /dev/null >/dev/null 2>&1 || true
echo "goal: cold <= 1 s, no-op 0 writes"
