package deploy

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
	switch {
	case strings.Contains(message, "missing request for"):
		return "its target's containers lack the resource request the utilization target is measured against: " + message
	case reason == "InvalidMetricSourceType", reason == "InvalidSelector", reason == "FailedGetScale":
		return reason + ": " + message
	case strings.Contains(message, "could not find the requested resource") || strings.Contains(message, "the server is currently unable to handle the request"):
		return "the metrics API does not answer (is metrics-server running?): " + message
	}
	return ""
}
