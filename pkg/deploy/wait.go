package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

// Progress receives the state of each awaited object as it changes.
type Progress interface {
	Update(key string, done bool, message string)
}

// Failure is why one object did not become healthy.
type Failure struct {
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// WaitError lists every object that did not become healthy, with its reason.
type WaitError struct {
	Failures []Failure
	TimedOut bool
}

func (e *WaitError) Error() string {
	lines := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		lines[i] = fmt.Sprintf("  - %s: %s", f.Object, f.Reason)
	}
	head := "not healthy"
	if e.TimedOut {
		head = "not healthy within the timeout"
	}
	return fmt.Sprintf("%s:\n%s", head, strings.Join(lines, "\n"))
}

// Waiter watches applied objects until each is healthy, as `kubectl rollout
// status` does for Deployments, and explains any that are not.
type Waiter struct {
	Dynamic  dynamic.Interface
	Kube     kubernetes.Interface
	Mapper   meta.RESTMapper
	Progress Progress
}

// judge says whether an object is healthy; a non-nil error means it will not become so.
type judge func(*unstructured.Unstructured) (done bool, message string, err error)

// Container states that no amount of waiting repairs: fail at once with the reason.
var hopeless = map[string]bool{
	"ErrImageNeverPull": true, "InvalidImageName": true, "ImagePullBackOff": true, "ErrImagePull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "CrashLoopBackOff": true,
}

func judgeFor(kind string) judge {
	switch kind {
	case "Deployment":
		viewer := &polymorphichelpers.DeploymentStatusViewer{}
		return func(u *unstructured.Unstructured) (bool, string, error) {
			msg, done, err := viewer.Status(u, 0)
			return done, strings.TrimSpace(msg), err
		}
	case "PersistentVolumeClaim":
		return func(u *unstructured.Unstructured) (bool, string, error) {
			phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
			if phase == "Bound" {
				return true, "bound", nil
			}
			if phase == "Lost" {
				return false, "", errors.New("the claim lost its volume")
			}
			return false, "waiting to be bound (phase " + phase + ")", nil
		}
	case "ExternalSecret", "SecretStore":
		return func(u *unstructured.Unstructured) (bool, string, error) {
			status, _, message := Condition(u, "Ready")
			if status == "True" {
				return true, "ready", nil
			}
			return false, "not ready: " + message, nil
		}
	case "HorizontalPodAutoscaler":
		return func(u *unstructured.Unstructured) (bool, string, error) {
			status, _, message := Condition(u, "ScalingActive")
			if status != "True" {
				return false, "not reading metrics yet: " + message, nil
			}
			return true, "reading metrics", nil
		}
	}
	return nil
}

// Condition returns the status, reason and message of an object's condition of the given type.
func Condition(u *unstructured.Unstructured, kind string) (status, reason, message string) {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == kind {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
			return status, reason, message
		}
	}
	return "Unknown", "", "no " + kind + " condition yet"
}

// Key names an object in progress output and failures.
func Key(u *unstructured.Unstructured) string {
	return strings.ToLower(u.GetKind()) + "/" + u.GetName()
}

// Wait blocks until every awaited object in objs is healthy, one fails for
// good, or ctx ends (timeout or Ctrl-C).
func (w *Waiter) Wait(ctx context.Context, objs []*unstructured.Unstructured) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()
	var (
		mu       sync.Mutex
		failures = map[string]string{}
		pending  = map[string]*unstructured.Unstructured{}
		wg       sync.WaitGroup
	)
	fail := func(key, reason string) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := failures[key]; !seen {
			failures[key] = reason
			w.Progress.Update(key, false, "FAILED: "+reason)
		}
		cancel()
	}
	namespaces := map[string]bool{}
	for _, o := range objs {
		j := judgeFor(o.GetKind())
		if j == nil {
			continue
		}
		key := Key(o)
		pending[key] = o
		if o.GetKind() == "Deployment" {
			namespaces[o.GetNamespace()] = true
		}
		w.Progress.Update(key, false, "waiting")
		wg.Add(1)
		go func(o *unstructured.Unstructured) {
			defer wg.Done()
			err := w.watch(ctx, o, j, func(done bool, msg string) {
				w.Progress.Update(key, done, msg)
				if done {
					mu.Lock()
					delete(pending, key)
					mu.Unlock()
				}
			})
			if err != nil && ctx.Err() == nil {
				fail(key, err.Error())
			}
		}(o)
	}
	// Pods fail in ways their Deployment's status never shows: watch them too.
	for ns := range namespaces {
		go w.watchPods(ctx, ns, fail)
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(failures) == 0 && len(pending) == 0 {
		return nil
	}
	werr := &WaitError{TimedOut: len(failures) == 0}
	for key, reason := range failures {
		werr.Failures = append(werr.Failures, Failure{key, reason})
	}
	// Whatever is still pending is explained from its pods and events.
	diagCtx, diagCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer diagCancel()
	for key, o := range pending {
		if _, failed := failures[key]; !failed {
			werr.Failures = append(werr.Failures, Failure{key, w.explain(diagCtx, o, started)})
		}
	}
	sort.Slice(werr.Failures, func(i, j int) bool { return werr.Failures[i].Object < werr.Failures[j].Object })
	return werr
}

