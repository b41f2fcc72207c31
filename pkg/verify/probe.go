package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// probeTimeout bounds one probe run, from adding it to the pod to its exit.
const probeTimeout = 60 * time.Second

// runProbe runs the probe with req as an ephemeral container of pod and returns its results.
func (v *Verifier) runProbe(ctx context.Context, pod *corev1.Pod, req probeapi.Request) ([]probeapi.Result, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s has no containers to look inside", pod.Name)
	}
	arg, err := probeapi.Encode(req)
	if err != nil {
		return nil, err
	}
	ec := probeContainer(pod.Spec.Containers[0], fmt.Sprintf("layering-verify-%d", time.Now().UnixNano()%1_000_000_000), v.ProbeImage, arg)
	// A strategic merge patch adds the container to those the pod has, as
	// kubectl debug does, without a resourceVersion to conflict on.
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{ec}}})
	if err != nil {
		return nil, err
	}
	if _, err := v.Kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers"); err != nil {
		return nil, fmt.Errorf("adding the probe to pod %s: %w", pod.Name, err)
	}
	if err := v.waitProbe(ctx, pod, ec.Name); err != nil {
		return nil, err
	}
	logs, err := v.Kube.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: ec.Name}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the probe's output in pod %s: %w", pod.Name, err)
	}
	return probeResults(pod.Name, logs)
}

// probeContainer runs the probe with the target container's own mounts, under
// Pod Security `restricted`, as the image's user (uid 1000).
func probeContainer(target corev1.Container, name, image, arg string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		TargetContainerName: target.Name,
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Args:         []string{arg},
			VolumeMounts: target.VolumeMounts, // exactly the service's own mounts
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
}

// waitProbe watches the pod until the probe container has exited.
func (v *Verifier) waitProbe(ctx context.Context, pod *corev1.Pod, container string) error {
	wctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	onlyPod := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String()}
	_, err := untilPod(wctx, v.Kube, pod.Namespace, onlyPod, func(p *corev1.Pod, deleted bool) (bool, error) {
		if p.Name != pod.Name {
			return false, nil
		}
		if deleted {
			return false, fmt.Errorf("pod %s went away while the probe ran in it", pod.Name)
		}
		return probeExited(p, container, v.ProbeImage)
	})
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return fmt.Errorf("the probe in pod %s did not finish within %s", pod.Name, probeTimeout)
	}
	return err
}

// probeExited tells from the pod's status whether the probe container has
// exited, and fails at once when it cannot start (its image cannot be pulled,
// say), which waiting would not repair.
func probeExited(p *corev1.Pod, container, image string) (bool, error) {
	for _, s := range p.Status.EphemeralContainerStatuses {
		if s.Name != container {
			continue
		}
		if s.State.Terminated != nil {
			return true, nil
		}
		if w := s.State.Waiting; w != nil && (strings.Contains(w.Reason, "Image") || strings.Contains(w.Reason, "Err")) {
			return false, fmt.Errorf("the probe image %s does not start in pod %s: %s: %s", image, p.Name, w.Reason, w.Message)
		}
	}
	return false, nil
}

// probeResults reads the probe's output; a probe that could not read its
// request or answers checks this plugin does not know (an image of another
// version) is an error, not a result.
func probeResults(pod string, logs []byte) ([]probeapi.Result, error) {
	results, err := probeapi.ReadResults(logs)
	if err != nil {
		return nil, fmt.Errorf("the probe in pod %s reported %w", pod, err)
	}
	for _, r := range results {
		if r.Check == probeapi.CheckRequest {
			return nil, fmt.Errorf("the probe in pod %s cannot read its request: %s", pod, r.Detail)
		}
		if _, known := probeHints[r.Check]; !known {
			return nil, fmt.Errorf("the probe in pod %s answered %q (%s): is the probe image as new as the plugin?", pod, r.Check, r.Detail)
		}
	}
	return results, nil
}
