package deploy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// ObjectDiff is one object as it is live and as a deploy would leave it.
type ObjectDiff struct {
	Key    string
	Live   []byte // empty when the object does not exist
	Merged []byte // empty when a deploy would prune it
}

// Diff compares each object with what a server-side dry-run apply would make
// of it. Objects whose namespace does not exist yet are shown as rendered.
func (a *Applier) Diff(ctx context.Context, objs []*unstructured.Unstructured) ([]ObjectDiff, error) {
	dry := &Applier{Client: a.Client, Mapper: a.Mapper, DryRun: DryRunServer}
	var diffs []ObjectDiff
	for _, o := range objs {
		client, err := resourceFor(a.Client, a.Mapper, o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return nil, err
		}
		d := ObjectDiff{Key: Key(o)}
		live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			if d.Live, err = yaml.Marshal(Normalize(live).Object); err != nil {
				return nil, err
			}
		}
		merged, _, err := dry.applyOne(ctx, o)
		if apierrors.IsNotFound(err) {
			merged = o // its namespace does not exist yet
		} else if err != nil {
			return nil, err
		}
		if d.Merged, err = yaml.Marshal(Normalize(merged).Object); err != nil {
			return nil, err
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}
