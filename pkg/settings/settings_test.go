package settings

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// Requirement (issue 13): an AWS environment whose settings are still the
// embedded placeholders, or malformed, is named key by key with how to fill it.
func TestCheck(t *testing.T) {
	placeholders := Settings{"env": "prod", "accountId": "111122223333", "region": "us-east-1", "efsFileSystemId": "fs-0123456789abcdef0",
		"inputAccessPointId": "fsap-0000000000000001a", "albName": "layering-detection-alb",
		"certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000002"}
	var keys []string
	for _, p := range Check("prod", placeholders) {
		keys = append(keys, p.Key)
		if !strings.Contains(p.Fix, "kubectl layering settings set --env prod "+p.Key+"=") {
			t.Errorf("%s: fix %q does not say how", p.Key, p.Fix)
		}
	}
	if got := strings.Join(keys, ","); got != "accountId,certificateArn,efsFileSystemId,inputAccessPointId" {
		t.Errorf("placeholders found: %s", got)
	}
	real := Settings{"accountId": "444455556666", "region": "eu-west-1", "efsFileSystemId": "fs-0abc12345def67890",
		"inputAccessPointId": "fsap-0abc12345def67890", "certificateArn": "arn:aws:acm:eu-west-1:444455556666:certificate/1b2c3d4e-0000-4000-8000-123456789abc"}
	if p := Check("prod", real); len(p) != 0 {
		t.Errorf("real values refused: %+v", p)
	}
	if p := Check("prod", Settings{"efsFileSystemId": "efs-1"}); len(p) != 1 || !strings.Contains(p[0].Problem, "not of the form") {
		t.Errorf("malformed value: %+v", p)
	}
	if p := Check("local", Settings{"env": "local"}); len(p) != 0 {
		t.Errorf("the local environment has no AWS settings to fill: %+v", p)
	}
}

// Requirement: unknown keys and malformed values are refused on input.
func TestValidateAndReadFile(t *testing.T) {
	if err := Validate(Settings{"efsId": "fs-1"}); err == nil || !strings.Contains(err.Error(), "settings are accountId") {
		t.Errorf("unknown key: %v", err)
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("region: eu-west-1\nefsFileSystemId: fs-0abc12345def67890\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadFile(path)
	if err != nil || s["region"] != "eu-west-1" {
		t.Errorf("ReadFile: %v %v", s, err)
	}
}

// Requirement: settings are stored in the cluster; re-storing the same values changes nothing.
func TestStoreMerge(t *testing.T) {
	ctx := context.Background()
	st := &Store{Kube: fake.NewClientset(), Namespace: "layering-detection-prod"}
	if changed, err := st.Merge(ctx, "prod", Settings{"region": "eu-west-1"}); err != nil || !changed {
		t.Fatalf("first merge: %v %v", changed, err)
	}
	if changed, err := st.Merge(ctx, "prod", Settings{"albName": "alb-1"}); err != nil || !changed {
		t.Fatalf("second merge: %v %v", changed, err)
	}
	if changed, err := st.Merge(ctx, "prod", Settings{"region": "eu-west-1"}); err != nil || changed {
		t.Errorf("re-storing the same value: changed %v, %v", changed, err)
	}
	got, ok, err := st.Get(ctx)
	if err != nil || !ok || got["region"] != "eu-west-1" || got["albName"] != "alb-1" {
		t.Errorf("stored %v %v %v", got, ok, err)
	}
}

// Requirement (issue 12): Require checks only the named keys (the log
// shipping needs accountId and region, not the EFS ids), each of which must be set.
func TestRequire(t *testing.T) {
	s := Settings{"accountId": "111122223333", "efsFileSystemId": "fs-0123456789abcdef0"}
	got := Require("prod", s, "accountId", "region")
	if len(got) != 2 {
		t.Fatalf("problems %v, want accountId (placeholder) and region (not set)", got)
	}
	byKey := map[string]Problem{}
	for _, p := range got {
		byKey[p.Key] = p
	}
	if !strings.Contains(byKey["accountId"].Problem, "placeholder") || byKey["region"].Problem != "not set" ||
		!strings.Contains(byKey["region"].Fix, "kubectl layering settings set --env prod region=") {
		t.Errorf("problems %+v", got)
	}
	if got := Require("prod", Settings{"accountId": "123456789012", "region": "eu-west-1"}, "accountId", "region"); len(got) != 0 {
		t.Errorf("complete settings: %v", got)
	}
}
