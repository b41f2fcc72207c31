package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// Container states that no amount of waiting repairs: fail at once with the reason.
var hopeless = map[string]bool{
	"ErrImageNeverPull": true, "InvalidImageName": true, "ImagePullBackOff": true, "ErrImagePull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "CrashLoopBackOff": true,
}

// ofCurrentRevision tells whether pod belongs to the newest template of its
// workload (key, from workloadOf): an old template's pods may be failing
// while this rollout repairs them.
func (w *Waiter) ofCurrentRevision(ctx context.Context, pod *corev1.Pod, key string) bool {
	kind, name, _ := strings.Cut(key, "/")
	if kind == "daemonset" {
		ds, err := w.Clients.Kube.AppsV1().DaemonSets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || ds.Status.ObservedGeneration < ds.Generation {
			return false
		}
		// The API server counts template changes in this annotation; the controller labels pods with it.
		const generation = "deprecated.daemonset.template.generation"
		return ds.Annotations[generation] != "" && pod.Labels["pod-template-generation"] == ds.Annotations[generation]
	}
	d, err := w.Clients.Kube.AppsV1().Deployments(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	// Until the controller has seen the applied template, its revision names the
	// previous one: a rollback would take the failing pods it replaces for its own.
	if err != nil || d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Kind != "ReplicaSet" {
			continue
		}
		rs, err := w.Clients.Kube.AppsV1().ReplicaSets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
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

// workloadOf names the workload that owns pod, as kube.Key does
// ("deployment/<name>" through its ReplicaSet, "daemonset/<name>"), or "".
func workloadOf(pod *corev1.Pod) string {
	hash := pod.Labels["pod-template-hash"]
	for _, ref := range pod.OwnerReferences {
		switch {
		case ref.Kind == "ReplicaSet" && hash != "":
			return "deployment/" + strings.TrimSuffix(ref.Name, "-"+hash)
		case ref.Kind == "DaemonSet":
			return "daemonset/" + ref.Name
		}
	}
	return ""
}

// ownsPods are the kinds whose pods wait watches and explain reads.
func ownsPods(kind string) bool { return kind == "Deployment" || kind == "DaemonSet" }

// explain says why an object is still not healthy: for a Deployment or
// DaemonSet, its pods' container states and the warnings of its pods (and
// ReplicaSets) (failing probes, Pod Security refusals, scheduling, mounts);
// otherwise its last status.
func (w *Waiter) explain(ctx context.Context, o *unstructured.Unstructured, since time.Time) string {
	var reasons []string
	if ownsPods(o.GetKind()) {
		pods, err := w.Clients.Kube.CoreV1().Pods(o.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				if workloadOf(&pods.Items[i]) == kube.Key(o) {
					if p := PodProblem(&pods.Items[i], false); p != "" {
						reasons = append(reasons, p)
					}
				}
			}
		}
	}
	events, err := w.Clients.Kube.CoreV1().Events(o.GetNamespace()).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
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
		if j := w.judgeFor(ctx, o.GroupVersionKind().GroupKind()); j != nil {
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
// its ReplicaSets and pods, for a DaemonSet its pods (named after it),
// otherwise o itself.
func explains(o *unstructured.Unstructured, ref corev1.ObjectReference) bool {
	if ownsPods(o.GetKind()) && (ref.Kind == "Pod" || ref.Kind == "ReplicaSet" && o.GetKind() == "Deployment") {
		return strings.HasPrefix(ref.Name, o.GetName()+"-")
	}
	return ref.Kind == o.GetKind() && ref.Name == o.GetName()
}

func (w *Waiter) get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	client, err := w.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return nil, err
	}
	return client.Get(ctx, o.GetName(), metav1.GetOptions{})
}
