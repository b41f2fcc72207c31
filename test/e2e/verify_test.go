//go:build e2e

// `kubectl layering verify` against the local cluster (issue 6): a healthy
// environment passes every check, and each fault is caught by the right check
// with a specific message. Every fault is repaired before the next.
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

type verifyResult struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
}

func runVerify(ctx context.Context, t *testing.T, args ...string) ([]verifyResult, pluginRun) {
	t.Helper()
	// VERIFY_PROBE_IMAGE: a probe image other than the environment's default,
	// such as one built from a branch and imported under its own tag.
	if image := os.Getenv("VERIFY_PROBE_IMAGE"); image != "" {
		args = append(args, "--probe-image", image)
	}
	r := runPlugin(ctx, t, append([]string{"verify", "--env", "local", "-o", "json"}, args...)...)
	var report struct{ Results []verifyResult }
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("verify -o json (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return report.Results, r
}

// expectCaught polls verify until check reports a failure on subject whose
// reason contains want (a controller may take a moment to show the fault).
func expectCaught(ctx context.Context, t *testing.T, check, subject, want string) {
	t.Helper()
	var last []verifyResult
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		results, r := runVerify(ctx, t, "--check", check)
		last = results
		for _, x := range results {
			if x.Status == "fail" && strings.Contains(x.Subject, subject) && strings.Contains(x.Reason, want) {
				if r.code != 1 {
					t.Errorf("verify exited %d with a failure, want 1", r.code)
				}
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("%s did not report %q on %s; last results: %+v", check, want, subject, last)
	}
}

func expectAllPass(ctx context.Context, t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, r := runVerify(ctx, t)
		return r.code == 0, nil
	})
	if err != nil {
		results, r := runVerify(ctx, t)
		t.Fatalf("verify of the repaired environment: exit %d: %+v", r.code, results)
	}
}

