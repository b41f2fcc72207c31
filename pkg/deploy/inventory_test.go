package deploy

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Requirement: prune works from the inventory; an environment deployed by a
// plugin version without one is read from its latest revision's manifests.
func TestInventoryFallsBackToTheLatestRevision(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	inv := &Inventory{Kube: kube, Env: "local", Namespace: "ns"}
	if refs, err := inv.Read(ctx); err != nil || len(refs) != 0 {
		t.Fatalf("new environment: %v %v, want nothing", refs, err)
	}
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n  namespace: ns\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: ns\n"
	store := &revision.Store{Kube: kube, Namespace: "ns"}
	if _, err := store.Record(ctx, revision.Revision{Env: "local", Digest: revision.Digest([]byte(manifest)), Time: time.Now(), Manifest: []byte(manifest)}); err != nil {
		t.Fatal(err)
	}
	refs, err := inv.Read(ctx)
	if err != nil || len(refs) != 2 || refs[0].Name != "old" || refs[1].Kind != "Deployment" {
		t.Fatalf("from the revision: %v %v", refs, err)
	}
	want := []Ref{{"v1", "ConfigMap", "ns", "new"}}
	if err := inv.Write(ctx, want); err != nil {
		t.Fatal(err)
	}
	refs, err = inv.Read(ctx)
	if err != nil || len(refs) != 1 || refs[0] != want[0] {
		t.Fatalf("after write: %v %v, want %v", refs, err, want)
	}
	if got := union(refs, []Ref{{"v1", "ConfigMap", "ns", "new"}, {"v1", "Secret", "ns", "s"}}); len(got) != 2 {
		t.Errorf("union = %v, want 2 distinct refs", got)
	}
}
