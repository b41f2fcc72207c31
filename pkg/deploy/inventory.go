package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// InventoryName is the ConfigMap in each environment's namespace that lists
// every object releases applied there (ApplySet-style): prune works from it,
// not from guesses over every kind in the cluster.
const InventoryName = "kubectl-layering-inventory"

// Ref identifies one applied object.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r Ref) GVK() schema.GroupVersionKind { return schema.FromAPIVersionAndKind(r.APIVersion, r.Kind) }

// identity ignores the version: the same object served under another version is the same object.
func (r Ref) identity() string {
	return r.GVK().GroupKind().String() + "/" + r.Namespace + "/" + r.Name
}

func refOf(o *unstructured.Unstructured) Ref {
	return Ref{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// RefsOf lists objs as refs.
func RefsOf(objs []*unstructured.Unstructured) []Ref {
	out := make([]Ref, len(objs))
	for i, o := range objs {
		out[i] = refOf(o)
	}
	return out
}

// union is a and b without duplicates, sorted.
func union(a, b []Ref) []Ref {
	seen := map[string]Ref{}
	for _, r := range append(append([]Ref{}, a...), b...) {
		seen[r.identity()] = r
	}
	out := make([]Ref, 0, len(seen))
	for _, r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].identity() < out[j].identity() })
	return out
}

// Inventory reads and writes an environment's inventory.
type Inventory struct {
	Kube      kubernetes.Interface
	Env       string
	Namespace string
}

// Read returns what releases applied to the environment. Environments deployed
// by plugin versions without an inventory fall back to the objects of their
// latest revision's manifests; a new environment has none.
func (inv *Inventory) Read(ctx context.Context) ([]Ref, error) {
	cm, err := inv.Kube.CoreV1().ConfigMaps(inv.Namespace).Get(ctx, InventoryName, metav1.GetOptions{})
	if err == nil {
		var refs []Ref
		if err := json.Unmarshal([]byte(cm.Data["objects"]), &refs); err != nil {
			return nil, fmt.Errorf("the inventory %s/%s is damaged (%v): delete it to fall back to the latest revision", inv.Namespace, InventoryName, err)
		}
		return refs, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the inventory: %w", err)
	}
	store := &revision.Store{Kube: inv.Kube, Namespace: inv.Namespace}
	latest, ok, err := store.Latest(ctx, inv.Env)
	if err != nil || !ok {
		return nil, err
	}
	objs, err := manifests.ObjectsFromYAML(latest.Manifest)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", latest.Number, err)
	}
	return RefsOf(objs), nil
}

// Write replaces the inventory with refs (kept sorted, so an unchanged set is an unchanged ConfigMap).
func (inv *Inventory) Write(ctx context.Context, refs []Ref) error {
	data, err := json.Marshal(union(refs, nil))
	if err != nil {
		return err
	}
	cms := inv.Kube.CoreV1().ConfigMaps(inv.Namespace)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: InventoryName, Namespace: inv.Namespace,
			Labels: map[string]string{revision.LabelManagedBy: revision.ManagedBy, revision.LabelEnvironment: inv.Env}},
		Data: map[string]string{"objects": string(data)},
	}
	live, err := cms.Get(ctx, InventoryName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	case err == nil && live.Data["objects"] == cm.Data["objects"]:
		return nil // unchanged: a no-op deploy writes nothing
	case err == nil:
		live.Data = cm.Data
		_, err = cms.Update(ctx, live, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("writing the inventory: %w", err)
	}
	return nil
}
