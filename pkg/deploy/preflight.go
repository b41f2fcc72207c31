package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// MinServerVersion is the oldest Kubernetes the manifests run on: preStop
// sleep hooks (beta, on by default) arrived in 1.30.
var MinServerVersion = version.MustParseGeneric("1.30.0")

// Problem is one unmet prerequisite: what is wrong and how to fix it.
type Problem struct {
	Prerequisite string `json:"prerequisite"`
	Problem      string `json:"problem"`
	Fix          string `json:"fix"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s\n    fix: %s", p.Prerequisite, p.Problem, p.Fix)
}

// PreflightError lists every unmet prerequisite; nothing was written.
type PreflightError struct{ Problems []Problem }

func (e *PreflightError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.String()
	}
	return fmt.Sprintf("preflight failed, nothing was applied:\n%s", strings.Join(lines, "\n"))
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

// How to install what a group of kinds or a named dependency needs.
var installHints = map[string]string{
	"external-secrets.io":  "install External Secrets Operator v0.16 or newer (external-secrets.io/v1): helm install external-secrets external-secrets/external-secrets -n external-secrets --create-namespace",
	"csi:efs.csi.aws.com":  "install the Amazon EFS CSI driver: aws eks create-addon --cluster-name <cluster> --addon-name aws-efs-csi-driver",
	"ingressclass:alb":     "install the AWS Load Balancer Controller, which provides IngressClass alb: helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n kube-system --set clusterName=<cluster>",
	"metrics.k8s.io":       "install metrics-server (on EKS: aws eks create-addon --cluster-name <cluster> --addon-name metrics-server; local cluster: make cluster)",
	"server-version":       "upgrade the cluster to Kubernetes 1.30 or newer",
	"default":              "install the controller that provides this API",
	"apiservice-available": "check the metrics-server pods: kubectl -n kube-system get pods -l k8s-app=metrics-server",
}

var (
	gvrCSIDriver    = schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "csidrivers"}
	gvrIngressClass = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}
	gvrAPIService   = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
)

// Preflight checks, before anything is written, that the cluster is reachable,
// recent enough, and has everything the objects rely on. It returns an
// *UnreachableError, a *PreflightError, or nil.
func Preflight(ctx context.Context, disc discovery.DiscoveryInterface, dyn dynamic.Interface, mapper meta.RESTMapper, host string, objs []*unstructured.Unstructured) error {
	info, err := ServerVersion(ctx, disc, host)
	if err != nil {
		return err
	}
	var problems []Problem
	if v, err := version.ParseGeneric(info.GitVersion); err != nil || v.LessThan(MinServerVersion) {
		problems = append(problems, Problem{"Kubernetes version", fmt.Sprintf("the server runs %s; the manifests need %s or newer", info.GitVersion, MinServerVersion), installHints["server-version"]})
	}

	kinds := map[schema.GroupVersionKind]bool{}
	csiDrivers := map[string]bool{}
	ingressClasses := map[string]bool{}
	needsMetrics := false
	for _, o := range objs {
		kinds[o.GroupVersionKind()] = true
		switch o.GetKind() {
		case "PersistentVolume":
			if d, ok, _ := unstructured.NestedString(o.Object, "spec", "csi", "driver"); ok {
				csiDrivers[d] = true
			}
		case "Ingress":
			if c, ok, _ := unstructured.NestedString(o.Object, "spec", "ingressClassName"); ok {
				ingressClasses[c] = true
			}
		case "HorizontalPodAutoscaler":
			needsMetrics = true
		}
	}
	for _, gvk := range sortedKinds(kinds) {
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			hint, ok := installHints[gvk.Group]
			if !ok {
				hint = installHints["default"]
			}
			problems = append(problems, Problem{gvk.Kind + " (" + gvk.GroupVersion().String() + ")", "the cluster does not serve this API", hint})
		}
	}
	exists := func(gvr schema.GroupVersionResource, name, what, hintKey string) {
		if _, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{}); err != nil {
			problem := "not found"
			if !apierrors.IsNotFound(err) {
				problem = err.Error()
			}
			problems = append(problems, Problem{what, problem, installHints[hintKey]})
		}
	}
	for _, d := range sortedKeys(csiDrivers) {
		exists(gvrCSIDriver, d, "CSI driver "+d, "csi:"+d)
	}
	for _, c := range sortedKeys(ingressClasses) {
		exists(gvrIngressClass, c, "IngressClass "+c, "ingressclass:"+c)
	}
	if needsMetrics {
		problems = append(problems, checkMetricsAPI(ctx, dyn)...)
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// ServerVersion asks the API server its version, within a bounded time (an
// unreachable server must not hang the command); failure is an *UnreachableError.
func ServerVersion(ctx context.Context, disc discovery.DiscoveryInterface, host string) (*apimachineryversion.Info, error) {
	versionCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := disc.RESTClient().Get().AbsPath("/version").Do(versionCtx).Raw()
	if err != nil {
		return nil, &UnreachableError{Host: host, Err: err}
	}
	var info apimachineryversion.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, &UnreachableError{Host: host, Err: fmt.Errorf("unexpected answer to /version: %w", err)}
	}
	return &info, nil
}

// checkMetricsAPI requires the resource metrics API that HPAs read to be registered and available.
func checkMetricsAPI(ctx context.Context, dyn dynamic.Interface) []Problem {
	const name = "v1beta1.metrics.k8s.io"
	svc, err := dyn.Resource(gvrAPIService).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return []Problem{{"metrics-server (APIService " + name + ")", "not registered: autoscalers would have no CPU or memory metrics", installHints["metrics.k8s.io"]}}
	}
	if err != nil {
		return []Problem{{"metrics-server (APIService " + name + ")", err.Error(), installHints["metrics.k8s.io"]}}
	}
	conditions, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" {
			if m["status"] == "True" {
				return nil
			}
			return []Problem{{"metrics-server (APIService " + name + ")", fmt.Sprintf("not available: %v", m["message"]), installHints["apiservice-available"]}}
		}
	}
	return []Problem{{"metrics-server (APIService " + name + ")", "no Available condition yet", installHints["apiservice-available"]}}
}

func sortedKinds(m map[schema.GroupVersionKind]bool) []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
