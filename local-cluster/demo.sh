#!/usr/bin/env bash
# The main job on the local cluster, from nothing (README: "make demo"): build
# the plugin and the service images, bring the cluster up, push the images to
# its registry, deploy the `local` environment by tag with the plugin, run the
# detection pipeline on the sample transactions through the orchestrator
# Service, and show the results.
# The cluster stays up afterwards; `make cluster-down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s\n' "$*"; }
export KUBECONFIG="$PWD/.local-cluster/kubeconfig"
volumes=/var/lib/kubectl-layering/local-volumes
ns=layering-detection-local

step "plugin and service images"
make build images
step "local cluster"
make cluster
step "images to the local registry (as CI pushes them to ECR)"
make push
step "kubectl layering deploy --env local --image-tag $(cat VERSION)"
bin/kubectl-layering deploy --env local --image-tag "$(cat VERSION)"

step "pipeline: services/testdata/transactions.csv through the orchestrator"
install -m 0644 services/testdata/transactions.csv "$volumes/input/transactions.csv"
port_log=$(mktemp)
kubectl -n "$ns" port-forward svc/orchestrator-service 18000:8000 >"$port_log" 2>&1 &
forward=$!
trap 'kill $forward 2>/dev/null || true; rm -f "$port_log"' EXIT
for _ in $(seq 50); do grep -q Forwarding "$port_log" && break; sleep 0.2; done
# The local environment's API key is a fixed, non-secret value (embedded/manifests/components/local).
curl -sS --fail-with-body -X POST http://127.0.0.1:18000/orchestrate \
  -H 'Content-Type: application/json' -H 'X-API-Key: local-api-key' \
  -d '{"input_file": "transactions.csv"}'
echo
step "suspicious accounts (account ids pseudonymized with the local salt)"
cat "$volumes/output/suspicious_accounts.csv"
step "detections"
cat "$volumes/logs/detections.csv"
printf '\nThe cluster is still up: KUBECONFIG=%s kubectl -n %s get pods; make cluster-down to remove it.\n' "$KUBECONFIG" "$ns"
