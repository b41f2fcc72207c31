//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// localRegistry is the local cluster's registry (cluster.sh up starts it and
// pushes bin/images to it, as `make push` does): the local overlay's images live there.
const localRegistry = "localhost:5000"

func registryImage(service, tag string) string {
	return localRegistry + "/layering-detection-" + service + ":" + tag
}

// crane runs the crane the project pins (tools/go.mod) against the local registry.
func crane(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"-C", filepath.Join(clusterRepoRoot(t), "tools"), "tool", "crane"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// retagInRegistry gives a service image a second tag in the registry, so a
// release is real (the node pulls it) but needs no build.
func retagInRegistry(t *testing.T, service, tag string) {
	t.Helper()
	crane(t, "tag", registryImage(service, "0.1.0"), tag)
}

// Requirement (issue 16): the local environment runs images pulled from the
// local registry, the way EKS pulls from ECR: every pod's image resolves to
// the digest the registry serves for its tag.
func TestLocalEnvironmentPullsFromTheRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(platformConfig(t))
	mustDeployHealthy(ctx, t)
	for _, s := range services {
		want := crane(t, "digest", registryImage(s, "0.1.0"))
		// The pods of a replaced ReplicaSet may still be shutting down when the deploy returns.
		var problems []string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + s})
			if err != nil {
				return false, err
			}
			problems = nil
			// The image ID names where the node pulled it from (the status's image
			// field shows any tag the node has for that content).
			for _, p := range pods.Items {
				for i, c := range p.Status.ContainerStatuses {
					if p.Spec.Containers[i].Image != registryImage(s, "0.1.0") || c.ImageID != localRegistry+"/layering-detection-"+s+"@"+want {
						problems = append(problems, p.Name+" runs "+p.Spec.Containers[i].Image+" ("+c.ImageID+")")
					}
				}
			}
			return len(pods.Items) > 0 && len(problems) == 0, nil
		})
		if err != nil {
			t.Errorf("%s: want every pod on %s (%s, as the registry serves it): %v", s, registryImage(s, "0.1.0"), want, problems)
		}
	}
}