func kubectl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("kubectl", append([]string{"--kubeconfig", clusterKubeconfigPath(t)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

func TestVerifyLocal(t *testing.T) {
	ctx := clusterCtx(t, 25*time.Minute)
	cs := clusterClient(t)
	// Pods an earlier test rolled have no metrics for ~30 s: wait for them, so
	// "healthy" includes the autoscalers reading metrics (issue 18).
	mustDeployHealthy(ctx, t, "--wait-for-metrics")

	t.Run("HealthyEnvironmentPassesEverything", func(t *testing.T) {
		start := time.Now()
		results, r := runVerify(ctx, t)
		if r.code != 0 {
			t.Fatalf("exit %d: %+v\n%s", r.code, results, r.stderr)
		}
		seen := map[string]int{}
		for _, x := range results {
			seen[x.Check]++
			if x.Status != "pass" && !(x.Check == "ingress" && x.Status == "skip") {
				t.Errorf("%s %s: %s %s", x.Check, x.Subject, x.Status, x.Reason)
			}
		}
		// 4 Deployments + 4 Services; 3 names; 3 claims + 3 mounts; 2 Secrets; 4 HPAs; no Ingress.
		for check, n := range map[string]int{"probes": 8, "dns": 3, "volumes": 6, "secrets": 2, "scaling": 4, "ingress": 1} {
			if seen[check] != n {
				t.Errorf("%s reported %d results, want %d", check, seen[check], n)
			}
		}
		t.Logf("full verify: %s", time.Since(start))
	})

	t.Run("DeepProvesDataSurvivesAPodRestart", func(t *testing.T) {
		before, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=aggregator"})
		if err != nil {
			t.Fatal(err)
		}
		results, r := runVerify(ctx, t, "--check", "volumes", "--deep")
		if r.code != 0 {
			t.Fatalf("verify --deep: exit %d: %+v", r.code, results)
		}
		persisted := 0
		for _, x := range results {
			if strings.Contains(x.Subject, " persists /app/") && x.Status == "pass" {
				persisted++
			}
		}
		if persisted != 2 {
			t.Errorf("--deep proved persistence of %d volumes, want output and logs: %+v", persisted, results)
		}
		after, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=aggregator"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range after.Items {
			for _, b := range before.Items {
				if p.Name == b.Name && p.DeletionTimestamp == nil {
					t.Errorf("--deep did not restart aggregator pod %s", p.Name)
				}
			}
		}
		expectAllPass(ctx, t)
	})

	t.Run("CrashLoopingPodFailsProbes", func(t *testing.T) {
		kubectl(t, "-n", localNamespace, "set", "env", "deploy/layering-detection-wash-trading", "PORT=not-a-port")
		expectCaught(ctx, t, "probes", "deployment/layering-detection-wash-trading", "CrashLoopBackOff")
		kubectl(t, "-n", localNamespace, "set", "env", "deploy/layering-detection-wash-trading", "PORT-")
		expectAllPass(ctx, t)
	})

	t.Run("SecretMissingAKeyFailsSecrets", func(t *testing.T) {
		patch := []byte(`[{"op":"remove","path":"/data/PSEUDONYMIZATION_SALT"}]`)
		if _, err := cs.CoreV1().Secrets(localNamespace).Patch(ctx, "layering-detection-pseudonymization-salt", types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		expectCaught(ctx, t, "secrets", "secret/layering-detection-pseudonymization-salt", "missing or empty key PSEUDONYMIZATION_SALT")
		results, r := runVerify(ctx, t, "--check", "secrets")
		for _, x := range results {
			if strings.Contains(x.Reason, localSalt) {
				t.Errorf("verify printed a secret value: %+v", x)
			}
		}
		if strings.Contains(r.stderr, localSalt) {
			t.Error("verify printed a secret value on stderr")
		}
		mustDeployHealthy(ctx, t) // server-side apply restores the key
		expectAllPass(ctx, t)
	})

	t.Run("InputMountedReadWriteFailsVolumes", func(t *testing.T) {
		patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/volumeMounts/0/readOnly","value":false},` +
			`{"op":"replace","path":"/spec/template/spec/volumes/1/persistentVolumeClaim/readOnly","value":false}]`
		kubectl(t, "-n", localNamespace, "patch", "deploy/layering-detection-orchestrator", "--type=json", "-p", patch)
		kubectl(t, "-n", localNamespace, "rollout", "status", "deploy/layering-detection-orchestrator", "--timeout=2m")
		expectCaught(ctx, t, "volumes", "readonly /app/input", "the mount is writable")
		mustDeployHealthy(ctx, t)
		expectAllPass(ctx, t)
	})

	t.Run("OutputNotWritableByUID1000FailsVolumes", func(t *testing.T) {
		dir := localVolumes + "/output"
		if err := os.Chown(dir, 0, 0); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Chown(dir, 1000, 1000); err != nil {
				t.Fatal(err)
			}
		}()
		expectCaught(ctx, t, "volumes", "writable /app/output", "cannot write as uid 1000")
	})

	t.Run("CoreDNSScaledToZeroFailsDNS", func(t *testing.T) {
		scaleKubeSystem(ctx, t, cs, "coredns", 0)
		defer scaleKubeSystem(ctx, t, cs, "coredns", 1)
		expectCaught(ctx, t, "dns", "dns layering-service:8001", "does not resolve")
	})

	t.Run("MetricsServerStoppedFailsScaling", func(t *testing.T) {
		scaleKubeSystem(ctx, t, cs, "metrics-server", 0)
		defer scaleKubeSystem(ctx, t, cs, "metrics-server", 1)
		expectCaught(ctx, t, "scaling", "hpa/layering-detection-orchestrator", "no current CPU and memory metrics")
	})

	t.Run("PVCDeletedFailsVolumes", func(t *testing.T) {
		if err := cs.CoreV1().PersistentVolumeClaims(localNamespace).Delete(ctx, "logs-pvc", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		expectCaught(ctx, t, "volumes", "pvc/logs-pvc", "being deleted")
		// Repair: the aggregator lets go of the claim, deploy recreates it and rebinds the retained volume.
		kubectl(t, "-n", localNamespace, "delete", "pods", "-l", "app.kubernetes.io/name=aggregator", "--wait=false")
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().PersistentVolumeClaims(localNamespace).Get(ctx, "logs-pvc", metav1.GetOptions{})
			return err != nil, nil
		})
		if err != nil {
			t.Fatalf("logs-pvc not gone: %v", err)
		}
		mustDeployHealthy(ctx, t)
		expectAllPass(ctx, t)
	})
}

func scaleKubeSystem(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, name string, replicas int32) {
	t.Helper()
	scale, err := cs.AppsV1().Deployments("kube-system").GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = replicas
	if _, err := cs.AppsV1().Deployments("kube-system").UpdateScale(ctx, name, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if replicas == 0 {
		return
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("%s not back: %v", name, err)
	}
}
