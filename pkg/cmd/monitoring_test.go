package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Requirement (issue 12): the log shipping renders with the environment's
// accountId (its IRSA role) and region, and carries the release labels that
// let deploy prune only its own objects.
func TestRenderMonitoringTakesTheEnvironmentsSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(file, []byte("accountId: \"123456789012\"\nregion: eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "render", "--monitoring", "--env", "prod", "--settings", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/layering-detection-fluent-bit",
		"value: eu-west-1",
		"layering-detection.io/environment: monitoring",
		"app.kubernetes.io/managed-by: kubectl-layering",
		"kind: DaemonSet",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("render --monitoring lacks %q", want)
		}
	}
}

// Requirement (issue 12): deploy --monitoring refuses, before any cluster is
// contacted, an environment whose accountId or region is missing or a
// placeholder, naming each key and how to set it (exit 2).
func TestDeployMonitoringRefusesMissingOrPlaceholderSettings(t *testing.T) {
	r := run(t, "deploy", "--monitoring", "--env", "local", "--dry-run=client")
	if r.code != 2 || !strings.Contains(r.stderr, "the log shipping (--monitoring) cannot be deployed") ||
		!strings.Contains(r.stderr, "accountId: not set") || !strings.Contains(r.stderr, "kubectl layering settings set --env local accountId=") ||
		!strings.Contains(r.stderr, "region: not set") {
		t.Errorf("local without settings: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "deploy", "--monitoring", "--env", "prod", "--dry-run=client")
	if r.code != 2 || !strings.Contains(r.stderr, `accountId: still the placeholder "111122223333"`) {
		t.Errorf("prod's embedded placeholder: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, "deploy", "--monitoring", "--env", "prod", "--image-tag", "1.0.0"); r.code != 2 || !strings.Contains(r.stderr, "--image-tag and --image") {
		t.Errorf("--monitoring with --image-tag: exit %d, stderr %q", r.code, r.stderr)
	}
}
