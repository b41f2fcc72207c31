package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Prune deletes the objects this plugin applied to env before that objs no
// longer contain. Candidates are listed among kinds by the environment's labels,
// and deleted only if their managed fields show this plugin's field manager
// applied them: an object someone else created with look-alike labels stays.
func (a *Applier) Prune(ctx context.Context, env, namespace string, objs []*unstructured.Unstructured, kinds []schema.GroupVersionKind) ([]string, error) {
	keep := map[string]bool{}
	for _, o := range objs {
		keep[identity(o)] = true
	}
	selector := fmt.Sprintf("%s=%s,%s=%s,!%s", revision.LabelManagedBy, revision.ManagedBy, revision.LabelEnvironment, env, revision.LabelRevision)
	opts := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	if a.DryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var pruned []string
	var errs []error
	for _, gvk := range kinds {
		client, err := resourceFor(a.Client, a.Mapper, gvk, namespace)
		if err != nil {
			continue // the cluster does not serve it, so nothing of it exists
		}
		list, err := client.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if apierrors.IsNotFound(err) {
			continue // not served after all (stale discovery): nothing of it exists
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", gvk.Kind, err))
			continue
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetGroupVersionKind(gvk)
			if keep[identity(o)] || !appliedByUs(o) {
				continue
			}
			if err := client.Delete(ctx, o.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("pruning %s: %w", Key(o), err))
				continue
			}
			pruned = append(pruned, Key(o))
		}
	}
	sort.Strings(pruned)
	return pruned, errors.Join(errs...)
}

func identity(o *unstructured.Unstructured) string {
	return o.GroupVersionKind().GroupKind().String() + "/" + o.GetNamespace() + "/" + o.GetName()
}

func appliedByUs(o *unstructured.Unstructured) bool {
	for _, f := range o.GetManagedFields() {
		if f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// replicasManager co-owns spec.replicas of each Deployment after its creation,
// so that the plugin's own apply can stop setting it without the field being
// removed (Kubernetes' documented hand-over of a field to an autoscaler).
const replicasManager = "kubectl-layering-replicas-handover"

// HandOverReplicas prepares the Deployments in objs that an HPA in objs scales:
// a Deployment that exists keeps the replica count the HPA chose, because the
// plugin's apply no longer carries spec.replicas; only a new one is created at
// its initial desired count.
func (a *Applier) HandOverReplicas(ctx context.Context, objs []*unstructured.Unstructured) error {
	scaled := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "HorizontalPodAutoscaler" {
			target, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
			scaled[o.GetNamespace()+"/"+target] = true
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" || !scaled[o.GetNamespace()+"/"+o.GetName()] {
			continue
		}
		client, err := resourceFor(a.Client, a.Mapper, o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return err
		}
		live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if ownsReplicas(live, FieldManager) {
			replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
			handover := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(),
				"metadata": map[string]any{"name": o.GetName(), "namespace": o.GetNamespace()},
				"spec":     map[string]any{"replicas": replicas},
			}}
			opts := metav1.ApplyOptions{FieldManager: replicasManager, Force: true}
			if a.DryRun == DryRunServer {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			if _, err := client.Apply(ctx, o.GetName(), handover, opts); err != nil {
				return fmt.Errorf("handing spec.replicas of %s over to its autoscaler: %w", Key(o), err)
			}
		}
		unstructured.RemoveNestedField(o.Object, "spec", "replicas")
	}
	return nil
}

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

// ReclaimVolumes makes this plugin's retained PersistentVolumes in objs
// bindable again when the claim they were bound to is gone (its namespace was
// deleted, say): the volume keeps its data and the environment's new claim binds
// it. Only the stale claim UID is cleared, as the Kubernetes documentation
// describes for reusing a Retain volume.
func (a *Applier) ReclaimVolumes(ctx context.Context, objs []*unstructured.Unstructured) ([]string, error) {
	var reclaimed []string
	for _, o := range objs {
		if o.GetKind() != "PersistentVolume" {
			continue
		}
		client, err := resourceFor(a.Client, a.Mapper, o.GroupVersionKind(), "")
		if err != nil {
			return reclaimed, err
		}
		live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return reclaimed, err
		}
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		uid, _, _ := unstructured.NestedString(live.Object, "spec", "claimRef", "uid")
		if phase != "Released" || uid == "" || !appliedByUs(live) {
			continue
		}
		patch := []byte(`[{"op":"test","path":"/spec/claimRef/uid","value":"` + uid + `"},{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]`)
		opts := metav1.PatchOptions{FieldManager: FieldManager}
		if a.DryRun == DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := client.Patch(ctx, o.GetName(), types.JSONPatchType, patch, opts); err != nil {
			return reclaimed, fmt.Errorf("reclaiming %s for its new claim: %w", Key(o), err)
		}
		reclaimed = append(reclaimed, Key(o))
	}
	return reclaimed, nil
}
