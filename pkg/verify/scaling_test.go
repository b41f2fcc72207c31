package verify

import (
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func hpa(minReplicas *int32, max int32) *autoscalingv2.HorizontalPodAutoscaler {
	target := func(r corev1.ResourceName, pct int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: r, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &pct}}}
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "orchestrator", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: minReplicas, MaxReplicas: max,
			Metrics: []autoscalingv2.MetricSpec{target(corev1.ResourceCPU, 70), target(corev1.ResourceMemory, 80)}},
	}
}

// withMetrics is the HPA as the controller reports it once metrics-server answers.
func withMetrics(h *autoscalingv2.HorizontalPodAutoscaler, cpu, mem int32) *autoscalingv2.HorizontalPodAutoscaler {
	h = h.DeepCopy()
	current := func(r corev1.ResourceName, pct int32) autoscalingv2.MetricStatus {
		return autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: r, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &pct}}}
	}
	h.Status.CurrentReplicas = 2
	h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{current(corev1.ResourceCPU, cpu), current(corev1.ResourceMemory, mem)}
	return h
}

// Requirement (scaling): an HPA passes with the specified min/max/targets and
// current CPU and memory metrics; a missing minReplicas is the API's default, 1.
func TestJudgeHPA(t *testing.T) {
	noMetrics := hpa(ptr32(2), 10)
	noMetrics.Status.Conditions = []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionFalse, Message: "the HPA was unable to compute the replica count"}}
	for name, tc := range map[string]struct {
		want, live *autoscalingv2.HorizontalPodAutoscaler
		status     Status
		reason     string
	}{
		"as specified":                     {hpa(ptr32(2), 10), withMetrics(hpa(ptr32(2), 10), 12, 40), Pass, "2-10 replicas (now 2), cpu 12%/70%, memory 40%/80%"},
		"max differs":                      {hpa(ptr32(2), 10), withMetrics(hpa(ptr32(2), 4), 12, 40), Fail, "min, max or targets differ"},
		"min differs":                      {hpa(ptr32(2), 10), withMetrics(hpa(ptr32(1), 10), 12, 40), Fail, "min, max or targets differ"},
		"no metrics yet":                   {hpa(ptr32(2), 10), noMetrics, Fail, "no current CPU and memory metrics: the HPA was unable to compute the replica count"},
		"no minReplicas anywhere":          {hpa(nil, 10), withMetrics(hpa(nil, 10), 12, 40), Pass, "1-10 replicas"},
		"no minReplicas, live defaulted":   {hpa(nil, 10), withMetrics(hpa(ptr32(1), 10), 12, 40), Pass, "1-10 replicas"},
		"no minReplicas, live raised to 3": {hpa(nil, 10), withMetrics(hpa(ptr32(3), 10), 12, 40), Fail, "min, max or targets differ"},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeHPA(tc.want, tc.live, "test")
			if r.Subject != "hpa/orchestrator" || r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("got %+v, want %s with %q", r, tc.status, tc.reason)
			}
		})
	}
}
