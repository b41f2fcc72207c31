package revision

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// Requirement: revisions are numbered, keep the applied manifests, skip an
// unchanged re-deploy, and the history stays bounded to History entries.
func TestRecordNumbersDedupesAndBoundsHistory(t *testing.T) {
	ctx := context.Background()
	s := &Store{Kube: fake.NewSimpleClientset(), Namespace: "layering-detection-local"}
	record := func(manifest string) Revision {
		t.Helper()
		r, err := s.Record(ctx, Revision{Env: "local", Digest: Digest([]byte(manifest)), Time: time.Now(), Manifest: []byte(manifest)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := record("a"); r.Number != 1 {
		t.Fatalf("first revision %d", r.Number)
	}
	if r := record("a"); r.Number != 1 {
		t.Errorf("re-deploying the same manifests recorded revision %d, want 1 again", r.Number)
	}
	for i := 2; i <= History+3; i++ {
		if r := record(fmt.Sprintf("m%d", i)); r.Number != i {
			t.Fatalf("revision %d, want %d", r.Number, i)
		}
	}
	list, err := s.List(ctx, "local", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != History || list[0].Number != History+3 || list[len(list)-1].Number != 4 {
		t.Errorf("history holds %d revisions, %d..%d; want %d, %d..4", len(list), list[0].Number, list[len(list)-1].Number, History, History+3)
	}
	got, err := s.Get(ctx, History+3)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Manifest) != fmt.Sprintf("m%d", History+3) || got.Digest != Digest(got.Manifest) {
		t.Errorf("revision %d manifest %q digest %s", got.Number, got.Manifest, got.Digest)
	}
	if other, _ := s.List(ctx, "prod", false); len(other) != 0 {
		t.Errorf("another environment sees %d revisions", len(other))
	}
}
