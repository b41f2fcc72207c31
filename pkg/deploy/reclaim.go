package deploy

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// staleClaim returns the UID of the claim a released volume of ours still
// names, or "" when live is not such a volume.
func staleClaim(live *unstructured.Unstructured) string {
	phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
	uid, _, _ := unstructured.NestedString(live.Object, "spec", "claimRef", "uid")
	if phase != "Released" || uid == "" || !appliedByUs(live) {
		return ""
	}
	return uid
}

// ReclaimVolumes makes this plugin's retained PersistentVolumes in objs
// bindable again when the claim they were bound to is gone (its namespace was
// deleted, say): the volume keeps its data and the environment's new claim binds
// it. Only the stale claim UID is cleared, as the Kubernetes documentation
// describes for reusing a Retain volume.
func (a *Applier) ReclaimVolumes(ctx context.Context, objs []*unstructured.Unstructured) ([]string, error) {
	var (
		mu        sync.Mutex
		reclaimed []string
		g, gctx   = errgroup.WithContext(ctx)
	)
	// Concurrently: every deploy, a no-op too, looks at each volume.
	for _, o := range objs {
		if o.GetKind() != "PersistentVolume" {
			continue
		}
		g.Go(func() error {
			done, err := a.reclaim(gctx, o)
			if done {
				mu.Lock()
				reclaimed = append(reclaimed, kube.Key(o))
				mu.Unlock()
			}
			return err
		})
	}
	err := g.Wait()
	sort.Strings(reclaimed)
	return reclaimed, err
}

// reclaim clears the stale claim UID of one volume, if it has one.
func (a *Applier) reclaim(ctx context.Context, o *unstructured.Unstructured) (bool, error) {
	client, err := a.Clients.ResourceFor(o.GroupVersionKind(), "")
	if err != nil {
		return false, err
	}
	live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	uid := staleClaim(live)
	if uid == "" {
		return false, nil
	}
	patch := []byte(`[{"op":"test","path":"/spec/claimRef/uid","value":"` + uid + `"},{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]`)
	opts := metav1.PatchOptions{FieldManager: FieldManager, DryRun: a.applyOptions().DryRun}
	if _, err := client.Patch(ctx, o.GetName(), types.JSONPatchType, patch, opts); err != nil {
		return false, fmt.Errorf("reclaiming %s for its new claim: %w", kube.Key(o), err)
	}
	return true, nil
}
