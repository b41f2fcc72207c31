#!/usr/bin/env bash
# The project's whole test run (README: "make check"): lint, unit tests, then the
# end-to-end tests on a local cluster that is always brought down again, also
# when something fails or the run is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s\n' "$*"; }

step "lint"
make lint
step "unit tests"
make test
step "local AWS tests (SDK and AWS CLI)"
make aws-test
step "service images"
make images
step "local cluster"
trap 'step "local cluster down"; ./local-cluster/cluster.sh down; make aws-down' EXIT
make cluster
step "local AWS"
make aws
step "end-to-end tests"
make e2e
