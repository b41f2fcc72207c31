package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
)

// A container restart this recent is worth a warning.
const recentRestart = 10 * time.Minute

// probes: Deployments available at their desired count, pods ready and not
// restarting, probes as the manifests specify, and /health 200 through each Service.
func (v *Verifier) probes(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[appsv1.Deployment](v, "Deployment") {
		out = append(out, v.deploymentHealth(ctx, want))
	}
	for _, s := range rendered[corev1.Service](v, "Service") {
		out = append(out, v.serviceHealth(ctx, s))
	}
	return out
}

func (v *Verifier) deploymentHealth(ctx context.Context, want *appsv1.Deployment) Result {
	subject := "deployment/" + want.Name
	live, err := v.Kube.AppsV1().Deployments(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return Result{"probes", subject, Fail, err.Error(), "kubectl layering deploy --env " + v.Env}
	}
	pods, err := podsOf(ctx, v.Kube, live)
	if err != nil {
		return Result{"probes", subject, Fail, "listing its pods: " + err.Error(), ""}
	}
	return judgeDeployment(want, live, pods, time.Now(), v.Env, v.Namespace)
}

// judgeDeployment compares a live Deployment and its pods with the manifests'
// Deployment; the first failure found is the reason, and a recent restart of an
// otherwise healthy Deployment is a warning.
func judgeDeployment(want, live *appsv1.Deployment, pods []corev1.Pod, now time.Time, env, namespace string) Result {
	r := Result{Check: "probes", Subject: "deployment/" + want.Name, Status: Fail}
	desired := int32(1)
	if live.Spec.Replicas != nil {
		desired = *live.Spec.Replicas
	}
	if drift := probeDrift(want.Spec.Template.Spec.Containers, live.Spec.Template.Spec.Containers); drift != "" {
		r.Reason, r.Hint = drift, "kubectl layering diff --env "+env
		return r
	}
	for i := range pods {
		if problem := deploy.PodProblem(&pods[i], false); problem != "" {
			r.Reason, r.Hint = problem, "kubectl -n "+namespace+" describe pod "+pods[i].Name
			return r
		}
	}
	if live.Status.AvailableReplicas < desired {
		r.Reason = fmt.Sprintf("%d/%d available", live.Status.AvailableReplicas, desired)
		return r
	}
	if pod, cs, ok := restartedSince(pods, now.Add(-recentRestart)); ok {
		t := cs.LastTerminationState.Terminated
		r.Status, r.Hint = Warn, "kubectl -n "+namespace+" logs "+pod+" --previous"
		r.Reason = fmt.Sprintf("pod %s restarted %d times, last %s ago (%s)", pod, cs.RestartCount, now.Sub(t.FinishedAt.Time).Round(time.Second), t.Reason)
		return r
	}
	r.Status, r.Reason = Pass, fmt.Sprintf("%d/%d available, probes as specified", live.Status.AvailableReplicas, desired)
	return r
}

// probeDrift says how the live containers' startup, liveness and readiness probes differ
// from the manifests' (matched by container name), or "" when they do not.
func probeDrift(want, live []corev1.Container) string {
	if len(want) == 0 {
		return "the manifests give the Deployment no containers"
	}
	for _, w := range want {
		l := containerNamed(live, w.Name)
		if l == nil {
			return "the live Deployment has no container " + w.Name
		}
		if !equality.Semantic.DeepEqual(l.StartupProbe, withDefaults(w.StartupProbe)) ||
			!equality.Semantic.DeepEqual(l.LivenessProbe, withDefaults(w.LivenessProbe)) ||
			!equality.Semantic.DeepEqual(l.ReadinessProbe, withDefaults(w.ReadinessProbe)) {
			return "the live probes differ from the manifests"
		}
	}
	return ""
}

func containerNamed(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// restartedSince finds a container whose last run ended after since.
func restartedSince(pods []corev1.Pod, since time.Time) (pod string, cs corev1.ContainerStatus, ok bool) {
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(since) {
				return p.Name, cs, true
			}
		}
	}
	return "", corev1.ContainerStatus{}, false
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

// serviceHealth asks the Service's first port for GET /health through the API server's proxy.
func (v *Verifier) serviceHealth(ctx context.Context, s *corev1.Service) Result {
	subject := "service/" + s.Name + " GET /health"
	if len(s.Spec.Ports) == 0 {
		return Result{"probes", subject, Skip, "the Service has no ports: nothing to ask for /health", ""}
	}
	port := fmt.Sprint(s.Spec.Ports[0].Port)
	body, err := v.Kube.CoreV1().Services(v.Namespace).ProxyGet("http", s.Name, port, "health", nil).DoRaw(ctx)
	return judgeHealth(subject, body, err, "kubectl -n "+v.Namespace+" get endpoints "+s.Name)
}

// judgeHealth reads a /health answer: {"status":"healthy"} passes.
func judgeHealth(subject string, body []byte, err error, hint string) Result {
	var health struct{ Status string }
	switch {
	case err != nil:
		return Result{"probes", subject, Fail, "no answer through the Service: " + err.Error(), hint}
	case json.Unmarshal(body, &health) != nil || health.Status != "healthy":
		return Result{"probes", subject, Fail, "answered " + strings.TrimSpace(string(body)), ""}
	default:
		return Result{"probes", subject, Pass, "200 " + strings.TrimSpace(string(body)), ""}
	}
}
