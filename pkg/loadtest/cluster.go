package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
)

// cluster reads the target's autoscaler, Deployment and pods.
type cluster struct {
	kube   kubernetes.Interface
	target *Target
	obs    *Observations
}

// sample records the autoscaler, the Deployment and the pods once.
func (c *cluster) sample(ctx context.Context) (ClusterSample, error) {
	t := c.target
	hpa, err := c.kube.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Get(ctx, t.HPA, metav1.GetOptions{})
	if err != nil {
		return ClusterSample{}, fmt.Errorf("reading hpa %s: %w", t.HPA, err)
	}
	d, err := c.kube.AppsV1().Deployments(t.Namespace).Get(ctx, t.Deployment, metav1.GetOptions{})
	if err != nil {
		return ClusterSample{}, fmt.Errorf("reading deployment %s: %w", t.Deployment, err)
	}
	s := hpaSample(hpa)
	s.At = time.Now()
	if d.Spec.Replicas != nil {
		s.Replicas = *d.Spec.Replicas
	}
	s.Ready = d.Status.ReadyReplicas
	if err := c.pods(ctx, s.At); err != nil {
		return ClusterSample{}, err
	}
	c.obs.AddCluster(s)
	return s, nil
}

// hpaSample reads the HPA's status.
func hpaSample(hpa *autoscalingv2.HorizontalPodAutoscaler) ClusterSample {
	s := ClusterSample{HPACurrent: hpa.Status.CurrentReplicas, HPADesired: hpa.Status.DesiredReplicas}
	if hpa.Status.LastScaleTime != nil {
		s.LastScale = hpa.Status.LastScaleTime.Time
	}
	for _, m := range hpa.Status.CurrentMetrics {
		if m.Resource == nil || m.Resource.Current.AverageUtilization == nil {
			continue
		}
		v := *m.Resource.Current.AverageUtilization
		switch m.Resource.Name {
		case corev1.ResourceCPU:
			s.CPU = &v
		case corev1.ResourceMemory:
			s.Memory = &v
		}
	}
	return s
}

// pods records the target's pods: when each was created and became Ready,
// why one is not, and which are gone.
func (c *cluster) pods(ctx context.Context, now time.Time) error {
	list, err := c.kube.CoreV1().Pods(c.target.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(c.target.Selector).String()})
	if err != nil {
		return fmt.Errorf("listing the pods of %s: %w", c.target.Deployment, err)
	}
	live := map[string]bool{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		live[p.Name] = true
		c.obs.SetPod(p.Name, p.CreationTimestamp.Time, readySince(p), notReadyReason(p))
	}
	for _, p := range c.obs.Pods() {
		if !live[p.Name] {
			c.obs.PodGone(p.Name, now)
		}
	}
	return nil
}

func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func notReadyReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "unschedulable: " + c.Message
		}
	}
	return deploy.PodProblem(p, true)
}

// scrape reads the requests each live target pod counted on the endpoint
// from its own /metrics (through the API server's pod proxy).
func (c *cluster) scrape(ctx context.Context) {
	for _, p := range c.obs.Pods() {
		if !p.Gone.IsZero() || p.Ready.IsZero() {
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		raw, err := c.kube.CoreV1().Pods(c.target.Namespace).ProxyGet("http", p.Name, strconv.Itoa(int(c.target.PodPort)), "metrics", nil).DoRaw(callCtx)
		cancel()
		if err != nil {
			continue
		}
		if n, err := RequestsServed(raw, c.target.Path); err == nil {
			c.obs.SetServed(p.Name, n)
		}
	}
}

// RequestsServed sums http_requests_total{route=path} (every method and
// code) in a Prometheus text exposition.
func RequestsServed(exposition []byte, path string) (float64, error) {
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return 0, err
	}
	f := families["http_requests_total"]
	if f == nil {
		return 0, fmt.Errorf("no http_requests_total")
	}
	var n float64
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && l.GetValue() == path {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n, nil
}

// hpaEvents are the HPA controller's rescale events for the HPA since t.
func hpaEvents(ctx context.Context, kube kubernetes.Interface, t *Target, since time.Time) []HPAEvent {
	list, err := kube.CoreV1().Events(t.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=" + t.HPA + ",reason=SuccessfulRescale",
	})
	if err != nil {
		return nil
	}
	var out []HPAEvent
	for _, e := range list.Items {
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		if at.Before(since.Add(-time.Minute)) || !strings.HasPrefix(e.Message, "New size:") {
			continue
		}
		out = append(out, HPAEvent{At: at, Message: e.Message})
	}
	return out
}
