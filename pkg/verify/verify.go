// Package verify checks a deployed environment from inside the cluster and
// says, check by check, what holds and what does not, with a hint what to do.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// Status of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Checks are the check names, in report order.
var Checks = []string{"probes", "dns", "volumes", "secrets", "scaling", "ingress"}

// Result is one finding.
type Result struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Status  Status `json:"status"`
	Reason  string `json:"reason"`
	Hint    string `json:"hint,omitempty"`
}

// Report is what verify prints (-o json|yaml, or a table).
type Report struct {
	Env       string   `json:"env"`
	Namespace string   `json:"namespace"`
	Results   []Result `json:"results"`
	Seconds   float64  `json:"seconds"`
}

func (r *Report) Header() []string { return []string{"CHECK", "SUBJECT", "STATUS", "REASON"} }

func (r *Report) Rows() [][]string {
	rows := make([][]string, len(r.Results))
	for i, x := range r.Results {
		reason := x.Reason
		if x.Hint != "" && x.Status != Pass {
			reason += " (" + x.Hint + ")"
		}
		rows[i] = []string{x.Check, x.Subject, string(x.Status), reason}
	}
	return rows
}

// Failed tells whether any check failed.
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// NotDeployedError means there is nothing to verify.
type NotDeployedError struct{ Env, Namespace string }

func (e *NotDeployedError) Error() string {
	return fmt.Sprintf("environment %s is not deployed: no Deployments in namespace %s (run kubectl layering deploy --env %s)", e.Env, e.Namespace, e.Env)
}

// Verifier holds the clients and what the environment's manifests say.
type Verifier struct {
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Env        string
	Namespace  string
	Objects    []*unstructured.Unstructured // the rendered environment
	ProbeImage string                       // runs inside pods for dns and volumes
	Deep       bool                         // also prove that data survives a pod restart
	HTTP       *http.Client                 // for the Ingress address
}

// Run runs the selected checks concurrently and returns their findings.
func (v *Verifier) Run(ctx context.Context, checks []string) (*Report, error) {
	start := time.Now()
	deployments, err := v.Kube.AppsV1().Deployments(v.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(deployments.Items) == 0 {
		return nil, &NotDeployedError{v.Env, v.Namespace}
	}
	run := map[string]func(context.Context) []Result{
		"probes": v.probes, "secrets": v.secrets, "scaling": v.scaling, "ingress": v.ingress,
	}
	inside := map[string]bool{}
	var mu sync.Mutex
	var results []Result
	var wg sync.WaitGroup
	for _, c := range checks {
		if c == "dns" || c == "volumes" {
			inside[c] = true
			continue
		}
		wg.Add(1)
		go func(f func(context.Context) []Result) {
			defer wg.Done()
			r := f(ctx)
			mu.Lock()
			results = append(results, r...)
			mu.Unlock()
		}(run[c])
	}
	if len(inside) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := v.fromInside(ctx, inside["dns"], inside["volumes"])
			mu.Lock()
			results = append(results, r...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	order := map[string]int{}
	for i, c := range Checks {
		order[c] = i
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].Check != results[j].Check {
			return order[results[i].Check] < order[results[j].Check]
		}
		return results[i].Subject < results[j].Subject
	})
	return &Report{Env: v.Env, Namespace: v.Namespace, Results: results, Seconds: time.Since(start).Seconds()}, nil
}

