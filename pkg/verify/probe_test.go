package verify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// Requirement: the probe runs with exactly the service container's mounts,
// under Pod Security `restricted`, with its request as one argument.
func TestProbeContainer(t *testing.T) {
	target := serviceContainer()
	ec := probeContainer(target, "layering-verify-1", "probe:1", `{"dns":["a:1"]}`)
	sc := ec.SecurityContext
	switch {
	case ec.TargetContainerName != "orchestrator", ec.Image != "probe:1", len(ec.Args) != 1 || ec.Args[0] != `{"dns":["a:1"]}`:
		t.Errorf("probe container %+v", ec)
	case len(ec.VolumeMounts) != len(target.VolumeMounts) || ec.VolumeMounts[0] != target.VolumeMounts[0]:
		t.Errorf("mounts %+v, want the service's %+v", ec.VolumeMounts, target.VolumeMounts)
	case !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("security context %+v is not restricted", sc)
	}
}

// Requirement: verify waits until the probe exits, and stops at once when its image cannot start.
func TestProbeExited(t *testing.T) {
	pod := func(state corev1.ContainerState) *corev1.Pod {
		p := runningPod("p", "a")
		p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "other", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}, {Name: "probe", State: state}}
		return p
	}
	for name, tc := range map[string]struct {
		pod     *corev1.Pod
		done    bool
		failure string
	}{
		"not started yet": {runningPod("p", "a"), false, ""},
		"creating":        {pod(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}), false, ""},
		"running":         {pod(corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), false, ""},
		"exited":          {pod(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}), true, ""},
		"image missing":   {pod(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "not present"}}), false, "the probe image probe:1 does not start in pod p: ErrImageNeverPull: not present"},
		"pull back-off":   {pod(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}), false, "ImagePullBackOff"},
	} {
		t.Run(name, func(t *testing.T) {
			done, err := probeExited(tc.pod, "probe", "probe:1")
			if done != tc.done || (err == nil) != (tc.failure == "") || (err != nil && !strings.Contains(err.Error(), tc.failure)) {
				t.Errorf("got %v, %v; want %v, %q", done, err, tc.done, tc.failure)
			}
		})
	}
}

// Requirement: a probe that cannot read its request, answers checks verify does
// not know (an image of another version) or prints no results is an error
// naming the pod, not a result.
func TestProbeResults(t *testing.T) {
	if _, err := probeResults("p", []byte(`{"check":"request","detail":"want one argument"}`+"\n")); err == nil || !strings.Contains(err.Error(), "the probe in pod p cannot read its request: want one argument") {
		t.Errorf("refused request: %v", err)
	}
	// What the probe of the string-argument language answered to a JSON request.
	old := `{"check":"usage","target":"{\"dns\":[\"a:1\"]}","ok":false,"detail":"want: dns HOST:PORT..."}` + "\n"
	if _, err := probeResults("p", []byte(old)); err == nil || !strings.Contains(err.Error(), "is the probe image as new as the plugin?") {
		t.Errorf("an older probe's answer: %v", err)
	}
	if _, err := probeResults("p", []byte("exec /layering-verify-probe: exec format error")); err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Errorf("no results: %v", err)
	}
	got, err := probeResults("p", []byte(`{"check":"dns","target":"a:1","ok":true,"detail":"d"}`+"\n"))
	if err != nil || len(got) != 1 || !got[0].OK {
		t.Errorf("one result: %+v, %v", got, err)
	}
}

func TestPodSelector(t *testing.T) {
	d := deployment("a", serviceContainer())
	if s, err := podSelector(d); err != nil || s != "app=a" {
		t.Errorf("got %q, %v", s, err)
	}
	d.Spec.Selector = nil
	if _, err := podSelector(d); err == nil {
		t.Error("a Deployment without a selector would select every pod")
	}
	d.Spec.Selector = &metav1.LabelSelector{}
	if _, err := podSelector(d); err == nil {
		t.Error("an empty selector would select every pod")
	}
}

func TestPodReady(t *testing.T) {
	ready := runningPod("p", "a")
	deleting := ready.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	notReady := ready.DeepCopy()
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	for p, want := range map[*corev1.Pod]bool{ready: true, deleting: false, notReady: false, {}: false} {
		if podReady(p) != want {
			t.Errorf("podReady(%+v) = %v", p.Status, !want)
		}
	}
}

