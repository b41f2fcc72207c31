package rollback

import (
	"errors"
	"strings"
	"testing"

	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

func rev(n int, digest string, rollbackOf int) revision.Revision {
	return revision.Revision{Number: n, Digest: digest, RollbackOf: rollbackOf}
}

// Requirement (issue 10): the default target walks back; two rollbacks in a row
// go two steps back and never flip-flop; --to-revision is exact; bad targets are clear errors.
func TestTarget(t *testing.T) {
	// 1 A, 2 B, 3 C deployed; then rollbacks.
	history := []revision.Revision{rev(3, "C", 0), rev(2, "B", 0), rev(1, "A", 0)}
	for _, tc := range []struct {
		name string
		revs []revision.Revision
		to   int
		want int
		err  any
	}{
		{"one step back from a deploy", history, 0, 2, nil},
		{"second rollback goes further back, not back to C", append([]revision.Revision{rev(4, "B", 2)}, history...), 0, 1, nil},
		{"third rollback: nothing older than A", append([]revision.Revision{rev(5, "A", 1), rev(4, "B", 2)}, history...), 0, 0, &NoEarlierRevisionError{}},
		{"skips revisions with the live manifests", []revision.Revision{rev(3, "B", 0), rev(2, "B", 0), rev(1, "A", 0)}, 0, 1, nil},
		{"explicit revision", history, 3, 3, nil},
		{"explicit forward after a rollback", append([]revision.Revision{rev(4, "B", 2)}, history...), 3, 3, nil},
		{"unknown revision", history, 9, 0, &UnknownRevisionError{}},
		{"no history", nil, 0, 0, &NoEarlierRevisionError{}},
		{"only one revision", []revision.Revision{rev(1, "A", 0)}, 0, 0, &NoEarlierRevisionError{}},
	} {
		got, err := Target("prod", tc.revs, tc.to)
		switch want := tc.err.(type) {
		case nil:
			if err != nil || got.Number != tc.want {
				t.Errorf("%s: got %d, %v; want %d", tc.name, got.Number, err, tc.want)
			}
		case *NoEarlierRevisionError:
			if !errors.As(err, &want) {
				t.Errorf("%s: err %v, want no earlier revision", tc.name, err)
			}
		case *UnknownRevisionError:
			if !errors.As(err, &want) || len(want.Have) != 3 {
				t.Errorf("%s: err %v, want unknown revision listing 3, 2, 1", tc.name, err)
			}
		}
	}
}

const manifestA = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg-aaa, namespace: ns}
data: {LOG_LEVEL: INFO}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  template:
    spec:
      containers: [{name: web, image: "web:1", envFrom: [{configMapRef: {name: cfg-aaa}}]}]
`

// Requirement (issue 10): history says which services' images changed and whether anything else did.
func TestHistoryChanges(t *testing.T) {
	imageOnly := []byte(replace(manifestA, `web:1`, `web:2`))
	config := []byte(replace(string(imageOnly), `cfg-aaa`, `cfg-bbb`))
	revs := []revision.Revision{
		{Number: 3, Images: map[string]string{"web": "web:2"}, Manifest: config, Description: "deploy"},
		{Number: 2, Images: map[string]string{"web": "web:2"}, Manifest: imageOnly},
		{Number: 1, Images: map[string]string{"web": "web:1"}, Manifest: []byte(manifestA)},
	}
	h := NewHistory(revs)
	if !h[0].Live || h[1].Live || h[2].Live {
		t.Error("only the newest revision is live")
	}
	if h[0].ConfigChanged != true || len(h[0].ImagesChanged) != 0 {
		t.Errorf("3: config changed %v, images %v; want config only", h[0].ConfigChanged, h[0].ImagesChanged)
	}
	if h[1].ConfigChanged || len(h[1].ImagesChanged) != 1 || h[1].ImagesChanged[0] != "web" {
		t.Errorf("2: config changed %v, images %v; want image of web only", h[1].ConfigChanged, h[1].ImagesChanged)
	}
	if h[1].Description != "deploy" {
		t.Errorf("a revision recorded before descriptions existed shows %q, want deploy", h[1].Description)
	}
}

func replace(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
