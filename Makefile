# Entry points that users, CI and reviewers rely on: keep these target names working.
SHELL := /bin/bash
VERSION := $(shell cat VERSION)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/layering-detection/kubectl-layering/pkg/version.Version=$(VERSION) \
	-X github.com/layering-detection/kubectl-layering/pkg/version.Commit=$(GIT_COMMIT)
# The services are their own module (services/go.mod), with their own version package.
SERVICES_LDFLAGS := -s -w -X github.com/layering-detection/kubectl-layering/services/version.Version=$(VERSION) \
	-X github.com/layering-detection/kubectl-layering/services/version.Commit=$(GIT_COMMIT)
export CGO_ENABLED := 0
# Tests and harnesses talk to the local AWS only: without credentials the SDK
# must not go looking for the EC2 metadata service (169.254.169.254) off this machine.
export AWS_EC2_METADATA_DISABLED := true
# The module proxy here has no checksum-database entries for these modules.
export GONOSUMDB := k8s.io,sigs.k8s.io/metrics-server,github.com/external-secrets
SERVICES := orchestrator layering wash-trading aggregator
# Release platforms: each needs its entry in .krew.yaml (make dist fails on a mismatch).
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: build deps test lint check demo services images push cluster cluster-down e2e bench dist clean

build: ## the plugin, bin/kubectl-layering
	go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-layering ./cmd/kubectl-layering

deps: ## download every module the build and the offline tests read (the OpenAPI schema of k8s.io/kubernetes among them)
	go mod download
	go -C services mod download
	go -C tools mod download
	go -C local-cluster/k8s-build mod download k8s.io/kubernetes

test: deps ## fast unit tests (no cluster, no download inside a test): the plugin, the services, the harness and release tools
	go test ./...
	go -C services test ./...
	go -C tools test ./...

lint: ## gofmt, go vet (every module), actionlint on .github/workflows (with shellcheck), shellcheck on the scripts
	./test/lint.sh

check: ## everything CI runs: lint, unit tests, then e2e on a local cluster brought up and down around it
	./test/check.sh

demo: ## the main job from nothing: cluster up, deploy the local env, run the pipeline, show the results
	./local-cluster/demo.sh

services: ## the four reference services, bin/<service>-service
	go -C services build -trimpath -ldflags '$(SERVICES_LDFLAGS)' -o $(CURDIR)/bin/ $(foreach s,$(SERVICES),./cmd/$(s)-service)

images: services ## image archives, bin/images/<service>.tar, named like the ECR repositories
	@for s in $(SERVICES); do \
	  case $$s in orchestrator) p=8000;; layering) p=8001;; wash-trading) p=8002;; aggregator) p=8003;; esac; \
	  go -C tools run ./mkimage -tag layering-detection-$$s:$(VERSION) -out $(CURDIR)/bin/images/$$s.tar \
	    -file $(CURDIR)/bin/$$s-service=/$$s-service -user 1000:1000 -port $$p/tcp \
	    -label org.opencontainers.image.version=$(VERSION) -label org.opencontainers.image.title=layering-detection-$$s || exit 1; \
	  echo "bin/images/$$s.tar  layering-detection-$$s:$(VERSION)"; \
	done
	@go build -trimpath -ldflags '$(LDFLAGS)' -o bin/layering-verify-probe ./cmd/layering-verify-probe
	@go -C tools run ./mkimage -tag layering-detection-verify-probe:$(VERSION) -out $(CURDIR)/bin/images/verify-probe.tar \
	  -file $(CURDIR)/bin/layering-verify-probe=/layering-verify-probe -user 1000:1000 \
	  -label org.opencontainers.image.title=layering-detection-verify-probe
	@echo "bin/images/verify-probe.tar  layering-detection-verify-probe:$(VERSION)  (kubectl layering verify)"
	@go build -trimpath -ldflags '$(LDFLAGS)' -o bin/layering-loadgen ./cmd/layering-loadgen
	@go -C tools run ./mkimage -tag layering-detection-loadgen:$(VERSION) -out $(CURDIR)/bin/images/loadgen.tar \
	  -file $(CURDIR)/bin/layering-loadgen=/layering-loadgen -user 1000:1000 \
	  -label org.opencontainers.image.version=$(VERSION) -label org.opencontainers.image.title=layering-detection-loadgen
	@echo "bin/images/loadgen.tar  layering-detection-loadgen:$(VERSION)  (kubectl layering loadtest)"

# The local cluster's registry (local-cluster/cluster.sh); CI pushes to ECR instead.
REGISTRY ?= localhost:5000
push: ## make images, then push them to REGISTRY (default the local cluster's, localhost:5000), tagged VERSION, as CI pushes to ECR
	$(MAKE) images
	./.github/scripts/push-images.sh $(REGISTRY) $(VERSION)

cluster: ## bring up the local single-node cluster (kubeconfig: .local-cluster/kubeconfig)
	./local-cluster/cluster.sh up

cluster-down: ## stop every process of the local cluster and remove its state
	./local-cluster/cluster.sh down

e2e: ## end-to-end tests against the running local cluster
	go test -tags e2e -count=1 -timeout 45m -v ./test/e2e/...

bench: ## benchmarks that print figures (the load generator's on loopback); the deploy figures need the local cluster (make cluster)
	go test -run '^$$' -bench . -benchtime 1x ./...
	go -C services test -run '^$$' -bench . -benchtime 1x ./...
	./test/bench/loadgen.sh
	@if KUBECONFIG=.local-cluster/kubeconfig kubectl version >/dev/null 2>&1; then ./test/bench/deploy.sh && ./test/bench/rollback.sh && ./test/bench/verify.sh; \
	else echo "deploy and verify figures skipped: no local cluster (make cluster)"; fi
	@if [ -f .local-aws/env ]; then ./test/bench/alarms.sh; else echo "alarms figures skipped: no local AWS (make aws)"; fi
	@if [ -f .local-aws/env ]; then ./test/bench/rollback-to-ecs.sh; else echo "rollback --to-ecs figures skipped: no local AWS (make aws)"; fi

dist: ## release archives, dist/checksums.txt and the krew manifest rendered from .krew.yaml (dist/layering.krew.yaml)
	rm -rf dist bin/dist
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; exe=kubectl-layering; [ $$os = windows ] && exe=$$exe.exe; \
	  echo "go build $$os/$$arch"; \
	  GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags '$(LDFLAGS)' -o bin/dist/$${os}_$${arch}/$$exe ./cmd/kubectl-layering || exit 1; \
	done
	go -C tools run ./krew -bin $(CURDIR)/bin/dist -out $(CURDIR)/dist -template $(CURDIR)/.krew.yaml -tag v$(VERSION) \
	  -license $(CURDIR)/LICENSE -completion $(CURDIR)/completion/kubectl_complete-layering
	KREW_DIST=$(CURDIR)/dist go -C tools test -count=1 -run TestRelease ./krew

clean:
	rm -rf bin dist

.PHONY: aws aws-down aws-test
aws: ## start the local AWS in the background; . .local-aws/env points clients at it
	./local-aws/local-aws.sh up

aws-down: ## stop the local AWS (its state stays in .local-aws/state.json)
	./local-aws/local-aws.sh down

aws-test: ## the local AWS's tests: every protocol through the pinned SDK, and Debian's AWS CLI
	./local-aws/local-aws.sh test
