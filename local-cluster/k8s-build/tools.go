//go:build tools

// Package tools pins the Kubernetes server commands that local-cluster/cluster.sh builds
// (go build k8s.io/kubernetes/cmd/...; kubectl only when the machine has none), so that go.mod/go.sum list exactly their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
