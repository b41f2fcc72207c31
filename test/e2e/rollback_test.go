//go:build e2e

// `kubectl layering rollback`, `history` and `deploy --atomic` on the local
// cluster (issue 10): all four services and their configuration return to a
// recorded revision together.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// retagImages makes every service image available under a second tag, so a release is real but cheap.
func retagImages(t *testing.T, tag string) {
	t.Helper()
	for _, s := range services {
		retagInRegistry(t, s, tag)
	}
}

// releaseB renders the local environment at another image tag, with
// LOG_LEVEL=DEBUG for the orchestrator (a new generated ConfigMap) and one
// object the embedded manifests do not have: what a later release could bring.
func releaseB(ctx context.Context, t *testing.T, tag string) string {
	t.Helper()
	r := runPlugin(ctx, t, "render", "--env", "local", "--image-tag", tag)
	if r.code != 0 {
		t.Fatalf("render: exit %d %s", r.code, r.stderr)
	}
	y := r.stdout
	i := strings.Index(y, "name: layering-detection-orchestrator-config-")
	if i < 0 {
		t.Fatal("no generated orchestrator ConfigMap in the render")
	}
	oldName := strings.Fields(y[i:])[1]
	y = strings.ReplaceAll(y, oldName, "layering-detection-orchestrator-config-b")
	// In the orchestrator's ConfigMap only, wherever the render lists it.
	docs := strings.Split(y, "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, "kind: ConfigMap") && strings.Contains(d, "name: layering-detection-orchestrator-config-b") {
			docs[i] = strings.Replace(d, "LOG_LEVEL: INFO", "LOG_LEVEL: DEBUG", 1)
		}
	}
	y = strings.Join(docs, "\n---\n")
	if !strings.Contains(y, "LOG_LEVEL: DEBUG") {
		t.Fatal("could not change LOG_LEVEL")
	}
	y += `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: layering-detection-extra-b
  namespace: layering-detection-local
  labels:
    app.kubernetes.io/managed-by: kubectl-layering
    layering-detection.io/environment: local
data:
  only: in revision B
`
	path := filepath.Join(t.TempDir(), "release-b.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// running reports, for every service, the image its ready pods run and, for the
// orchestrator, the log level its running process started with (its own log).
func running(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) (images map[string]string, orchestratorLogLevel string) {
	t.Helper()
	images = map[string]string{}
	for _, s := range services {
		pods, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app.kubernetes.io/name": s}.String()})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase != "Running" {
				continue
			}
			images[s] = p.Spec.Containers[0].Image
			if s == "orchestrator" {
				logs, err := cs.CoreV1().Pods(localNamespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range bytes.Split(logs, []byte("\n")) {
					var l struct {
						Msg      string `json:"message"`
						LogLevel string `json:"log_level"`
					}
					if json.Unmarshal(line, &l) == nil && l.Msg == "starting" {
						orchestratorLogLevel = l.LogLevel
					}
				}
			}
		}
	}
	return images, orchestratorLogLevel
}

type historyEntry struct {
	Number        int      `json:"number"`
	Description   string   `json:"description"`
	Live          bool     `json:"live"`
	ImagesChanged []string `json:"imagesChanged"`
	ConfigChanged bool     `json:"configChanged"`
}

