package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// replacementTimeout bounds the wait for the pod that replaces a restarted one.
const replacementTimeout = 2 * time.Minute

// persistence (--deep) leaves a marker in each writable volume from pod,
// restarts pod, and looks for the marker from the pod that replaces it.
func (v *Verifier) persistence(ctx context.Context, d *appsv1.Deployment, pod *corev1.Pod, dirs []string) []probeapi.Result {
	failed := func(err error) []probeapi.Result {
		return []probeapi.Result{{Check: probeapi.CheckPersists, Target: strings.Join(dirs, ","), Detail: err.Error()}}
	}
	marker := &probeapi.Marker{Name: fmt.Sprint(time.Now().UnixNano()), Dirs: dirs}
	kept, err := v.runProbe(ctx, pod, probeapi.Request{Keep: marker})
	if err != nil {
		return failed(err)
	}
	for _, k := range kept {
		if !k.OK {
			return kept
		}
	}
	uid := pod.UID // only this pod, never one that took its name
	if err := v.Kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
		return failed(fmt.Errorf("restarting pod %s: %w", pod.Name, err))
	}
	replacement, err := v.waitReplacement(ctx, d, pod.UID)
	if err != nil {
		return failed(err)
	}
	found, err := v.runProbe(ctx, replacement, probeapi.Request{Expect: marker})
	if err != nil {
		return failed(err)
	}
	return found
}

// waitReplacement watches the Deployment's pods until one other than old is ready.
func (v *Verifier) waitReplacement(ctx context.Context, d *appsv1.Deployment, old types.UID) (*corev1.Pod, error) {
	selector, err := podSelector(d)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, replacementTimeout)
	defer cancel()
	p, err := untilPod(wctx, v.Kube, d.Namespace, metav1.ListOptions{LabelSelector: selector}, func(p *corev1.Pod, deleted bool) (bool, error) {
		return !deleted && p.UID != old && podReady(p), nil
	})
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return nil, fmt.Errorf("no replacement pod of deployment/%s became ready within %s", d.Name, replacementTimeout)
	}
	return p, err
}
