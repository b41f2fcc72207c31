#!/usr/bin/env bash
# make lint: gofmt, go vet of every module, actionlint on the GitHub workflows
# (with shellcheck on their run: scripts), shellcheck on the repo's shell scripts.
# Fails on the first finding, printing it.
set -euo pipefail
cd "$(dirname "$0")/.."
export GONOSUMDB=${GONOSUMDB:-k8s.io,sigs.k8s.io/metrics-server,github.com/external-secrets}
ACTIONLINT_VERSION=v1.7.11
TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-layering/tools
step() { printf '=== %s\n' "$*"; }

# Files of the repo, committed or not, but not ignored ones (.local-cluster/, bin/).
files() { git ls-files --cached --others --exclude-standard "$@"; }

step "gofmt"
mapfile -t gofiles < <(files '*.go')
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted (run gofmt -w on them):" >&2
	echo "$unformatted" >&2
	exit 1
fi

# The modules with code to vet (local-cluster/k8s-build only pins Kubernetes).
step "go vet and go mod tidy (., services/, tools/)"
for m in . services tools local-aws; do
	go -C "$m" vet ./...
	# go.mod and go.sum must be exactly what the code needs.
	go -C "$m" mod tidy -diff || { echo "$m: go mod tidy would change go.mod/go.sum (run it and commit)" >&2; exit 1; }
done

step "shellcheck"
if ! command -v shellcheck >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "shellcheck is missing: apt-get install shellcheck (Debian), then make lint again" >&2
		exit 2
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends shellcheck >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends shellcheck >/dev/null; }
fi
shellcheck --version | sed -n 2p
mapfile -t scripts < <(files '*.sh' .ci/run)
shellcheck "${scripts[@]}"

# actionlint runs shellcheck on every run: script when it finds it on PATH.
step "actionlint $ACTIONLINT_VERSION"
actionlint=$TOOLS/actionlint-$ACTIONLINT_VERSION/actionlint
if [ ! -x "$actionlint" ]; then
	GOBIN=$(dirname "$actionlint") go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
"$actionlint" -version | head -1
mapfile -t workflows < <(files '.github/workflows/*.yml' '.github/workflows/*.yaml')
"$actionlint" -no-color "${workflows[@]}"
echo "actionlint: no findings in ${workflows[*]} (run: scripts checked by shellcheck)"