func history(ctx context.Context, t *testing.T) []historyEntry {
	t.Helper()
	r := runPlugin(ctx, t, "history", "--env", "local", "-o", "json")
	var h []historyEntry
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &h) != nil {
		t.Fatalf("history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return h
}

type rollbackResult struct {
	deployResult
	From int `json:"from"`
	To   int `json:"to"`
}

func rollbackJSON(ctx context.Context, t *testing.T, args ...string) (rollbackResult, pluginRun) {
	t.Helper()
	r := runPlugin(ctx, t, append([]string{"rollback", "--env", "local", "-o", "json"}, args...)...)
	var res rollbackResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil && r.code != 2 {
		t.Fatalf("rollback -o json (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return res, r
}

// waitScaledBy waits until the HPA of svc has chosen n replicas and they are available.
func waitScaledBy(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, svc string, n int32) {
	t.Helper()
	name := "layering-detection-" + svc
	patch := []byte(`{"spec":{"minReplicas":` + strconv.Itoa(int(n)) + `}}`)
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(localNamespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "e2e-test"}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == n && d.Status.AvailableReplicas == n, nil
	})
	if err != nil {
		t.Fatalf("the autoscaler did not scale %s to %d: %v", name, n, err)
	}
}

func TestRollbackLocal(t *testing.T) {
	ctx := clusterCtx(t, 20*time.Minute)
	cs := clusterClient(t)
	retagImages(t, "0.1.0-b")

	// Revision A: the embedded manifests.
	a := mustDeployHealthy(ctx, t)
	aImages, aLevel := running(ctx, t, cs)
	if aLevel != "INFO" {
		t.Fatalf("revision A's orchestrator runs at log level %q, want INFO", aLevel)
	}
	// Revision B: every image at another tag, LOG_LEVEL=DEBUG, one extra object.
	b := mustDeployHealthy(ctx, t, "-f", releaseB(ctx, t, "0.1.0-b"))
	if b.Revision <= a.Revision {
		t.Fatalf("revision B = %d after A = %d", b.Revision, a.Revision)
	}
	bImages, bLevel := running(ctx, t, cs)
	if bLevel != "DEBUG" || !strings.HasSuffix(bImages["layering"], ":0.1.0-b") {
		t.Fatalf("revision B runs %v at log level %q: a config-only change must roll the pods", bImages, bLevel)
	}
	// The autoscaler's choice, which a rollback must keep.
	waitScaledBy(ctx, t, cs, "layering", 2)

	t.Run("RollbackReturnsImagesConfigAndObjects", func(t *testing.T) {
		res, r := rollbackJSON(ctx, t)
		if r.code != 0 || !res.Healthy || res.To != a.Revision || res.From != b.Revision {
			t.Fatalf("rollback: exit %d, healthy %v, %d → %d (want %d → %d)\n%s", r.code, res.Healthy, res.From, res.To, b.Revision, a.Revision, r.stderr)
		}
		images, level := running(ctx, t, cs)
		for _, s := range services {
			if images[s] != aImages[s] {
				t.Errorf("%s runs %s after the rollback, want %s", s, images[s], aImages[s])
			}
		}
		if level != "INFO" {
			t.Errorf("the orchestrator process runs at log level %q after the rollback, want A's INFO", level)
		}
		if _, err := cs.CoreV1().ConfigMaps(localNamespace).Get(ctx, "layering-detection-extra-b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("B's extra object survived the rollback: %v", err)
		}
		d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, "layering-detection-layering", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 2 {
			t.Errorf("the autoscaler's replica count did not survive the rollback: %v %v", d.Spec.Replicas, err)
		}
		// verify is the proof the autoscalers read metrics again: the rolled pods' first arrive within ~30 s.
		expectAllPass(ctx, t)
		h := history(ctx, t)
		if len(h) < 3 || h[0].Number != res.Revision || !h[0].Live || h[0].Description != "rollback to "+itoa(a.Revision) ||
			h[1].Number != b.Revision || h[1].Description != "deploy" || len(h[1].ImagesChanged) != 4 || !h[1].ConfigChanged {
			t.Errorf("history: %+v", h)
		}
	})

	t.Run("SecondRollbackWalksBackNotForth", func(t *testing.T) {
		// Live is "rollback to A": the next default target is older than A, never B again.
		res, r := rollbackJSON(ctx, t, "--dry-run=client")
		if r.code == 0 && res.To == b.Revision {
			t.Errorf("a second rollback went back to B (%d): flip-flop", res.To)
		}
		if r.code == 2 && !strings.Contains(r.stderr, "nothing to roll back to") {
			t.Errorf("second rollback: exit 2 without the reason: %s", r.stderr)
		}
	})

	t.Run("ToRevision", func(t *testing.T) {
		res, r := rollbackJSON(ctx, t, "--to-revision", itoa(b.Revision))
		if r.code != 0 || res.To != b.Revision {
			t.Fatalf("rollback --to-revision %d: exit %d\n%s", b.Revision, r.code, r.stderr)
		}
		if _, level := running(ctx, t, cs); level != "DEBUG" {
			t.Errorf("after --to-revision B the orchestrator runs at %q, want DEBUG", level)
		}
		if _, r := rollbackJSON(ctx, t, "--to-revision", "999"); r.code != 2 || !strings.Contains(r.stderr, "no revision 999: the recorded revisions are") {
			t.Errorf("unknown revision: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("AtomicDeployOfAnUnpullableImageRollsBack", func(t *testing.T) {
		before, _ := running(ctx, t, cs)
		// The image's registry is on loopback and refuses: the pull fails without leaving the machine.
		res, r := deployJSON(ctx, t, "--atomic", "--image", "layering=127.0.0.1:9/layering-detection-layering:missing", "--timeout", "2m")
		if r.code != 1 || !strings.Contains(r.stderr, "rolled back to revision") {
			t.Fatalf("deploy --atomic: exit %d, want 1 with the rollback reported\n%s", r.code, r.stderr)
		}
		if res.Rollback == nil || !res.Rollback.Healthy {
			t.Errorf("the result does not report a healthy atomic rollback: %+v", res.Rollback)
		}
		err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
			now, _ := running(ctx, t, cs)
			return now["layering"] == before["layering"], nil
		})
		if err != nil {
			t.Errorf("after the atomic rollback layering does not run its previous image %s", before["layering"])
		}
		if h := history(ctx, t); !strings.HasPrefix(h[0].Description, "atomic rollback after failed deploy of") {
			t.Errorf("history's newest entry is %q", h[0].Description)
		}
	})
	mustDeployHealthy(ctx, t) // leave the embedded manifests deployed for the tests after this one
}

func itoa(n int) string { return strconv.Itoa(n) }
