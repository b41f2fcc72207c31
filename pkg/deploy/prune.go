package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// pruneCandidates are the inventoried objects that keep no longer contains.
// Namespaces are never pruned: they hold the environment's history.
func pruneCandidates(inventory []Ref, keep []*unstructured.Unstructured) []Ref {
	kept := map[string]bool{}
	for _, o := range keep {
		kept[refOf(o).identity()] = true
	}
	var out []Ref
	for _, r := range inventory {
		if !kept[r.identity()] && r.Kind != "Namespace" {
			out = append(out, r)
		}
	}
	return out
}

// prunable tells whether a live object may be deleted by a release of env:
// only what this plugin applied to that environment, never a look-alike
// someone else made or took over.
func prunable(live *unstructured.Unstructured, env string) bool {
	return live.GetLabels()[revision.LabelEnvironment] == env && appliedByUs(live)
}

func appliedByUs(o *unstructured.Unstructured) bool {
	for _, f := range o.GetManagedFields() {
		if f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// Prunable returns the live objects a release of env would delete: the
// inventoried ones that are not in keep and still ours.
func (a *Applier) Prunable(ctx context.Context, env string, inventory []Ref, keep []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, r := range pruneCandidates(inventory, keep) {
		client, err := a.Clients.ResourceFor(r.GVK(), r.Namespace)
		if err != nil {
			continue // the cluster no longer serves the kind, so nothing of it exists
		}
		live, err := client.Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", r.identity(), err)
		}
		if prunable(live, env) {
			out = append(out, live)
		}
	}
	return out, nil
}

// Prune deletes objs (from Prunable) and returns their keys.
func (a *Applier) Prune(ctx context.Context, objs []*unstructured.Unstructured) ([]string, error) {
	opts := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground), DryRun: a.applyOptions().DryRun}
	var pruned []string
	var errs []error
	for _, o := range objs {
		client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
		if err == nil {
			err = client.Delete(ctx, o.GetName(), opts)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("pruning %s: %w", kube.Key(o), err))
			continue
		}
		pruned = append(pruned, kube.Key(o))
	}
	sort.Strings(pruned)
	return pruned, errors.Join(errs...)
}
