package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

type result struct {
	stdout, stderr string
	code           int
}

// run runs the plugin in-process, as main does, with test streams.
func run(t *testing.T, args ...string) result {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := Execute(context.Background(), streams, args)
	return result{out.String(), errOut.String(), code}
}

// Requirement: `envs -o json` prints [{"name": …, "namespace": …}] for every environment.
func TestEnvsJSON(t *testing.T) {
	r := run(t, "envs", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var envs []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &envs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, e := range envs {
		if len(e) != 2 {
			t.Errorf("entry %v has fields other than name and namespace", e)
		}
		got[e["name"]] = e["namespace"]
	}
	for _, env := range []string{"dev", "staging", "prod", "local"} {
		if got[env] != "layering-detection-"+env {
			t.Errorf("env %s: namespace %q", env, got[env])
		}
	}
}

// Requirement: `render --env prod` prints the complete environment as YAML.
func TestRenderProd(t *testing.T) {
	r := run(t, "render", "--env", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"kind: Namespace", "name: layering-detection-prod", "kind: Deployment", "kind: ExternalSecret", "kind: Ingress", "kind: HorizontalPodAutoscaler"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("render output lacks %q", want)
		}
	}
}

// Requirement: an unknown env is a clear error that lists the known ones, exit 2, nothing on stdout.
func TestUnknownEnvIsAClearError(t *testing.T) {
	r := run(t, "render", "--env", "qa")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if r.stdout != "" {
		t.Errorf("printed to stdout: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, `unknown environment "qa"`) || !strings.Contains(r.stderr, "dev, local, prod, staging") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if r := run(t, "envs", "-o", "xml"); r.code != 2 || !strings.Contains(r.stderr, "json, yaml") {
		t.Errorf("unknown -o: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, "render", "--bogus"); r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --bogus") {
		t.Errorf("unknown flag: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Requirement: the standard kubectl flags, help with examples, and shell completion of --env.
func TestStandardFlagsHelpAndCompletion(t *testing.T) {
	help := run(t, "--help").stdout
	for _, flag := range []string{"--kubeconfig", "--context", "-n, --namespace", "Examples:", "kubectl layering render --env prod"} {
		if !strings.Contains(help, flag) {
			t.Errorf("--help lacks %q", flag)
		}
	}
	r := run(t, "__complete", "render", "--env", "")
	for _, env := range []string{"dev", "staging", "prod", "local"} {
		if !strings.Contains(r.stdout, env+"\n") {
			t.Errorf("completion of --env lacks %s: %q", env, r.stdout)
		}
	}
	if r := run(t, "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Errorf("completion bash: exit %d", r.code)
	}
}

// Requirement: colour only on a terminal: piped output carries no escape codes.
func TestNoColourWhenPiped(t *testing.T) {
	r := run(t, "envs")
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("escape codes in piped output: %q", r.stdout)
	}
}

// Requirement: a wrong kubeconfig or an unreachable API server is a clear
// error (what is wrong, what to check), exit 2, and nothing is attempted.
func TestDeployWithoutACluster(t *testing.T) {
	r := run(t, "deploy", "--env", "local", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if r.code != 2 || !strings.Contains(r.stderr, "kubeconfig") || !strings.Contains(r.stderr, "--context") {
		t.Errorf("missing kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(bad, []byte("this: is: not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "deploy", "--env", "local", "--kubeconfig", bad); r.code != 2 || !strings.Contains(r.stderr, "kubeconfig") {
		t.Errorf("malformed kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
	// A port nothing listens on: refused at once.
	r = run(t, "deploy", "--env", "local", "--server", "https://127.0.0.1:9", "--insecure-skip-tls-verify")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot reach the Kubernetes API server at https://127.0.0.1:9") {
		t.Errorf("unreachable server: exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("unreachable server: printed %q", r.stdout)
	}
}

// Requirement: `latest` or an untagged image is refused for prod, before any cluster is contacted.
func TestProdRefusesUnpinnedImages(t *testing.T) {
	for _, args := range [][]string{
		{"--image-tag", "latest"},
		{"--image", "orchestrator=registry.example/layering-detection-orchestrator"},
	} {
		r := run(t, append([]string{"deploy", "--env", "prod", "--dry-run=client"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "prod refuses untagged or latest images") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	r := run(t, "deploy", "--env", "prod", "--dry-run=client", "--image-tag", "1.4.2", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "layering-detection-orchestrator:1.4.2") {
		t.Errorf("pinned tag: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "deploy", "--env", "dev", "--dry-run=client", "--image-tag", "latest"); r.code != 0 {
		t.Errorf("dev may run latest: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, "deploy", "--env", "prod", "--dry-run=client", "--image", "billing=x:1"); r.code != 2 || !strings.Contains(r.stderr, `unknown service "billing"`) {
		t.Errorf("unknown service: exit %d, stderr %q", r.code, r.stderr)
	}
}
