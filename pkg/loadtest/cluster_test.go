package loadtest

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Requirement: the requests a replica served are its own http_requests_total
// on the endpoint, every code counted (a 429 reached it too), other routes not.
func TestRequestsServed(t *testing.T) {
	exposition := `# HELP http_requests_total Requests by method, route and code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="POST",route="/detect",service="layering-service"} 120
http_requests_total{code="429",method="POST",route="/detect",service="layering-service"} 3
http_requests_total{code="200",method="GET",route="/health",service="layering-service"} 40
`
	n, err := RequestsServed([]byte(exposition), "/detect")
	if err != nil || n != 123 {
		t.Errorf("served %g, %v; want 123", n, err)
	}
	if n, _ := RequestsServed([]byte(exposition), "/aggregate"); n != 0 {
		t.Errorf("another route: %g", n)
	}
	if _, err := RequestsServed([]byte("go_goroutines 7\n"), "/detect"); err == nil {
		t.Error("no http_requests_total: no error")
	}
}

// Requirement: a generator pod that cannot send, and will not by waiting,
// stops the test with the reason.
func TestGeneratorProblem(t *testing.T) {
	now := time.Now()
	pod := func(status corev1.PodStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gen-1"}, Status: status}
	}
	for _, c := range []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{"image", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "loadgen",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}}}}}, "ErrImageNeverPull: image not present"},
		{"secret", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "loadgen",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: `secret "layering-detection-api-key" not found`}}}}}, "CreateContainerConfigError"},
		{"no room", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			LastTransitionTime: metav1.NewTime(now.Add(-2 * time.Minute)), Message: "0/1 nodes are available: 1 Insufficient memory."}}}, "cannot be scheduled: 0/1 nodes are available"},
		{"out of memory", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "loadgen",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}}, "pod gen-1 failed: OOMKilled (exit code 137)"},
		{"error", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "loadgen",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2, Message: "{...}\nlayering-loadgen: -url: must end in /detect"}}}}}, "Error (exit code 2): layering-loadgen: -url: must end in /detect"},
	} {
		if got := generatorProblem(pod(c.status), now); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	waiting := corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		LastTransitionTime: metav1.NewTime(now.Add(-10 * time.Second))}}}
	for _, s := range []corev1.PodStatus{waiting, {Phase: corev1.PodRunning}, {Phase: corev1.PodSucceeded}} {
		if got := generatorProblem(pod(s), now); got != "" {
			t.Errorf("%s: %q", s.Phase, got)
		}
	}
}
