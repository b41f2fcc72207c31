# Entry points that users, CI and reviewers rely on: keep these target names working.
SHELL := /bin/bash
VERSION := $(shell cat VERSION)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/layering-detection/kubectl-layering/pkg/version.Version=$(VERSION) \
	-X github.com/layering-detection/kubectl-layering/pkg/version.Commit=$(GIT_COMMIT)
export CGO_ENABLED := 0
# The module proxy here has no checksum-database entries for these modules.
export GONOSUMDB := k8s.io,sigs.k8s.io/metrics-server,github.com/external-secrets
SERVICES := orchestrator layering wash-trading aggregator

.PHONY: build test services images cluster cluster-down e2e bench lint clean

build: ## the plugin, bin/kubectl-layering
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-layering ./cmd/kubectl-layering

test: ## fast unit tests (no cluster)
	go test ./...

services: ## the four reference services, bin/<service>-service
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(foreach s,$(SERVICES),./cmd/$(s)-service)

images: services ## image archives, bin/images/<service>.tar, named like the ECR repositories
	@for s in $(SERVICES); do \
	  go run ./tools/mkimage -tag layering-detection-$$s:$(VERSION) -out bin/images/$$s.tar \
	    -file bin/$$s-service=/$$s-service -user 1000:1000 -label org.opencontainers.image.version=$(VERSION) || exit 1; \
	  echo "bin/images/$$s.tar  layering-detection-$$s:$(VERSION)"; \
	done

cluster: ## bring up the local single-node cluster (kubeconfig: .local-cluster/kubeconfig)
	./local-cluster/cluster.sh up

cluster-down: ## stop every process of the local cluster and remove its state
	./local-cluster/cluster.sh down

e2e: ## end-to-end tests against the running local cluster
	go test -tags e2e -count=1 -timeout 30m -v ./test/e2e/...

bench: ## benchmarks that print figures
	go test -run '^$$' -bench . -benchtime 1x ./...

clean:
	rm -rf bin dist