// watch follows one object until its judge says done, as kubectl rollout status does.
func (w *Waiter) watch(ctx context.Context, o *unstructured.Unstructured, j judge, report func(bool, string)) error {
	client, err := resourceFor(w.Dynamic, w.Mapper, o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return err
	}
	selector := fields.OneTermEqualSelector("metadata.name", o.GetName()).String()
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return client.List(ctx, opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return client.Watch(ctx, opts)
		},
	}
	_, err = watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
		switch e.Type {
		case watch.Added, watch.Modified:
			done, msg, err := j(e.Object.(*unstructured.Unstructured))
			if err != nil {
				return false, err
			}
			report(done, msg)
			return done, nil
		case watch.Deleted:
			return false, errors.New("deleted while waiting")
		}
		return false, nil
	})
	return err
}

// watchPods fails the owning Deployment as soon as one of its pods is in a state that waiting cannot repair.
func (w *Waiter) watchPods(ctx context.Context, ns string, fail func(key, reason string)) {
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			return w.Kube.CoreV1().Pods(ns).List(ctx, opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			return w.Kube.CoreV1().Pods(ns).Watch(ctx, opts)
		},
	}
	_, _ = watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		pod, ok := e.Object.(*corev1.Pod)
		if !ok || e.Type == watch.Deleted || pod.DeletionTimestamp != nil {
			return false, nil
		}
		if reason := PodProblem(pod, true); reason != "" {
			if d := deploymentOf(pod); d != "" && w.ofCurrentRevision(ctx, pod, d) {
				fail("deployment/"+d, reason)
			}
		}
		return false, nil
	})
}

// ofCurrentRevision tells whether pod belongs to its Deployment's newest
// ReplicaSet: the old one's pods may be failing while this rollout repairs them.
func (w *Waiter) ofCurrentRevision(ctx context.Context, pod *corev1.Pod, deployment string) bool {
	d, err := w.Kube.AppsV1().Deployments(pod.Namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Kind != "ReplicaSet" {
			continue
		}
		rs, err := w.Kube.AppsV1().ReplicaSets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		const revision = "deployment.kubernetes.io/revision"
		return rs.Annotations[revision] != "" && rs.Annotations[revision] == d.Annotations[revision]
	}
	return false
}

// PodProblem describes a container state of pod; only hopeless ones unless all is set.
func PodProblem(pod *corev1.Pod, hopelessOnly bool) string {
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if wt := cs.State.Waiting; wt != nil && wt.Reason != "" && wt.Reason != "ContainerCreating" && wt.Reason != "PodInitializing" {
			if hopeless[wt.Reason] || !hopelessOnly {
				return fmt.Sprintf("pod %s container %s: %s: %s", pod.Name, cs.Name, wt.Reason, wt.Message)
			}
		}
		if !hopelessOnly && !cs.Ready && cs.State.Running != nil {
			return fmt.Sprintf("pod %s container %s is running but not ready (restarts: %d)", pod.Name, cs.Name, cs.RestartCount)
		}
	}
	return ""
}

// deploymentOf names the Deployment that owns pod through its ReplicaSet.
func deploymentOf(pod *corev1.Pod) string {
	hash := pod.Labels["pod-template-hash"]
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "ReplicaSet" && hash != "" {
			return strings.TrimSuffix(ref.Name, "-"+hash)
		}
	}
	return ""
}

// explain says why an object is still not healthy: for a Deployment, its pods'
// container states and the warnings of its pods and ReplicaSets (failing
// probes, Pod Security refusals, scheduling, mounts); otherwise its last status.
func (w *Waiter) explain(ctx context.Context, o *unstructured.Unstructured, since time.Time) string {
	var reasons []string
	if o.GetKind() == "Deployment" {
		pods, err := w.Kube.CoreV1().Pods(o.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				if deploymentOf(&pods.Items[i]) == o.GetName() {
					if p := PodProblem(&pods.Items[i], false); p != "" {
						reasons = append(reasons, p)
					}
				}
			}
		}
	}
	events, err := w.Kube.CoreV1().Events(o.GetNamespace()).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil {
		seen := map[string]bool{}
		for _, e := range events.Items {
			// Only what happened during this wait (events of replaced pods linger for an hour).
			if !explains(o, e.InvolvedObject) || eventTime(e).Before(since.Add(-5*time.Second)) {
				continue
			}
			line := fmt.Sprintf("%s %s: %s", e.Reason, strings.ToLower(e.InvolvedObject.Kind)+"/"+e.InvolvedObject.Name, e.Message)
			if !seen[line] {
				seen[line] = true
				reasons = append(reasons, line)
			}
		}
	}
	if len(reasons) == 0 {
		if j := judgeFor(o.GetKind()); j != nil {
			if live, err := w.get(ctx, o); err == nil {
				_, msg, _ := j(live)
				return msg
			}
		}
		return "not healthy, and no event says why"
	}
	return strings.Join(reasons, "; ")
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// explains tells whether an event about ref is about o: for a Deployment also
// its ReplicaSets and pods (named after it), otherwise o itself.
func explains(o *unstructured.Unstructured, ref corev1.ObjectReference) bool {
	if o.GetKind() == "Deployment" && (ref.Kind == "ReplicaSet" || ref.Kind == "Pod") {
		return strings.HasPrefix(ref.Name, o.GetName()+"-")
	}
	return ref.Kind == o.GetKind() && ref.Name == o.GetName()
}

func (w *Waiter) get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	client, err := resourceFor(w.Dynamic, w.Mapper, o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return nil, err
	}
	return client.Get(ctx, o.GetName(), metav1.GetOptions{})
}
