package verify

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Requirement (probes): a Deployment passes only when its probes are as the
// manifests specify, no pod has a problem and all desired replicas are available;
// a recent restart of an otherwise healthy Deployment is a warning.
func TestJudgeDeployment(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	want := deployment("orchestrator", serviceContainer())
	restarted := func(ago time.Duration) []corev1.Pod {
		p := runningPod("orchestrator-1", "orchestrator")
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "orchestrator", Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", FinishedAt: metav1.NewTime(now.Add(-ago))}}}}
		return []corev1.Pod{*p}
	}
	crashing := runningPod("orchestrator-1", "orchestrator")
	crashing.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "orchestrator", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s"}}}}
	driftedProbe := live(want)
	driftedProbe.Spec.Template.Spec.Containers[0].ReadinessProbe.PeriodSeconds = 30
	noStartupProbe := live(want)
	noStartupProbe.Spec.Template.Spec.Containers[0].StartupProbe = nil
	short := live(want)
	short.Spec.Replicas = ptr32(2)
	noContainers := deployment("orchestrator")

	for name, tc := range map[string]struct {
		want, live *appsv1.Deployment
		pods       []corev1.Pod
		status     Status
		reason     string
	}{
		"healthy":                          {want, live(want), nil, Pass, "1/1 available, probes as specified"},
		"a probe differs":                  {want, driftedProbe, nil, Fail, "the live probes differ from the manifests"},
		"the startup probe was removed":    {want, noStartupProbe, nil, Fail, "the live probes differ from the manifests"},
		"a pod crash-loops":                {want, live(want), []corev1.Pod{*crashing}, Fail, "CrashLoopBackOff: back-off 40s"},
		"fewer available than desired":     {want, short, nil, Fail, "1/2 available"},
		"restarted 2 minutes ago":          {want, live(want), restarted(2 * time.Minute), Warn, "restarted 3 times, last 2m0s ago (OOMKilled)"},
		"restarted an hour ago":            {want, live(want), restarted(time.Hour), Pass, "1/1 available"},
		"the manifests give no containers": {noContainers, live(want), nil, Fail, "the manifests give the Deployment no containers"},
		"the live Deployment lacks one":    {want, noContainers, nil, Fail, "the live Deployment has no container orchestrator"},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeDeployment(tc.want, tc.live, tc.pods, now, "test", ns)
			if r.Check != "probes" || r.Subject != "deployment/orchestrator" || r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("got %+v, want %s with a reason containing %q", r, tc.status, tc.reason)
			}
		})
	}
}

func ptr32(n int32) *int32 { return &n }

// Requirement (probes): GET /health passes only on {"status":"healthy"}.
func TestJudgeHealth(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		err    error
		status Status
		reason string
	}{
		"healthy":      {`{"status":"healthy"}` + "\n", nil, Pass, `200 {"status":"healthy"}`},
		"unhealthy":    {`{"status":"degraded"}`, nil, Fail, `answered {"status":"degraded"}`},
		"not JSON":     {"Bad Gateway", nil, Fail, "answered Bad Gateway"},
		"no answer":    {"", errors.New("no endpoints available"), Fail, "no answer through the Service: no endpoints available"},
		"empty answer": {"", nil, Fail, "answered "},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeHealth("service/x GET /health", []byte(tc.body), tc.err, "hint")
			if r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Reason, tc.status, tc.reason)
			}
		})
	}
}
