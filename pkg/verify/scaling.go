package verify

import (
	"context"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaling: each HPA reads current CPU and memory metrics and has the specified min, max and targets.
func (v *Verifier) scaling(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[autoscalingv2.HorizontalPodAutoscaler](v, "HorizontalPodAutoscaler") {
		live, err := v.Kube.AutoscalingV2().HorizontalPodAutoscalers(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"scaling", "hpa/" + want.Name, Fail, err.Error(), ""})
			continue
		}
		out = append(out, judgeHPA(want, live, v.Env))
	}
	return out
}

// judgeHPA compares a live HPA with the manifests' and reads its current metrics.
func judgeHPA(want, live *autoscalingv2.HorizontalPodAutoscaler, env string) Result {
	subject := "hpa/" + want.Name
	if minReplicas(want) != minReplicas(live) || live.Spec.MaxReplicas != want.Spec.MaxReplicas ||
		!equality.Semantic.DeepEqual(live.Spec.Metrics, want.Spec.Metrics) {
		return Result{"scaling", subject, Fail, "min, max or targets differ from the manifests", "kubectl layering diff --env " + env}
	}
	current := currentUtilization(live)
	if current[corev1.ResourceCPU] == "" || current[corev1.ResourceMemory] == "" {
		msg := "no current CPU and memory metrics"
		for _, c := range live.Status.Conditions {
			if c.Type == autoscalingv2.ScalingActive && c.Status != corev1.ConditionTrue {
				msg += ": " + c.Message
			}
		}
		return Result{"scaling", subject, Fail, msg, "is metrics-server running? kubectl get apiservice v1beta1.metrics.k8s.io"}
	}
	targets := map[corev1.ResourceName]int32{}
	for _, m := range want.Spec.Metrics {
		if m.Resource != nil && m.Resource.Target.AverageUtilization != nil {
			targets[m.Resource.Name] = *m.Resource.Target.AverageUtilization
		}
	}
	return Result{"scaling", subject, Pass, fmt.Sprintf("%d-%d replicas (now %d), cpu %s/%d%%, memory %s/%d%%",
		minReplicas(want), want.Spec.MaxReplicas, live.Status.CurrentReplicas,
		current[corev1.ResourceCPU], targets[corev1.ResourceCPU], current[corev1.ResourceMemory], targets[corev1.ResourceMemory]), ""}
}

// minReplicas is the HPA's minimum; the API server defaults a missing one to 1.
func minReplicas(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas == nil {
		return 1
	}
	return *h.Spec.MinReplicas
}

func currentUtilization(h *autoscalingv2.HorizontalPodAutoscaler) map[corev1.ResourceName]string {
	current := map[corev1.ResourceName]string{}
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			current[m.Resource.Name] = fmt.Sprintf("%d%%", *m.Resource.Current.AverageUtilization)
		}
	}
	return current
}
