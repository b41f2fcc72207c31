//go:build e2e

// The deploy step of the CI/CD workflow (.github/workflows/deploy-env.yml runs
// .github/scripts/deploy.sh) run against the local cluster, issue 16: the same
// script and commands, with local values.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Requirement: the workflow's deploy step deploys a tag and verifies the
// environment; a tag whose images do not exist fails the step (so the next
// environment is not deployed) after --atomic rolled the environment back to
// what it ran, and verify is not reached.
func TestWorkflowDeployStepLocal(t *testing.T) {
	ctx := clusterCtx(t, 10*time.Minute)
	cs := clusterClient(t)
	tag := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(clusterRepoRoot(t), "VERSION")))))

	out, err := deployStep(ctx, t, tag)
	if err != nil {
		t.Fatalf("deploy.sh local %s: %v\n%s", tag, err, out)
	}
	for _, want := range []string{"+ kubectl layering deploy --env local --image-tag " + tag + " --atomic", "+ kubectl layering verify --env local"} {
		if !strings.Contains(out, want) {
			t.Errorf("the step did not run %q:\n%s", want, out)
		}
	}
	assertImageTag(ctx, t, cs, tag)
	t.Logf("deploy.sh local %s:\n%s", tag, out)

	missing := "missing-" + clusterSuffix()
	out, err = deployStep(ctx, t, missing)
	if exitCode(err) != 1 {
		t.Fatalf("deploy.sh local %s: %v, want exit 1 (the deploy failed)\n%s", missing, err, out)
	}
	if !strings.Contains(out, "rolled back to revision") {
		t.Errorf("the failed step does not report the rollback:\n%s", out)
	}
	if strings.Contains(out, "+ kubectl layering verify") {
		t.Errorf("verify ran after a failed deploy:\n%s", out)
	}
	assertImageTag(ctx, t, cs, tag)
	t.Logf("deploy.sh local %s:\n%s", missing, out)
}

// deployStep runs the workflow's deploy script for the local environment with
// the plugin on PATH, as the workflow does after `make build`.
func deployStep(ctx context.Context, t *testing.T, tag string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(clusterRepoRoot(t), ".github", "scripts", "deploy.sh"), "local", tag)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(plugin(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+clusterKubeconfigPath(t))
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func assertImageTag(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, tag string) {
	t.Helper()
	for _, s := range services {
		d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, "layering-detection-"+s, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":"+tag) {
			t.Errorf("%s runs %s, want tag %s", s, img, tag)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