// watchStarted makes the fake clientset signal when a pod watch is open, so
// that a test changes the pod only once the wait can see the change.
func watchStarted(cs *fake.Clientset) <-chan struct{} {
	started := make(chan struct{}, 10)
	cs.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(action.GetResource(), action.GetNamespace())
		started <- struct{}{}
		return true, w, err
	})
	return started
}

// Requirement: the wait for the probe watches the pod (no sleep loop) and ends
// when the probe container has exited.
func TestWaitProbeWatchesUntilTheProbeExits(t *testing.T) {
	pod := runningPod("orchestrator-1", "orchestrator", serviceContainer())
	v, cs := verifier(t, nil, pod)
	started := watchStarted(cs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		<-started
		p := pod.DeepCopy()
		p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "probe", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
		_ = cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, ns)
	}()
	if err := v.waitProbe(ctx, pod, "probe"); err != nil {
		t.Fatalf("waitProbe: %v", err)
	}
}

// Requirement: a pod that goes away while the probe runs ends the wait with a reason.
func TestWaitProbeEndsWhenThePodGoesAway(t *testing.T) {
	pod := runningPod("orchestrator-1", "orchestrator", serviceContainer())
	v, cs := verifier(t, nil, pod)
	started := watchStarted(cs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		<-started
		_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ns, pod.Name)
	}()
	if err := v.waitProbe(ctx, pod, "probe"); err == nil || !strings.Contains(err.Error(), "went away while the probe ran") {
		t.Fatalf("waitProbe: %v", err)
	}
}

// Requirement (--deep): the wait for the replacement pod watches the
// Deployment's pods and returns the first ready one that is not the old pod.
func TestWaitReplacementWatchesForANewReadyPod(t *testing.T) {
	d := live(deployment("aggregator", serviceContainer()))
	old := runningPod("aggregator-old", "aggregator", serviceContainer())
	v, cs := verifier(t, nil, d, old, runningPod("unrelated", "orchestrator"))
	started := watchStarted(cs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		<-started
		starting := runningPod("aggregator-new", "aggregator", serviceContainer())
		starting.Status.Conditions = nil
		_ = cs.Tracker().Add(starting)
		ready := runningPod("aggregator-new", "aggregator", serviceContainer())
		_ = cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), ready, ns)
	}()
	p, err := v.waitReplacement(ctx, d, old.UID)
	if err != nil || p.Name != "aggregator-new" {
		t.Fatalf("waitReplacement = %v, %v; want aggregator-new", p, err)
	}
}

// Requirement: the probe is added to the pod as an ephemeral container (a
// patch, which cannot conflict with the pod's status updates) holding the
// request as its one argument; output that holds no results is an error.
func TestRunProbeAddsTheRequestToThePod(t *testing.T) {
	pod := runningPod("orchestrator-1", "orchestrator", serviceContainer())
	v, cs := verifier(t, nil, pod)
	var added []corev1.EphemeralContainer
	cs.PrependReactor("patch", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch := action.(k8stesting.PatchAction)
		if patch.GetSubresource() != "ephemeralcontainers" || patch.GetPatchType() != types.StrategicMergePatchType {
			return false, nil, nil
		}
		var body struct{ Spec corev1.PodSpec }
		if err := json.Unmarshal(patch.GetPatch(), &body); err != nil {
			return true, nil, err
		}
		added = body.Spec.EphemeralContainers
		exited := pod.DeepCopy()
		exited.Spec.EphemeralContainers = added
		exited.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: added[0].Name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
		return true, exited, cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), exited, ns)
	})
	req := probeapi.Request{DNS: []string{"layering-service:8001"}, ReadOnly: []string{"/app/input"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := v.runProbe(ctx, pod, req)
	// The fake clientset's logs are the text "fake logs": no results.
	if err == nil || !strings.Contains(err.Error(), `the probe in pod orchestrator-1 reported no results in its output: "fake logs"`) {
		t.Errorf("runProbe: %v", err)
	}
	if len(added) != 1 {
		t.Fatalf("want one ephemeral container added, got %+v", added)
	}
	if got, err := probeapi.Decode(added[0].Args); err != nil || got.DNS[0] != "layering-service:8001" || got.ReadOnly[0] != "/app/input" {
		t.Errorf("the probe's argument decodes to %+v, %v", got, err)
	}
	if len(pod.Spec.EphemeralContainers) != 0 {
		t.Error("runProbe changed the pod it was handed")
	}
}
