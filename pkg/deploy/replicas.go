package deploy

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// replicasManager co-owns spec.replicas of each Deployment after its creation,
// so that the plugin's own apply can stop setting it without the field being
// removed (Kubernetes' documented hand-over of a field to an autoscaler).
const replicasManager = "kubectl-layering-replicas-handover"

// autoscaled names (namespace/name) the Deployments an HPA in objs scales.
func autoscaled(objs []*unstructured.Unstructured) map[string]bool {
	scaled := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "HorizontalPodAutoscaler" {
			target, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
			scaled[o.GetNamespace()+"/"+target] = true
		}
	}
	return scaled
}

// ownsReplicas tells whether manager's managed fields of o include spec.replicas.
func ownsReplicas(o *unstructured.Unstructured, manager string) bool {
	for _, f := range o.GetManagedFields() {
		if f.Manager != manager || f.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(f.FieldsV1.Raw, &fields); err != nil {
			continue
		}
		if spec, ok := fields["f:spec"].(map[string]any); ok {
			if _, ok := spec["f:replicas"]; ok {
				return true
			}
		}
	}
	return false
}

// withoutReplicas is a copy of o that does not set spec.replicas.
func withoutReplicas(o *unstructured.Unstructured) *unstructured.Unstructured {
	c := o.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "spec", "replicas")
	return c
}

// HandOverReplicas returns objs as they must be sent so that every existing
// Deployment an HPA in objs scales keeps the replica count the HPA chose: such
// Deployments are sent without spec.replicas, after the field was handed to
// replicasManager if this plugin still owned it. A Deployment that does not
// exist yet is sent as is, created at its initial count. objs is not modified.
func (a *Applier) HandOverReplicas(ctx context.Context, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	scaled := autoscaled(objs)
	out := make([]*unstructured.Unstructured, len(objs))
	copy(out, objs)
	for i, o := range objs {
		if o.GetKind() != "Deployment" || !scaled[o.GetNamespace()+"/"+o.GetName()] {
			continue
		}
		client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return nil, err
		}
		live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if ownsReplicas(live, FieldManager) {
			if err := a.handOver(ctx, o, live); err != nil {
				return nil, err
			}
		}
		out[i] = withoutReplicas(o)
	}
	return out, nil
}

// handOver gives spec.replicas of live to replicasManager at its current value.
func (a *Applier) handOver(ctx context.Context, o, live *unstructured.Unstructured) error {
	client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return err
	}
	replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	handover := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(),
		"metadata": map[string]any{"name": o.GetName(), "namespace": o.GetNamespace()},
		"spec":     map[string]any{"replicas": replicas},
	}}
	opts := metav1.ApplyOptions{FieldManager: replicasManager, Force: true, DryRun: a.applyOptions().DryRun}
	if _, err := client.Apply(ctx, o.GetName(), handover, opts); err != nil {
		return fmt.Errorf("handing spec.replicas of %s over to its autoscaler: %w", kube.Key(o), err)
	}
	return nil
}