// rendered returns the environment's objects of one kind as typed objects.
func rendered[T any](v *Verifier, kind string) []*T {
	var out []*T
	for _, o := range v.Objects {
		if o.GetKind() != kind {
			continue
		}
		t := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, t); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// probes: Deployments available at their desired count, pods ready and not
// restarting, probes as the manifests specify, and /health 200 through each Service.
func (v *Verifier) probes(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[appsv1.Deployment](v, "Deployment") {
		subject := "deployment/" + want.Name
		d, err := v.Kube.AppsV1().Deployments(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"probes", subject, Fail, err.Error(), "kubectl layering deploy --env " + v.Env})
			continue
		}
		desired := int32(1)
		if d.Spec.Replicas != nil {
			desired = *d.Spec.Replicas
		}
		r := Result{Check: "probes", Subject: subject, Status: Pass, Reason: fmt.Sprintf("%d/%d available, probes as specified", d.Status.AvailableReplicas, desired)}
		live, spec := d.Spec.Template.Spec.Containers[0], want.Spec.Template.Spec.Containers[0]
		if !equality.Semantic.DeepEqual(live.LivenessProbe, withDefaults(spec.LivenessProbe)) ||
			!equality.Semantic.DeepEqual(live.ReadinessProbe, withDefaults(spec.ReadinessProbe)) {
			r.Status, r.Reason, r.Hint = Fail, "the live probes differ from the manifests", "kubectl layering diff --env "+v.Env
		}
		pods, err := v.Kube.CoreV1().Pods(v.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.Set(d.Spec.Selector.MatchLabels).String()})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if problem := deploy.PodProblem(p, false); problem != "" {
					r.Status, r.Reason, r.Hint = Fail, problem, "kubectl -n "+v.Namespace+" describe pod "+p.Name
				}
				for _, cs := range p.Status.ContainerStatuses {
					if t := cs.LastTerminationState.Terminated; t != nil && time.Since(t.FinishedAt.Time) < 10*time.Minute && r.Status == Pass {
						r.Status = Warn
						r.Reason = fmt.Sprintf("pod %s restarted %d times, last %s ago (%s)", p.Name, cs.RestartCount, time.Since(t.FinishedAt.Time).Round(time.Second), t.Reason)
						r.Hint = "kubectl -n " + v.Namespace + " logs " + p.Name + " --previous"
					}
				}
			}
		}
		if r.Status == Pass && d.Status.AvailableReplicas < desired {
			r.Status, r.Reason = Fail, fmt.Sprintf("%d/%d available", d.Status.AvailableReplicas, desired)
		}
		out = append(out, r)
	}
	for _, s := range rendered[corev1.Service](v, "Service") {
		subject := "service/" + s.Name + " GET /health"
		port := s.Spec.Ports[0].Port
		body, err := v.Kube.CoreV1().Services(v.Namespace).ProxyGet("http", s.Name, fmt.Sprint(port), "health", nil).DoRaw(ctx)
		var health struct{ Status string }
		switch {
		case err != nil:
			out = append(out, Result{"probes", subject, Fail, "no answer through the Service: " + err.Error(), "kubectl -n " + v.Namespace + " get endpoints " + s.Name})
		case json.Unmarshal(body, &health) != nil || health.Status != "healthy":
			out = append(out, Result{"probes", subject, Fail, "answered " + strings.TrimSpace(string(body)), ""})
		default:
			out = append(out, Result{"probes", subject, Pass, "200 " + strings.TrimSpace(string(body)), ""})
		}
	}
	return out
}

// withDefaults fills in what the API server defaults in a probe the manifests
// leave implicit, so that a live probe compares equal to its specification.
func withDefaults(p *corev1.Probe) *corev1.Probe {
	if p == nil {
		return nil
	}
	p = p.DeepCopy()
	for field, def := range map[*int32]int32{&p.TimeoutSeconds: 1, &p.PeriodSeconds: 10, &p.SuccessThreshold: 1, &p.FailureThreshold: 3} {
		if *field == 0 {
			*field = def
		}
	}
	if p.HTTPGet != nil && p.HTTPGet.Scheme == "" {
		p.HTTPGet.Scheme = corev1.URISchemeHTTP
	}
	return p
}

// secrets: ExternalSecrets ready, and every Secret the pods read holds the keys
// they read. Values are never read into output or logs.
func (v *Verifier) secrets(ctx context.Context) []Result {
	var out []Result
	esGVR := schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
	for _, o := range v.Objects {
		if o.GetKind() != "ExternalSecret" {
			continue
		}
		subject := "externalsecret/" + o.GetName()
		live, err := v.Dynamic.Resource(esGVR).Namespace(v.Namespace).Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"secrets", subject, Fail, err.Error(), "is External Secrets Operator installed?"})
			continue
		}
		status, reason, message := kube.Condition(live, "Ready")
		if status == "True" {
			out = append(out, Result{"secrets", subject, Pass, "ready: " + reason, ""})
		} else {
			out = append(out, Result{"secrets", subject, Fail, "not ready: " + message, "kubectl -n " + v.Namespace + " describe externalsecret " + o.GetName()})
		}
	}
	wanted := map[string]map[string]bool{} // secret -> keys
	for _, d := range rendered[appsv1.Deployment](v, "Deployment") {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
					if wanted[ref.SecretKeyRef.Name] == nil {
						wanted[ref.SecretKeyRef.Name] = map[string]bool{}
					}
					wanted[ref.SecretKeyRef.Name][ref.SecretKeyRef.Key] = true
				}
			}
		}
	}
	for name, keys := range wanted {
		subject := "secret/" + name
		s, err := v.Kube.CoreV1().Secrets(v.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"secrets", subject, Fail, err.Error(), "check the ExternalSecret that should create it"})
			continue
		}
		var missing, present []string
		for k := range keys {
			if len(s.Data[k]) == 0 {
				missing = append(missing, k)
			} else {
				present = append(present, k)
			}
		}
		s.Data = nil // the values are not needed past this point
		sort.Strings(missing)
		sort.Strings(present)
		if len(missing) > 0 {
			out = append(out, Result{"secrets", subject, Fail, "missing or empty key " + strings.Join(missing, ", "), "check the secret in AWS Secrets Manager and its ExternalSecret"})
		} else {
			out = append(out, Result{"secrets", subject, Pass, "holds " + strings.Join(present, ", "), ""})
		}
	}
	return out
}

