package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// Target is the service under load as it is deployed: what the generators
// send to, what the autoscaler is set to, and what limits a client.
type Target struct {
	Service     string            `json:"service"`
	Namespace   string            `json:"namespace"`
	Deployment  string            `json:"deployment"`
	Selector    map[string]string `json:"-"`
	ServiceName string            `json:"kubernetes_service"`
	Address     string            `json:"address"` // ClusterIP:port
	Path        string            `json:"path"`
	// PodPort is the container port, for reading each replica's /metrics.
	PodPort            int32         `json:"-"`
	HPA                string        `json:"hpa"`
	MinReplicas        int32         `json:"min_replicas"`
	MaxReplicas        int32         `json:"max_replicas"`
	CPUTarget          int32         `json:"cpu_target_percent,omitempty"`
	MemoryTarget       int32         `json:"memory_target_percent,omitempty"`
	ScaleUpWindow      time.Duration `json:"-"`
	ScaleDownWindow    time.Duration `json:"-"`
	ScaleUpSeconds     int           `json:"scale_up_window_seconds"`
	ScaleDownSeconds   int           `json:"scale_down_window_seconds"`
	RateLimitPerMinute int           `json:"rate_limit_per_minute"`
	// APIKey is where the service reads its API key; the generators read the
	// same Secret key (never the plugin).
	APIKey *corev1.SecretKeySelector `json:"-"`
	// NetworkPolicies: the namespace has some, so the generators need theirs.
	NetworkPolicies bool `json:"-"`
}

// TargetError means the service cannot be load-tested as deployed.
type TargetError struct{ Err error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// Names are the objects of one service in the rendered manifests.
type Names struct{ Deployment, Service, HPA string }

// NamesOf finds the Deployment, Service and HPA of service among the
// environment's rendered objects (by their app.kubernetes.io/name label).
func NamesOf(objects []*unstructured.Unstructured, service string) (Names, error) {
	var n Names
	for _, o := range objects {
		if o.GetLabels()["app.kubernetes.io/name"] != service {
			continue
		}
		switch o.GetKind() {
		case "Deployment":
			n.Deployment = o.GetName()
		case "Service":
			n.Service = o.GetName()
		case "HorizontalPodAutoscaler":
			n.HPA = o.GetName()
		}
	}
	if n.Deployment == "" || n.Service == "" || n.HPA == "" {
		return n, fmt.Errorf("the manifests have no Deployment, Service and HorizontalPodAutoscaler for %q", service)
	}
	return n, nil
}

// Discover reads the target's live objects.
func Discover(ctx context.Context, kube kubernetes.Interface, namespace, service string, names Names) (*Target, error) {
	notDeployed := func(kind, name string, err error) error {
		if apierrors.IsNotFound(err) {
			return &TargetError{fmt.Errorf("%s %s not found in namespace %s: deploy the environment first (kubectl layering deploy)", kind, name, namespace)}
		}
		return fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	d, err := kube.AppsV1().Deployments(namespace).Get(ctx, names.Deployment, metav1.GetOptions{})
	if err != nil {
		return nil, notDeployed("deployment", names.Deployment, err)
	}
	svc, err := kube.CoreV1().Services(namespace).Get(ctx, names.Service, metav1.GetOptions{})
	if err != nil {
		return nil, notDeployed("service", names.Service, err)
	}
	hpa, err := kube.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, names.HPA, metav1.GetOptions{})
	if err != nil {
		return nil, notDeployed("horizontalpodautoscaler", names.HPA, err)
	}
	t := &Target{Service: service, Namespace: namespace, Deployment: d.Name, ServiceName: svc.Name, Path: Endpoints[service], HPA: hpa.Name}
	if err := t.fromService(svc); err != nil {
		return nil, &TargetError{err}
	}
	if d.Spec.Selector != nil {
		t.Selector = d.Spec.Selector.MatchLabels
	}
	t.PodPort = podPort(svc.Spec.Ports[0], d)
	t.fromHPA(hpa)
	env, err := containerEnv(ctx, kube, d)
	if err != nil {
		return nil, err
	}
	if t.RateLimitPerMinute, err = rateLimit(env); err != nil {
		return nil, &TargetError{fmt.Errorf("deployment %s: %w", d.Name, err)}
	}
	t.APIKey = apiKeySource(d)
	policies, err := kube.NetworkingV1().NetworkPolicies(namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("listing network policies: %w", err)
	}
	t.NetworkPolicies = len(policies.Items) > 0
	return t, nil
}

func (t *Target) fromService(svc *corev1.Service) error {
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
		return fmt.Errorf("service %s has no ClusterIP and port to send to", svc.Name)
	}
	t.Address = fmt.Sprintf("%s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
	return nil
}

// podPort is the container port a Service port sends to (by number or name).
func podPort(p corev1.ServicePort, d *appsv1.Deployment) int32 {
	if p.TargetPort.IntVal != 0 {
		return p.TargetPort.IntVal
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == p.TargetPort.StrVal {
				return cp.ContainerPort
			}
		}
	}
	return p.Port
}

func (t *Target) fromHPA(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	t.MinReplicas, t.MaxReplicas = 1, hpa.Spec.MaxReplicas
	if hpa.Spec.MinReplicas != nil {
		t.MinReplicas = *hpa.Spec.MinReplicas
	}
	for _, m := range hpa.Spec.Metrics {
		if m.Resource == nil || m.Resource.Target.AverageUtilization == nil {
			continue
		}
		switch m.Resource.Name {
		case corev1.ResourceCPU:
			t.CPUTarget = *m.Resource.Target.AverageUtilization
		case corev1.ResourceMemory:
			t.MemoryTarget = *m.Resource.Target.AverageUtilization
		}
	}
	t.ScaleUpWindow, t.ScaleDownWindow = ScaleWindows(hpa.Spec.Behavior)
	t.ScaleUpSeconds, t.ScaleDownSeconds = int(t.ScaleUpWindow.Seconds()), int(t.ScaleDownWindow.Seconds())
}

// ScaleWindows are the HPA's stabilization windows, with Kubernetes'
// defaults (scale-up 0 s, scale-down 300 s) where none is set.
func ScaleWindows(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (up, down time.Duration) {
	up, down = 0, 300*time.Second
	if b == nil {
		return up, down
	}
	if b.ScaleUp != nil && b.ScaleUp.StabilizationWindowSeconds != nil {
		up = time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second
	}
	if b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
		down = time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
	}
	return up, down
}

// containerEnv is the first container's environment as the service sees it:
// its ConfigMaps (envFrom), then its own literal values, which win.
func containerEnv(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) (map[string]string, error) {
	env := map[string]string{}
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return env, nil
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm, err := kube.CoreV1().ConfigMaps(d.Namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading configmap %s of deployment %s: %w", from.ConfigMapRef.Name, d.Name, err)
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env, nil
}

// rateLimit is RATE_LIMIT_PER_MINUTE as the services read it (default 100, 0 = none).
func rateLimit(env map[string]string) (int, error) {
	v, ok := env["RATE_LIMIT_PER_MINUTE"]
	if !ok || v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("RATE_LIMIT_PER_MINUTE=%q is not a number of requests", v)
	}
	return n, nil
}

// apiKeySource is where the service's API_KEY comes from, if a Secret.
func apiKeySource(d *appsv1.Deployment) *corev1.SecretKeySelector {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return nil
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "API_KEY" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.DeepCopy()
		}
	}
	return nil
}
