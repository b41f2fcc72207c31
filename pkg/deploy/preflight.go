package deploy

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/dynamic"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
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
// recent enough, and has everything the objects rely on. It returns a
// *kube.UnreachableError, a *PreflightError, or nil.
func Preflight(ctx context.Context, c kube.Clients, objs []*unstructured.Unstructured) error {
	info, err := c.ServerVersion(ctx)
	if err != nil {
		return err
	}
	problems := checkServerVersion(info.GitVersion)
	problems = append(problems, checkKinds(c.Mapper, objs)...)
	problems = append(problems, checkDependencies(ctx, c.Dynamic, objs)...)
	problems = append(problems, checkRoles(objs)...)
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

func checkServerVersion(gitVersion string) []Problem {
	if v, err := version.ParseGeneric(gitVersion); err != nil || v.LessThan(MinServerVersion) {
		return []Problem{{"Kubernetes version", fmt.Sprintf("the server runs %s; the manifests need %s or newer", gitVersion, MinServerVersion), installHints["server-version"]}}
	}
	return nil
}

// checkKinds requires every kind of objs to be served (CRDs installed).
func checkKinds(mapper meta.RESTMapper, objs []*unstructured.Unstructured) []Problem {
	kinds := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		kinds[o.GroupVersionKind()] = true
	}
	var problems []Problem
	for _, gvk := range sortedKinds(kinds) {
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			hint, ok := installHints[gvk.Group]
			if !ok {
				hint = installHints["default"]
			}
			problems = append(problems, Problem{gvk.Kind + " (" + gvk.GroupVersion().String() + ")", "the cluster does not serve this API", hint})
		}
	}
	return problems
}

// dependencies are what objs name but do not contain: CSI drivers of volumes,
// ingress classes, and whether autoscalers need the metrics API.
func dependencies(objs []*unstructured.Unstructured) (csiDrivers, ingressClasses []string, needsMetrics bool) {
	drivers, classes := map[string]bool{}, map[string]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "PersistentVolume":
			if d, ok, _ := unstructured.NestedString(o.Object, "spec", "csi", "driver"); ok {
				drivers[d] = true
			}
		case "Ingress":
			if c, ok, _ := unstructured.NestedString(o.Object, "spec", "ingressClassName"); ok {
				classes[c] = true
			}
		case "HorizontalPodAutoscaler":
			needsMetrics = true
		}
	}
	return slices.Sorted(maps.Keys(drivers)), slices.Sorted(maps.Keys(classes)), needsMetrics
}

func checkDependencies(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured) []Problem {
	var problems []Problem
	csiDrivers, ingressClasses, needsMetrics := dependencies(objs)
	exists := func(gvr schema.GroupVersionResource, name, what, hintKey string) {
		if _, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{}); err != nil {
			problem := "not found"
			if !apierrors.IsNotFound(err) {
				problem = err.Error()
			}
			problems = append(problems, Problem{what, problem, installHints[hintKey]})
		}
	}
	for _, d := range csiDrivers {
		exists(gvrCSIDriver, d, "CSI driver "+d, "csi:"+d)
	}
	for _, c := range ingressClasses {
		exists(gvrIngressClass, c, "IngressClass "+c, "ingressclass:"+c)
	}
	if needsMetrics {
		problems = append(problems, checkMetricsAPI(ctx, dyn)...)
	}
	return problems
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

// RoleAnnotation is the IRSA annotation: the IAM role a ServiceAccount's pods assume.
const RoleAnnotation = "eks.amazonaws.com/role-arn"

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([^:]*):role/[\w+=,.@/-]+$`)

// checkRoles refuses ServiceAccounts whose IRSA role is empty, malformed or
// in the placeholder account: their pods would start and fail every AWS call
// (Fluent Bit would drop every log line) instead of the deploy saying why now.
func checkRoles(objs []*unstructured.Unstructured) []Problem {
	var problems []Problem
	for _, o := range objs {
		arn, annotated := o.GetAnnotations()[RoleAnnotation]
		if o.GetKind() != "ServiceAccount" || !annotated {
			continue
		}
		what := fmt.Sprintf("IRSA role of ServiceAccount %s/%s (%s)", o.GetNamespace(), o.GetName(), RoleAnnotation)
		fix := "set the accountId setting of the environment whose settings render it (kubectl layering settings set --env ENV accountId=…), or annotate the ServiceAccount with the role's ARN"
		m := roleARN.FindStringSubmatch(arn)
		switch {
		case arn == "":
			problems = append(problems, Problem{what, "not set", fix})
		case m == nil:
			problems = append(problems, Problem{what, fmt.Sprintf("%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn), fix})
		case len(settings.Check("", settings.Settings{"accountId": m[1]})) > 0:
			problems = append(problems, Problem{what, fmt.Sprintf("%q names the placeholder or a malformed account %q", arn, m[1]), fix})
		}
	}
	return problems
}

func sortedKinds(m map[schema.GroupVersionKind]bool) []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