// scaling: each HPA reads current CPU and memory metrics and has the specified min, max and targets.
func (v *Verifier) scaling(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[autoscalingv2.HorizontalPodAutoscaler](v, "HorizontalPodAutoscaler") {
		subject := "hpa/" + want.Name
		h, err := v.Kube.AutoscalingV2().HorizontalPodAutoscalers(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"scaling", subject, Fail, err.Error(), ""})
			continue
		}
		if !equality.Semantic.DeepEqual(h.Spec.MinReplicas, want.Spec.MinReplicas) || h.Spec.MaxReplicas != want.Spec.MaxReplicas ||
			!equality.Semantic.DeepEqual(h.Spec.Metrics, want.Spec.Metrics) {
			out = append(out, Result{"scaling", subject, Fail, "min, max or targets differ from the manifests", "kubectl layering diff --env " + v.Env})
			continue
		}
		current := map[corev1.ResourceName]string{}
		for _, m := range h.Status.CurrentMetrics {
			if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
				current[m.Resource.Name] = fmt.Sprintf("%d%%", *m.Resource.Current.AverageUtilization)
			}
		}
		if current[corev1.ResourceCPU] == "" || current[corev1.ResourceMemory] == "" {
			msg := "no current CPU and memory metrics"
			for _, c := range h.Status.Conditions {
				if c.Type == autoscalingv2.ScalingActive && c.Status != corev1.ConditionTrue {
					msg += ": " + c.Message
				}
			}
			out = append(out, Result{"scaling", subject, Fail, msg, "is metrics-server running? kubectl get apiservice v1beta1.metrics.k8s.io"})
			continue
		}
		targets := map[corev1.ResourceName]int32{}
		for _, m := range want.Spec.Metrics {
			if m.Resource != nil && m.Resource.Target.AverageUtilization != nil {
				targets[m.Resource.Name] = *m.Resource.Target.AverageUtilization
			}
		}
		out = append(out, Result{"scaling", subject, Pass, fmt.Sprintf("%d-%d replicas (now %d), cpu %s/%d%%, memory %s/%d%%",
			*want.Spec.MinReplicas, want.Spec.MaxReplicas, h.Status.CurrentReplicas,
			current[corev1.ResourceCPU], targets[corev1.ResourceCPU], current[corev1.ResourceMemory], targets[corev1.ResourceMemory]), ""})
	}
	return out
}

// ingress: the Ingress has an address, and /health through it answers when reachable.
func (v *Verifier) ingress(ctx context.Context) []Result {
	ingresses := rendered[networkingv1.Ingress](v, "Ingress")
	if len(ingresses) == 0 {
		return []Result{{"ingress", "-", Skip, "this environment has no Ingress", ""}}
	}
	var out []Result
	for _, want := range ingresses {
		subject := "ingress/" + want.Name
		ing, err := v.Kube.NetworkingV1().Ingresses(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"ingress", subject, Fail, err.Error(), ""})
			continue
		}
		if len(ing.Status.LoadBalancer.Ingress) == 0 {
			out = append(out, Result{"ingress", subject, Fail, "no address yet", "is the AWS Load Balancer Controller running? kubectl -n kube-system logs deploy/aws-load-balancer-controller"})
			continue
		}
		addr := ing.Status.LoadBalancer.Ingress[0].Hostname
		if addr == "" {
			addr = ing.Status.LoadBalancer.Ingress[0].IP
		}
		scheme := "http"
		if len(ing.Spec.TLS) > 0 || ing.Annotations["alb.ingress.kubernetes.io/certificate-arn"] != "" {
			scheme = "https"
		}
		target := (&url.URL{Scheme: scheme, Host: addr, Path: "/health"}).String()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		resp, err := v.HTTP.Do(req)
		switch {
		case err != nil:
			out = append(out, Result{"ingress", subject, Skip, "address " + addr + ", but " + target + " is not reachable from here: " + err.Error(), ""})
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			out = append(out, Result{"ingress", subject, Fail, fmt.Sprintf("%s answered %d", target, resp.StatusCode), "check the ALB's target group health"})
		default:
			resp.Body.Close()
			out = append(out, Result{"ingress", subject, Pass, target + " answered 200", ""})
		}
	}
	return out
}

var errNoReadyPod = errors.New("no ready pod")

func readyPod(ctx context.Context, kube kubernetes.Interface, ns string, d *appsv1.Deployment) (*corev1.Pod, error) {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				return p, nil
			}
		}
	}
	return nil, errNoReadyPod
}
