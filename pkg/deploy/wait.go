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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/kubectl/pkg/polymorphichelpers"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
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
// status` does for workloads, and explains any that are not.
type Waiter struct {
	Clients  kube.Clients
	Progress Progress
	// WaitForMetrics holds the wait until every autoscaler has read its first
	// metrics; otherwise an autoscaler only waiting for them is reported pending.
	WaitForMetrics bool
}

// judge says whether an object is healthy; a non-nil error means it will not become so.
type judge func(*unstructured.Unstructured) (done bool, message string, err error)

// judgeFor returns how to tell when an object of gk is healthy, or nil for
// kinds that are ready once applied. Workloads are judged by kubectl's own
// rollout status viewers.
func (w *Waiter) judgeFor(ctx context.Context, gk schema.GroupKind) judge {
	if viewer, err := polymorphichelpers.StatusViewerFor(gk); err == nil {
		return func(u *unstructured.Unstructured) (bool, string, error) {
			msg, done, err := viewer.Status(u, 0)
			return done, strings.TrimSpace(msg), err
		}
	}
	switch gk.Kind {
	case "PersistentVolumeClaim":
		return claimBound
	case "ExternalSecret", "SecretStore":
		return conditionReady
	case "HorizontalPodAutoscaler":
		return w.autoscalerJudge(ctx)
	}
	return nil
}

func claimBound(u *unstructured.Unstructured) (bool, string, error) {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	switch phase {
	case "Bound":
		return true, "bound", nil
	case "Lost":
		return false, "", errors.New("the claim lost its volume")
	}
	return false, "waiting to be bound (phase " + phase + ")", nil
}

func conditionReady(u *unstructured.Unstructured) (bool, string, error) {
	status, _, message := kube.Condition(u, "Ready")
	if status == "True" {
		return true, "ready", nil
	}
	return false, "not ready: " + message, nil
}

// Wait blocks until every awaited object in objs is healthy, one fails for
// good, or ctx ends (timeout or Ctrl-C).
// Objects done with a pending note (autoscalers awaiting first metrics) are returned as pending.
func (w *Waiter) Wait(ctx context.Context, objs []*unstructured.Unstructured) ([]Failure, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()
	var (
		mu       sync.Mutex
		failures = map[string]string{}
		pending  = map[string]*unstructured.Unstructured{}
		notes    = map[string]string{}
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
		j := w.judgeFor(ctx, o.GroupVersionKind().GroupKind())
		if j == nil {
			continue
		}
		key := kube.Key(o)
		pending[key] = o
		if ownsPods(o.GetKind()) {
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
					if msg == FirstMetricsPending {
						notes[key] = msg
					}
					mu.Unlock()
				}
			})
			if err != nil && ctx.Err() == nil {
				fail(key, err.Error())
			}
		}(o)
	}
	// Pods fail in ways their workload's status never shows: watch them too.
	for ns := range namespaces {
		go w.watchPods(ctx, ns, fail)
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var settling []Failure
	for key, note := range notes {
		settling = append(settling, Failure{key, note})
	}
	sort.Slice(settling, func(i, j int) bool { return settling[i].Object < settling[j].Object })
	if len(failures) == 0 && len(pending) == 0 {
		return settling, nil
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
	return settling, werr
}

// watch follows one object until its judge says done, as kubectl rollout status does.
func (w *Waiter) watch(ctx context.Context, o *unstructured.Unstructured, j judge, report func(bool, string)) error {
	client, err := w.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
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

// watchPods fails the owning workload as soon as one of its pods is in a state that waiting cannot repair.
func (w *Waiter) watchPods(ctx context.Context, ns string, fail func(key, reason string)) {
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			return w.Clients.Kube.CoreV1().Pods(ns).List(ctx, opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			return w.Clients.Kube.CoreV1().Pods(ns).Watch(ctx, opts)
		},
	}
	_, _ = watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		pod, ok := e.Object.(*corev1.Pod)
		if !ok || e.Type == watch.Deleted || pod.DeletionTimestamp != nil {
			return false, nil
		}
		if reason := PodProblem(pod, true); reason != "" {
			if key := workloadOf(pod); key != "" && w.ofCurrentRevision(ctx, pod, key) {
				fail(key, reason)
			}
		}
		return false, nil
	})
}
