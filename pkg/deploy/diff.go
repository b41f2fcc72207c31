package deploy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubectldiff "k8s.io/kubectl/pkg/cmd/diff"
	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// ObjectDiff is one object as it is live and as a deploy would leave it.
type ObjectDiff struct {
	Key    string
	Live   []byte // empty when the object does not exist
	Merged []byte // empty when a deploy would prune it
}

// Diff compares each object with what a server-side dry-run apply would make
// of it, and lists what a deploy would prune (live, and nothing after).
// Objects whose namespace does not exist yet are shown as rendered. Secret
// values are masked exactly as kubectl diff masks them.
func (a *Applier) Diff(ctx context.Context, objs []*unstructured.Unstructured, pruned []*unstructured.Unstructured) ([]ObjectDiff, error) {
	dry := &Applier{Clients: a.Clients, DryRun: DryRunServer}
	var diffs []ObjectDiff
	for _, o := range objs {
		client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return nil, err
		}
		live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			live = nil
		} else if err != nil {
			return nil, err
		}
		merged, _, err := dry.applyOne(ctx, o)
		if apierrors.IsNotFound(err) {
			merged = o // its namespace does not exist yet
		} else if err != nil {
			return nil, err
		}
		d, err := objectDiff(kube.Key(o), live, merged)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	for _, o := range pruned {
		d, err := objectDiff(kube.Key(o), o, nil)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// objectDiff renders both sides as YAML, with server bookkeeping removed and
// Secret values masked; nil is an absent side.
func objectDiff(key string, live, merged *unstructured.Unstructured) (ObjectDiff, error) {
	from, to := side(live), side(merged)
	if isSecret(live) || isSecret(merged) {
		var err error
		if from, to, err = maskSecrets(from, to); err != nil {
			return ObjectDiff{}, err
		}
	}
	d := ObjectDiff{Key: key}
	var err error
	if from != nil {
		if d.Live, err = yaml.Marshal(from.Object); err != nil {
			return d, err
		}
	}
	if to != nil {
		if d.Merged, err = yaml.Marshal(to.Object); err != nil {
			return d, err
		}
	}
	return d, nil
}

func side(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o == nil {
		return nil
	}
	return kube.Normalize(o)
}

func isSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetAPIVersion() == "v1" && o.GetKind() == "Secret"
}

// maskSecrets masks data as kubectl diff's Masker does ("***", "*** (before)",
// "*** (after)"), and also what the Masker does not cover but can hold a value:
// stringData (a rendered Secret before the server merges it into data) and a
// client-side apply's last-applied-configuration annotation.
func maskSecrets(from, to *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured, error) {
	for _, o := range []*unstructured.Unstructured{from, to} {
		if o == nil {
			continue
		}
		if sd, ok, _ := unstructured.NestedMap(o.Object, "stringData"); ok {
			data, _, _ := unstructured.NestedMap(o.Object, "data")
			if data == nil {
				data = map[string]any{}
			}
			for k := range sd {
				data[k] = "stringData:" + k // masked below; the name shows where it came from
			}
			unstructured.RemoveNestedField(o.Object, "stringData")
			_ = unstructured.SetNestedMap(o.Object, data, "data")
		}
		if ann := o.GetAnnotations(); ann["kubectl.kubernetes.io/last-applied-configuration"] != "" {
			ann["kubectl.kubernetes.io/last-applied-configuration"] = "***"
			o.SetAnnotations(ann)
		}
	}
	m, err := kubectldiff.NewMasker(asObject(from), asObject(to))
	if err != nil {
		return nil, nil, err
	}
	return asUnstructured(m.From()), asUnstructured(m.To()), nil
}

// asObject keeps an absent side an untyped nil, which the Masker expects.
func asObject(o *unstructured.Unstructured) runtime.Object {
	if o == nil {
		return nil
	}
	return o
}

func asUnstructured(o runtime.Object) *unstructured.Unstructured {
	u, _ := o.(*unstructured.Unstructured)
	return u
}
