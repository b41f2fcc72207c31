package verify

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// podsOf lists the pods a live Deployment selects.
func podsOf(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) ([]corev1.Pod, error) {
	selector, err := podSelector(d)
	if err != nil {
		return nil, err
	}
	pods, err := kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return pods.Items, nil
}

// podSelector is the Deployment's label selector; an empty one would select every pod.
func podSelector(d *appsv1.Deployment) (string, error) {
	if d.Spec.Selector == nil {
		return "", fmt.Errorf("deployment/%s has no pod selector", d.Name)
	}
	s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("deployment/%s's pod selector: %w", d.Name, err)
	}
	if s.Empty() {
		return "", fmt.Errorf("deployment/%s has an empty pod selector", d.Name)
	}
	return s.String(), nil
}

// readyPod is a ready pod of the live Deployment.
func readyPod(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) (*corev1.Pod, error) {
	pods, err := podsOf(ctx, kube, d)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		if podReady(&pods[i]) {
			return &pods[i], nil
		}
	}
	return nil, fmt.Errorf("cannot look inside: deployment/%s has no ready pod", d.Name)
}

// podReady: Ready and not on its way out.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// untilPod watches the namespace's pods that opts select until done holds for
// one of them, and returns that pod. It lists first, so a pod already in the
// state counts; ctx bounds the wait.
func untilPod(ctx context.Context, kube kubernetes.Interface, namespace string, opts metav1.ListOptions, done func(p *corev1.Pod, deleted bool) (bool, error)) (*corev1.Pod, error) {
	pods := kube.CoreV1().Pods(namespace)
	selected := func(o metav1.ListOptions) metav1.ListOptions {
		o.LabelSelector, o.FieldSelector = opts.LabelSelector, opts.FieldSelector
		return o
	}
	lw := &cache.ListWatch{
		ListFunc:  func(o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, selected(o)) },
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) { return pods.Watch(ctx, selected(o)) },
	}
	event, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		p, ok := e.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		return done(p, e.Type == watch.Deleted)
	})
	if err != nil {
		return nil, err
	}
	return event.Object.(*corev1.Pod), nil
}
