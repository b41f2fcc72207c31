package loadtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

const ns = "layering-detection-staging"

var names = Names{Deployment: "layering-detection-layering", Service: "layering-service", HPA: "layering-detection-layering"}

// deployed is the layering service as the manifests deploy it, with a
// generated ConfigMap name and a named target port.
func deployed(rateLimit string, override ...corev1.EnvVar) []runtime.Object {
	env := append([]corev1.EnvVar{{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "layering-detection-api-key"}, Key: "API_KEY"}}}}, override...)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: names.Deployment, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "layering"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:    "layering-container",
				Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8001}},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "layering-detection-layering-config-5h2f8k"}}}},
				Env:     env,
			}}}},
		},
	}
	data := map[string]string{"PORT": "8001"}
	if rateLimit != "" {
		data["RATE_LIMIT_PER_MINUTE"] = rateLimit
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "layering-detection-layering-config-5h2f8k", Namespace: ns}, Data: data}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: names.Service, Namespace: ns}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.100.3.4", Ports: []corev1.ServicePort{{Port: 8001, TargetPort: intstr.FromString("http")}}}}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: names.HPA, Namespace: ns}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: ptr.To[int32](2), MaxReplicas: 10,
		Metrics: []autoscalingv2.MetricSpec{
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{AverageUtilization: ptr.To[int32](70)}}},
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{AverageUtilization: ptr.To[int32](80)}}},
		},
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}},
	}}
	return []runtime.Object{d, cm, svc, hpa}
}

// Requirement: the target is read from the live objects: the ClusterIP and
// the container port behind a named target port, the HPA's min/max/targets
// and windows (Kubernetes' 300 s scale-down default where none is set), the
// rate limit of the generated ConfigMap, and where the API key comes from.
func TestDiscover(t *testing.T) {
	tg, err := Discover(context.Background(), fake.NewClientset(deployed("250")...), ns, "layering", names)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Address != "10.100.3.4:8001" || tg.PodPort != 8001 || tg.Path != "/detect" || tg.MinReplicas != 2 || tg.MaxReplicas != 10 ||
		tg.CPUTarget != 70 || tg.MemoryTarget != 80 || tg.ScaleUpWindow != time.Minute || tg.ScaleDownWindow != 5*time.Minute ||
		tg.RateLimitPerMinute != 250 || tg.APIKey == nil || tg.APIKey.Name != "layering-detection-api-key" || tg.NetworkPolicies {
		t.Errorf("target %+v", tg)
	}
	// No value in the ConfigMap: the services' default; an explicit env value wins.
	if tg, _ := Discover(context.Background(), fake.NewClientset(deployed("")...), ns, "layering", names); tg.RateLimitPerMinute != 100 {
		t.Errorf("default rate limit %d", tg.RateLimitPerMinute)
	}
	objs := deployed("250", corev1.EnvVar{Name: "RATE_LIMIT_PER_MINUTE", Value: "0"})
	if tg, _ := Discover(context.Background(), fake.NewClientset(objs...), ns, "layering", names); tg.RateLimitPerMinute != 0 {
		t.Errorf("env override: %d", tg.RateLimitPerMinute)
	}
	_, err = Discover(context.Background(), fake.NewClientset(deployed("many")...), ns, "layering", names)
	if err == nil || !strings.Contains(err.Error(), `RATE_LIMIT_PER_MINUTE="many" is not a number`) {
		t.Errorf("bad rate limit: %v", err)
	}
}

// Requirement: an environment that is not deployed cannot be load-tested:
// the error says what is missing and what to do.
func TestDiscoverNotDeployed(t *testing.T) {
	_, err := Discover(context.Background(), fake.NewClientset(), ns, "layering", names)
	var te *TargetError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "deployment layering-detection-layering not found in namespace layering-detection-staging: deploy the environment first") {
		t.Errorf("not deployed: %v", err)
	}
}

// Requirement: the objects of a service are found in the rendered manifests by label.
func TestNamesOf(t *testing.T) {
	obj := func(kind, name, service string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetName(name)
		u.SetLabels(map[string]string{"app.kubernetes.io/name": service})
		return u
	}
	objs := []*unstructured.Unstructured{obj("Deployment", "d-layering", "layering"), obj("Service", "layering-service", "layering"),
		obj("HorizontalPodAutoscaler", "h-layering", "layering"), obj("Deployment", "d-agg", "aggregator")}
	n, err := NamesOf(objs, "layering")
	if err != nil || n != (Names{"d-layering", "layering-service", "h-layering"}) {
		t.Errorf("%+v %v", n, err)
	}
	if _, err := NamesOf(objs, "aggregator"); err == nil {
		t.Error("aggregator without Service and HPA found")
	}
}
