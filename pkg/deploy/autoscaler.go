package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// FirstMetricsPending is how an autoscaler that has not read its first
// metrics yet is reported when the wait does not hold for it.
const FirstMetricsPending = "pending: first metrics expected within ~30 s (metrics-server scrapes every 15 s, the autoscaler syncs every 15 s); kubectl layering verify --check scaling proves it"

// autoscalerState judges an HPA. ScalingActive=True is healthy. A condition
// naming a problem that waiting cannot repair fails at once. Anything else is
// the autoscaler waiting for the first metrics of pods that just started:
// healthy-but-pending unless waitForMetrics.
func autoscalerState(u *unstructured.Unstructured, waitForMetrics bool) (bool, string, error) {
	status, reason, message := kube.Condition(u, "ScalingActive")
	if status == "True" {
		return true, "reading metrics", nil
	}
	if problem := autoscalerProblem(reason, message); problem != "" {
		return false, "", errors.New(problem)
	}
	if _, _, ableMsg := kube.Condition(u, "AbleToScale"); strings.Contains(ableMsg, "failed to get") {
		return false, "", errors.New("cannot read its target's scale: " + ableMsg)
	}
	if waitForMetrics {
		return false, "not reading metrics yet: " + message, nil
	}
	return true, FirstMetricsPending, nil
}

// autoscalerProblem says what in an HPA's ScalingActive condition no wait
// repairs ("" when it is only waiting for metrics).
func autoscalerProblem(reason, message string) string {
	// A "missing request" message is not judged here: it lags behind the pods
	// (stale after a fix); the live pod template tells (missingRequests).
	switch {
	case reason == "InvalidMetricSourceType", reason == "InvalidSelector", reason == "FailedGetScale":
		return reason + ": " + message
	case strings.Contains(message, "could not find the requested resource") || strings.Contains(message, "the server is currently unable to handle the request"):
		return "the metrics API does not answer (is metrics-server running?): " + message
	}
	return ""
}

// missingRequests names the containers of a pod template that lack a request
// for a resource an HPA measures utilization against. The HPA controller reads
// metrics before it looks at requests, so for pods without metrics yet its
// condition cannot tell: the template can.
func missingRequests(hpa *autoscalingv2.HorizontalPodAutoscaler, template corev1.PodTemplateSpec) []string {
	var missing []string
	for _, m := range hpa.Spec.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
			continue
		}
		for _, c := range template.Spec.Containers {
			if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
				missing = append(missing, fmt.Sprintf("container %s has no %s request", c.Name, m.Resource.Name))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// autoscalerJudge judges an HPA, and the live pod template of its target: a
// container without the request a utilization target is measured against
// fails the release now, even while the HPA still reports metrics of the
// previous pods.
func (w *Waiter) autoscalerJudge(ctx context.Context) judge {
	return func(u *unstructured.Unstructured) (bool, string, error) {
		var hpa autoscalingv2.HorizontalPodAutoscaler
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &hpa); err == nil && hpa.Spec.ScaleTargetRef.Kind == "Deployment" {
			target, err := w.Clients.Kube.AppsV1().Deployments(u.GetNamespace()).Get(ctx, hpa.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
			if err == nil {
				if missing := missingRequests(&hpa, target.Spec.Template); len(missing) > 0 {
					return false, "", fmt.Errorf("cannot compute utilization of deployment/%s: %s", target.Name, strings.Join(missing, "; "))
				}
			}
		}
		return autoscalerState(u, w.WaitForMetrics)
	}
}
