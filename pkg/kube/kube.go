// Package kube holds what every command needs to talk to the cluster: the
// clients, the kind-to-resource resolver, and small helpers on objects.
package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Clients are what a command talks to the cluster with.
type Clients struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	Mapper    meta.RESTMapper
	Host      string // the API server, for messages
}

// ResourceFor is the client for one kind in one namespace (ignored for
// cluster-scoped kinds). A kind whose CRD was just installed may be missing
// from cached discovery: the mapper is reset and asked once more.
func (c Clients) ResourceFor(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		if r, ok := c.Mapper.(meta.ResettableRESTMapper); ok {
			r.Reset()
			mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(mapping.Resource).Namespace(namespace), nil
	}
	return c.Dynamic.Resource(mapping.Resource), nil
}

// UnreachableError means the API server could not be asked anything.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Kubernetes API server at %s: %v\n"+
		"  check --kubeconfig and --context (on EKS: aws eks update-kubeconfig --name <cluster>), and that the server is up", e.Host, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ServerVersion asks the API server its version, within a bounded time (an
// unreachable server must not hang the command); failure is an *UnreachableError.
func (c Clients) ServerVersion(ctx context.Context) (*apimachineryversion.Info, error) {
	versionCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := c.Discovery.RESTClient().Get().AbsPath("/version").Do(versionCtx).Raw()
	if err != nil {
		return nil, &UnreachableError{Host: c.Host, Err: err}
	}
	var info apimachineryversion.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, &UnreachableError{Host: c.Host, Err: fmt.Errorf("unexpected answer to /version: %w", err)}
	}
	return &info, nil
}

// Key names an object in progress output, results and failures.
func Key(u *unstructured.Unstructured) string {
	return strings.ToLower(u.GetKind()) + "/" + u.GetName()
}

// Condition returns the status, reason and message of an object's condition of the given type.
func Condition(u *unstructured.Unstructured, kind string) (status, reason, message string) {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == kind {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
			return status, reason, message
		}
	}
	return "Unknown", "", "no " + kind + " condition yet"
}

// Normalize returns a copy of o without what the server alone maintains
// (status, bookkeeping metadata), for comparing intent.
func Normalize(o *unstructured.Unstructured) *unstructured.Unstructured {
	c := o.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	annotations := c.GetAnnotations()
	delete(annotations, "deployment.kubernetes.io/revision")
	if len(annotations) == 0 {
		annotations = nil
	}
	c.SetAnnotations(annotations)
	return c
}
