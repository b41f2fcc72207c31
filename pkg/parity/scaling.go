package parity

// The rows of scaling: replicas, min/max, targets, cooldowns.

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// replicas compares the desired count with the Deployment's replicas; live,
// both sides follow their own autoscalers, so a count within min..max on
// both is by design.
func replicas(svc string, s ecsstate.Service, d *appsv1.Deployment, hpa *autoscalingv2.HorizontalPodAutoscaler, live bool) Row {
	k := 1
	if d.Spec.Replicas != nil {
		k = int(*d.Spec.Replicas)
	}
	r := same(svc, "desired count", strconv.Itoa(s.DesiredCount), strconv.Itoa(k))
	if live && r.Status == Differs && s.Scaling != nil && hpa != nil && inRange(s.DesiredCount, s.Scaling.Min, s.Scaling.Max) &&
		inRange(k, int(minReplicas(hpa)), int(hpa.Spec.MaxReplicas)) {
		r.Status, r.Reason = ByDesign, "each side's autoscaler sets the count for its own load"
	}
	return r
}

func inRange(n, lo, hi int) bool { return n >= lo && n <= hi }

func minReplicas(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas == nil {
		return 1
	}
	return *h.Spec.MinReplicas
}

func minMax(svc string, sc *ecsstate.Scaling, hpa *autoscalingv2.HorizontalPodAutoscaler) Row {
	e, k := "(no scalable target)", "(no HorizontalPodAutoscaler)"
	if sc != nil {
		e = fmt.Sprintf("%d..%d", sc.Min, sc.Max)
	}
	if hpa != nil {
		k = fmt.Sprintf("%d..%d", minReplicas(hpa), hpa.Spec.MaxReplicas)
	}
	return same(svc, "min/max", e, k)
}

// scaling compares the target-tracking policies with the HPA's metrics, and
// the cooldowns with its stabilization windows (the HPA has no cooldowns: a
// window of the same length holds back the same flapping).
func scaling(svc string, sc *ecsstate.Scaling, hpa *autoscalingv2.HorizontalPodAutoscaler) []Row {
	var policies []ecsstate.Policy
	if sc != nil {
		policies = sc.Policies
	}
	policy := func(metric string) *ecsstate.Policy {
		for i := range policies {
			if policies[i].Metric == metric {
				return &policies[i]
			}
		}
		return nil
	}
	target := func(name corev1.ResourceName) string {
		if hpa == nil {
			return "(none)"
		}
		for _, m := range hpa.Spec.Metrics {
			if m.Resource != nil && m.Resource.Name == name && m.Resource.Target.AverageUtilization != nil {
				return fmt.Sprintf("%d %%", *m.Resource.Target.AverageUtilization)
			}
		}
		return "(none)"
	}
	ecsTarget := func(p *ecsstate.Policy) string {
		if p == nil {
			return "(none)"
		}
		return strconv.FormatFloat(p.Target, 'f', -1, 64) + " %"
	}
	cpuP, memP := policy("ECSServiceAverageCPUUtilization"), policy("ECSServiceAverageMemoryUtilization")
	rows := []Row{same(svc, "scaling CPU target", ecsTarget(cpuP), target(corev1.ResourceCPU)),
		same(svc, "scaling memory target", ecsTarget(memP), target(corev1.ResourceMemory))}
	out, in := "(none)", "(none)"
	if p := firstPolicy(cpuP, memP); p != nil {
		out, in = fmt.Sprintf("%d s", p.ScaleOutCooldown), fmt.Sprintf("%d s", p.ScaleInCooldown)
	}
	up, down := "(none)", "(none)"
	if hpa != nil {
		up, down = window(hpa.Spec.Behavior, true), window(hpa.Spec.Behavior, false)
	}
	for _, r := range []Row{same(svc, "scale-out cooldown ↔ scale-up window", out, up), same(svc, "scale-in cooldown ↔ scale-down window", in, down)} {
		if r.Status == Same {
			r.Reason = "the HPA has no cooldown; a stabilization window of the same length holds back the same flapping"
		}
		rows = append(rows, r)
	}
	return rows
}

func firstPolicy(ps ...*ecsstate.Policy) *ecsstate.Policy {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// window is the HPA's stabilization window, with Kubernetes' defaults (0 s up, 300 s down).
func window(b *autoscalingv2.HorizontalPodAutoscalerBehavior, up bool) string {
	s := int32(300)
	if up {
		s = 0
	}
	if b != nil {
		r := b.ScaleDown
		if up {
			r = b.ScaleUp
		}
		if r != nil && r.StabilizationWindowSeconds != nil {
			s = *r.StabilizationWindowSeconds
		}
	}
	return fmt.Sprintf("%d s", s)
}
