package deploy

import (
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func applied(u *unstructured.Unstructured, manager string, op metav1.ManagedFieldsOperationType, fields string) *unstructured.Unstructured {
	u.SetManagedFields(append(u.GetManagedFields(), metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}))
	return u
}

// Requirement: prune deletes exactly the inventoried objects a release no longer
// contains, matched by group, kind, namespace and name (not version), never a Namespace.
func TestPruneCandidates(t *testing.T) {
	inventory := []Ref{
		{"apps/v1", "Deployment", "ns", "kept"},
		{"apps/v1", "Deployment", "ns", "gone"},
		{"autoscaling/v1", "HorizontalPodAutoscaler", "ns", "hpa"}, // same object, now applied as v2
		{"v1", "Namespace", "", "ns"},
		{"v1", "ConfigMap", "other", "kept"}, // same name, other namespace
	}
	keep := []*unstructured.Unstructured{
		obj("apps/v1", "Deployment", "ns", "kept"),
		obj("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "hpa"),
	}
	got := pruneCandidates(inventory, keep)
	var names []string
	for _, r := range got {
		names = append(names, r.Kind+"/"+r.Namespace+"/"+r.Name)
	}
	if want := "Deployment/ns/gone,ConfigMap/other/kept"; strings.Join(names, ",") != want {
		t.Errorf("candidates %v, want %s", names, want)
	}
}

// Requirement: only what this plugin applied to this environment is pruned; a
// look-alike someone else created (or only updated) stays.
func TestPrunable(t *testing.T) {
	labelled := func(env string) *unstructured.Unstructured {
		u := obj("v1", "ConfigMap", "ns", "x")
		u.SetLabels(map[string]string{revision.LabelEnvironment: env})
		return u
	}
	for _, tc := range []struct {
		name string
		live *unstructured.Unstructured
		want bool
	}{
		{"applied by us to this env", applied(labelled("local"), FieldManager, metav1.ManagedFieldsOperationApply, `{}`), true},
		{"applied by us to another env", applied(labelled("prod"), FieldManager, metav1.ManagedFieldsOperationApply, `{}`), false},
		{"made by kubectl with our labels", applied(labelled("local"), "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, `{}`), false},
		{"updated (not applied) under our name", applied(labelled("local"), FieldManager, metav1.ManagedFieldsOperationUpdate, `{}`), false},
	} {
		if got := prunable(tc.live, "local"); got != tc.want {
			t.Errorf("%s: prunable %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Requirement: the replicas hand-over knows which Deployments an HPA scales and who owns spec.replicas.
func TestReplicasOwnership(t *testing.T) {
	hpa := obj("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "h")
	_ = unstructured.SetNestedField(hpa.Object, "web", "spec", "scaleTargetRef", "name")
	scaled := autoscaled([]*unstructured.Unstructured{hpa, obj("apps/v1", "Deployment", "ns", "web")})
	if !scaled["ns/web"] || len(scaled) != 1 {
		t.Errorf("autoscaled = %v, want only ns/web", scaled)
	}
	d := applied(obj("apps/v1", "Deployment", "ns", "web"), FieldManager, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:replicas":{},"f:template":{}}}`)
	applied(d, "kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:template":{}}}`)
	if !ownsReplicas(d, FieldManager) {
		t.Error("the plugin's apply set spec.replicas, but ownsReplicas says no")
	}
	if ownsReplicas(d, "kube-controller-manager") {
		t.Error("the controller never set spec.replicas, but ownsReplicas says it owns it")
	}
}

// Requirement: no step mutates the objects it was handed (rollback re-applies them exactly).
func TestWithoutReplicasLeavesTheOriginal(t *testing.T) {
	d := obj("apps/v1", "Deployment", "ns", "web")
	_ = unstructured.SetNestedField(d.Object, int64(2), "spec", "replicas")
	c := withoutReplicas(d)
	if _, ok, _ := unstructured.NestedInt64(c.Object, "spec", "replicas"); ok {
		t.Error("the copy still sets spec.replicas")
	}
	if n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); n != 2 {
		t.Errorf("the original lost spec.replicas (now %d)", n)
	}
}

// Requirement: a pod state that waiting cannot repair fails the deploy at once; others are explained only at the end.
func TestPodProblem(t *testing.T) {
	pod := func(cs corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{cs}}}
	}
	waiting := func(reason string) *corev1.Pod {
		return pod(corev1.ContainerStatus{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}})
	}
	for _, tc := range []struct {
		name         string
		pod          *corev1.Pod
		fatal, shown bool
	}{
		{"image never pulled", waiting("ErrImageNeverPull"), true, true},
		{"image pull backoff", waiting("ImagePullBackOff"), true, true},
		{"crash loop", waiting("CrashLoopBackOff"), true, true},
		{"config error (missing secret key)", waiting("CreateContainerConfigError"), true, true},
		{"still creating", waiting("ContainerCreating"), false, false},
		{"running, not ready", pod(corev1.ContainerStatus{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}), false, true},
		{"running and ready", pod(corev1.ContainerStatus{Name: "c", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}), false, false},
		{"no containers yet", &corev1.Pod{}, false, false},
	} {
		if got := PodProblem(tc.pod, true) != ""; got != tc.fatal {
			t.Errorf("%s: fatal %v, want %v", tc.name, got, tc.fatal)
		}
		if got := PodProblem(tc.pod, false) != ""; got != tc.shown {
			t.Errorf("%s: explained %v, want %v", tc.name, got, tc.shown)
		}
	}
}

// Requirement: prod refuses untagged and latest images; other envs take them.
func TestCheckPinned(t *testing.T) {
	for _, tc := range []struct {
		env, image string
		ok         bool
	}{
		{"prod", "repo/svc:1.4.2", true},
		{"prod", "repo/svc@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"prod", "repo/svc:latest", false},
		{"prod", "repo/svc", false},
		{"dev", "repo/svc:latest", true},
	} {
		err := CheckPinned(tc.env, map[string]string{"svc": tc.image})
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: err %v, want ok=%v", tc.env, tc.image, err, tc.ok)
		}
	}
}

// Requirement: objects are applied in dependency order.
func TestPhaseOf(t *testing.T) {
	order := []string{"Namespace", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "HorizontalPodAutoscaler", "Ingress"}
	for i := 1; i < len(order); i++ {
		if PhaseOf(order[i-1]) >= PhaseOf(order[i]) {
			t.Errorf("%s is not applied before %s", order[i-1], order[i])
		}
	}
}

// Requirement (issue 18): an autoscaler that cannot work fails the deploy at
// once with the reason; one only waiting for first metrics is pending and does
// not hold the deploy, unless --wait-for-metrics.
func TestAutoscalerState(t *testing.T) {
	hpa := func(status, reason, message string) *unstructured.Unstructured {
		u := obj("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "h")
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "ScalingActive", "status": status, "reason": reason, "message": message}}, "status", "conditions")
		return u
	}
	for _, tc := range []struct {
		name            string
		hpa             *unstructured.Unstructured
		waitForMetrics  bool
		done, failed    bool
		messageContains string
	}{
		{"reading metrics", hpa("True", "ValidMetricFound", ""), false, true, false, "reading metrics"},
		{"no conditions yet", obj("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "h"), false, true, false, "pending"},
		{"first metrics not scraped", hpa("False", "FailedGetResourceMetric", "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"), false, true, false, "pending"},
		{"first metrics, --wait-for-metrics", hpa("False", "FailedGetResourceMetric", "no metrics returned from resource metrics API"), true, false, false, "not reading metrics yet"},
		{"missing cpu request: judged from the template, the message may be stale", hpa("False", "FailedGetResourceMetric", "failed to get cpu utilization: missing request for cpu in container layering of Pod p"), false, true, false, "pending"},
		{"invalid metric", hpa("False", "InvalidMetricSourceType", "bad metric"), false, false, true, ""},
		{"metrics API gone", hpa("False", "FailedGetResourceMetric", "unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"), false, false, true, ""},
	} {
		done, msg, err := autoscalerState(tc.hpa, tc.waitForMetrics)
		if done != tc.done || (err != nil) != tc.failed || !strings.Contains(msg, tc.messageContains) {
			t.Errorf("%s: done=%v msg=%q err=%v; want done=%v failed=%v msg~%q", tc.name, done, msg, err, tc.done, tc.failed, tc.messageContains)
		}
	}
}

// Requirement (issue 18): a container without the request an HPA's utilization
// target is measured against is found from the pod template, before any metrics exist.
func TestMissingRequests(t *testing.T) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Metrics: []autoscalingv2.MetricSpec{
		{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType}}},
		{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}}},
	}}}
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	template := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Resources: corev1.ResourceRequirements{Requests: requests}},
		{Name: "sidecar"},
	}}}
	got := missingRequests(hpa, template)
	if len(got) != 1 || got[0] != "container sidecar has no cpu request" {
		t.Errorf("missing = %v, want only the sidecar's cpu (memory is an AverageValue target, which needs no request)", got)
	}
	template.Spec.Containers = template.Spec.Containers[:1]
	if got := missingRequests(hpa, template); len(got) != 0 {
		t.Errorf("missing = %v for a template with every request", got)
	}
}

// Requirement (issue 10, deploy -f): a file can only deploy its own environment.
func TestCheckBelongs(t *testing.T) {
	env := manifests.Env{Name: "local", Namespace: "layering-detection-local"}
	labelled := func(u *unstructured.Unstructured, env string) *unstructured.Unstructured {
		u.SetLabels(map[string]string{revision.LabelEnvironment: env})
		return u
	}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		ok   bool
	}{
		{"its namespace", obj("v1", "Namespace", "", "layering-detection-local"), true},
		{"an object in it", obj("v1", "ConfigMap", "layering-detection-local", "c"), true},
		{"its volume", labelled(obj("v1", "PersistentVolume", "", "layering-detection-local-input"), "local"), true},
		{"another namespace", obj("v1", "Namespace", "", "layering-detection-prod"), false},
		{"an object elsewhere", obj("v1", "ConfigMap", "kube-system", "c"), false},
		{"prod's volume", labelled(obj("v1", "PersistentVolume", "", "layering-detection-prod-input"), "prod"), false},
		{"an unlabelled cluster role", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin"), false},
	} {
		err := CheckBelongs(&Manifest{Env: env, Objects: []*unstructured.Unstructured{tc.obj}})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
