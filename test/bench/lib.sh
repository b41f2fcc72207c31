# Shared by the benchmark scripts: the local environment, timing, and image tags.
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
export KUBECONFIG="$PWD/.local-cluster/kubeconfig"
ns=layering-detection-local
plugin=bin/kubectl-layering
runs=${RUNS:-3}
deployments=(layering-detection-orchestrator layering-detection-layering layering-detection-wash-trading layering-detection-aggregator)
registry=localhost:5000 # the local cluster's registry (local-cluster/cluster.sh)

now() { date +%s.%N; }
# The last Ready transition among the environment's pods, in epoch seconds.
slowest_ready() {
  kubectl -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}' |
    sort | tail -1 | xargs -I{} date -d {} +%s
}
retag() { # tag: the same images under a new tag in the registry, so a release rolls out (and pulls) without a build
  for s in orchestrator layering wash-trading aggregator; do
    go -C tools tool crane tag "$registry/layering-detection-$s:0.1.0" "$1" 2>/dev/null
  done
}
need_cluster() {
  kubectl version >/dev/null 2>&1 || { echo "no local cluster: run make cluster first" >&2; exit 2; }
  make -s build
}
