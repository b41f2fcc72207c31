//go:build e2e

// `kubectl layering deploy` against the local cluster (issue 5), run through
// the real binary as an operator would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

var (
	pluginOnce sync.Once
	pluginPath string
	pluginErr  error
)

// plugin builds bin-less kubectl-layering once for the e2e run.
func plugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kubectl-layering-e2e")
		if err != nil {
			pluginErr = err
			return
		}
		pluginPath = filepath.Join(dir, "kubectl-layering")
		build := exec.Command("go", "build", "-o", pluginPath, "./cmd/kubectl-layering")
		build.Dir = clusterRepoRoot(t)
		if out, err := build.CombinedOutput(); err != nil {
			pluginErr = errors.New(string(out))
		}
	})
	if pluginErr != nil {
		t.Fatalf("building the plugin: %v", pluginErr)
	}
	return pluginPath
}

type pluginRun struct {
	stdout, stderr string
	code           int
}

func runPlugin(ctx context.Context, t *testing.T, args ...string) pluginRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, plugin(t), append(args, "--kubeconfig", clusterKubeconfigPath(t))...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return pluginRun{out.String(), errOut.String(), code}
}

// startPlugin starts a deploy and returns once its stderr shows it is waiting for health.
func startPlugin(ctx context.Context, t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, plugin(t), append(args, "--kubeconfig", clusterKubeconfigPath(t))...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "deployment/") {
				once.Do(func() { close(waiting) })
			}
		}
	}()
	select {
	case <-waiting:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("deploy never started waiting:\n%s", errOut.String())
	}
	return cmd, &out, &errOut
}

func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func deleteNamespace(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns string) {
	t.Helper()
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("namespace %s not gone: %v", ns, err)
	}
}

// deployResult is the part of `deploy -o json` the tests read.
type deployResult struct {
	Healthy  bool     `json:"healthy"`
	Revision int      `json:"revision"`
	Pruned   []string `json:"pruned"`
	Objects  []struct {
		Object string `json:"object"`
		Action string `json:"action"`
	} `json:"objects"`
	Failures []deploy.Failure `json:"failures"`
	Error    string           `json:"error"`
	Rollback *deployResult    `json:"rollback"`
}

func deployJSON(ctx context.Context, t *testing.T, args ...string) (deployResult, pluginRun) {
	t.Helper()
	r := runPlugin(ctx, t, append([]string{"deploy", "--env", "local", "-o", "json"}, args...)...)
	var res deployResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("deploy -o json (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return res, r
}

func mustDeployHealthy(ctx context.Context, t *testing.T, args ...string) deployResult {
	t.Helper()
	res, r := deployJSON(ctx, t, args...)
	if r.code != 0 || !res.Healthy {
		t.Fatalf("deploy %v: exit %d, healthy %v\n%s", args, r.code, res.Healthy, r.stderr)
	}
	return res
}

// Requirement: re-deploying unchanged manifests changes nothing: every object
// is reported unchanged, no object's spec (generation) changes, and no object
// without a status (ConfigMaps, Secrets, Services, accounts, volumes) gets a new resourceVersion.
func testRedeployIsANoOp(ctx context.Context, t *testing.T, cfg *rest.Config) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	applier := platformApplier(t, cfg, deploy.DryRunNone)
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, o := range renderEnv(t, "local") {
			gvk := o.GroupVersionKind()
			m, err := applier.Clients.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatal(err)
			}
			live, err := dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			version := "resourceVersion " + live.GetResourceVersion()
			switch o.GetKind() {
			case "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget":
				// Controllers rewrite their status all the time; their spec is what deploy must not touch.
				version = "generation " + strconv.FormatInt(live.GetGeneration(), 10)
			}
			out[kube.Key(o)] = version
		}
		return out
	}
	before := snapshot()
	revisions := func() int {
		list, err := clusterClient(t).CoreV1().Secrets(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "layering-detection.io/revision"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	revisionsBefore := revisions()
	res := mustDeployHealthy(ctx, t)
	if n := revisions(); n != revisionsBefore || res.Revision != 1 {
		t.Errorf("a no-op re-deploy recorded a revision: %d -> %d, reported revision %d", revisionsBefore, n, res.Revision)
	}
	for _, o := range res.Objects {
		if o.Action != "unchanged" {
			t.Errorf("re-deploy: %s %s, want unchanged", o.Object, o.Action)
		}
	}
	if len(res.Pruned) > 0 {
		t.Errorf("re-deploy pruned %v", res.Pruned)
	}
	after := snapshot()
	for key, v := range before {
		if after[key] != v {
			t.Errorf("re-deploy changed %s: %s -> %s", key, v, after[key])
		}
	}
}

// Requirement: an image change rolls out, and the replica count the HPA owns is left alone.
func testImageChangeRollsOut(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	// A second tag of the same image in the registry, so that the rollout is real but cheap.
	retagInRegistry(t, "orchestrator", "0.1.0-e2e")
	const name = "layering-detection-orchestrator"
	// The autoscaler itself chooses 2 replicas (its minimum raised for the
	// test): faking its choice with a scale update races the real HPA, which
	// scales back to what its own recommendations say.
	patch := []byte(`{"spec":{"minReplicas":2}}`)
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(localNamespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "e2e-test"}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 2 && d.Status.AvailableReplicas == 2, nil
	})
	if err != nil {
		t.Fatalf("the autoscaler did not scale %s to its raised minimum of 2: %v", name, err)
	}

	res := mustDeployHealthy(ctx, t, "--image", "orchestrator="+registryImage("orchestrator", "0.1.0-e2e"))
	d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != registryImage("orchestrator", "0.1.0-e2e") {
		t.Errorf("image = %s after the change", got)
	}
	if !deploymentAvailable(d) || d.Status.UpdatedReplicas != *d.Spec.Replicas {
		t.Errorf("rollout not complete: %+v", d.Status)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("deploy reset the autoscaler's replica count to %d, want 2", *d.Spec.Replicas)
	}
	if res.Revision < 2 {
		t.Errorf("revision %d after a second deploy", res.Revision)
	}
	mustDeployHealthy(ctx, t) // back to the manifests' image
}

// Requirement: an object a previous deploy applied and the manifests no longer
// contain is pruned; a foreign object with the same labels survives.
func testPrune(ctx context.Context, t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset) {
	labels := map[string]any{"app.kubernetes.io/managed-by": "kubectl-layering", "layering-detection.io/environment": "local"}
	obsolete := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "layering-detection-obsolete", "namespace": localNamespace, "labels": labels},
		"data":     map[string]any{"from": "an earlier version of the manifests"},
	}}
	if _, err := platformApplier(t, cfg, deploy.DryRunNone).Apply(ctx, []*unstructured.Unstructured{obsolete}); err != nil {
		t.Fatal(err)
	}
	// Inventoried, as the release that applied it left it; the look-alike too,
	// to prove that being listed is not enough to be deleted.
	inventoryAdd(ctx, t, cs,
		deploy.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: localNamespace, Name: obsolete.GetName()},
		deploy.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: localNamespace, Name: "layering-detection-foreign"})
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "layering-detection-foreign", Namespace: localNamespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-layering", "layering-detection.io/environment": "local"}}}
	if _, err := cs.CoreV1().ConfigMaps(localNamespace).Create(ctx, foreign, metav1.CreateOptions{FieldManager: "someone-else"}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().ConfigMaps(localNamespace).Delete(context.Background(), foreign.Name, metav1.DeleteOptions{})
	})

	res := mustDeployHealthy(ctx, t)
	if len(res.Pruned) != 1 || res.Pruned[0] != "configmap/layering-detection-obsolete" {
		t.Errorf("pruned %v, want [configmap/layering-detection-obsolete]", res.Pruned)
	}
	if _, err := cs.CoreV1().ConfigMaps(localNamespace).Get(ctx, obsolete.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the obsolete ConfigMap survived: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(localNamespace).Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the foreign ConfigMap was pruned: %v", err)
	}
}

// Requirement: a broken image fails the deploy within the timeout, naming the
// Deployment and the container's reason; the running version keeps serving.
// Requirement (issue 16): a tag never pushed to the registry fails with the pull's reason.
func testBrokenImage(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	start := time.Now()
	res, r := deployJSON(ctx, t, "--timeout", "2m", "--image", "aggregator="+registryImage("aggregator", "0.0.0-never-pushed"))
	if r.code != 1 || res.Healthy {
		t.Fatalf("deploy of a missing image: exit %d, healthy %v\n%s", r.code, res.Healthy, r.stderr)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Minute+15*time.Second {
		t.Errorf("failed after %s, past its 2m timeout", elapsed)
	}
	found := false
	for _, f := range res.Failures {
		if f.Object == "deployment/layering-detection-aggregator" &&
			(strings.Contains(f.Reason, "ErrImagePull") || strings.Contains(f.Reason, "ImagePullBackOff")) &&
			strings.Contains(f.Reason, "0.0.0-never-pushed") && strings.Contains(f.Reason, "not found") {
			found = true
		}
	}
	if !found {
		t.Errorf("failures do not name the aggregator's image pull: %+v", res.Failures)
	}
	if !strings.Contains(r.stderr, "layering-detection-aggregator") {
		t.Errorf("stderr does not name the failing Deployment:\n%s", r.stderr)
	}
	d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, "layering-detection-aggregator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas < 1 {
		t.Error("the broken rollout took the running aggregator down (maxUnavailable must be 0)")
	}
	mustDeployHealthy(ctx, t) // repair
}

// Requirement: while one deploy runs, a second to the same environment fails at
// once naming the holder; Ctrl-C stops the first cleanly, says what was applied,
// releases the lease, and a re-run converges.
func testConcurrentDeploys(ctx context.Context, t *testing.T) {
	// The pause image never answers /health: this deploy waits until interrupted.
	first, out, errOut := startPlugin(ctx, t, "deploy", "--env", "local", "--timeout", "5m", "-o", "json",
		"--image", "orchestrator=registry.k8s.io/pause:3.10")

	second := runPlugin(ctx, t, "deploy", "--env", "local")
	if second.code != 2 || !strings.Contains(second.stderr, "another deploy or rollback holds this environment") ||
		!strings.Contains(second.stderr, "pid "+strconv.Itoa(first.Process.Pid)) {
		t.Errorf("second deploy: exit %d, stderr:\n%s", second.code, second.stderr)
	}

	if err := first.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 {
			t.Errorf("interrupted deploy exited %d, want 130\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		_ = first.Process.Kill()
		t.Fatal("deploy did not stop within 30s of Ctrl-C")
	}
	var res deployResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("the interrupted deploy printed no result: %v\n%s", err, out.String())
	}
	applied := 0
	for _, o := range res.Objects {
		if o.Action != "not applied" {
			applied++
		}
	}
	if applied == 0 || !strings.Contains(res.Error, "interrupted") {
		t.Errorf("interrupted deploy reports %d objects applied, error %q", applied, res.Error)
	}
	lease, err := clusterClient(t).CoordinationV1().Leases(localNamespace).Get(ctx, deploy.LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("the lease is still held by %s after Ctrl-C", *lease.Spec.HolderIdentity)
	}
	mustDeployHealthy(ctx, t) // a re-run converges
}

// Requirement: a missing prerequisite fails preflight, names it with how to
// install it, and writes nothing.
func TestDeployPreflightMissingPrerequisites(t *testing.T) {
	ctx := clusterCtx(t, 2*time.Minute)
	// Issue 13: with the embedded placeholders, deploy is refused before anything, naming each value.
	r := runPlugin(ctx, t, "deploy", "--env", "dev")
	if r.code != 2 || !strings.Contains(r.stderr, "settings are incomplete (nothing was applied)") ||
		!strings.Contains(r.stderr, `efsFileSystemId: still the placeholder "fs-0123456789abcdef0"`) {
		t.Errorf("deploy with placeholder settings: exit %d\n%s", r.code, r.stderr)
	}
	// Well-formed settings for this run: preflight is what stops it now.
	settingsFile := filepath.Join(t.TempDir(), "dev.yaml")
	if err := os.WriteFile(settingsFile, []byte("accountId: \"444455556666\"\nefsFileSystemId: fs-0abc12345def67890\n"+
		"inputAccessPointId: fsap-0abc12345def67891\noutputAccessPointId: fsap-0abc12345def67892\nlogsAccessPointId: fsap-0abc12345def67893\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runPlugin(ctx, t, "deploy", "--env", "dev", "--settings", settingsFile)
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	for _, want := range []string{"preflight failed, nothing was applied", "CSI driver efs.csi.aws.com", "aws-efs-csi-driver", "IngressClass alb", "AWS Load Balancer Controller"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	dyn, err := dynamic.NewForConfig(platformConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, gvr := range []schema.GroupVersionResource{{Version: "v1", Resource: "namespaces"}, {Version: "v1", Resource: "persistentvolumes"}} {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: "layering-detection.io/environment=dev"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 {
			t.Errorf("preflight failure wrote %s %s", gvr.Resource, list.Items[0].GetName())
		}
	}
}

// Requirement: `diff --env` shows what a deploy would change (exit 1 with the
// change, 0 when nothing would), and `deploy --dry-run=server` persists nothing.
// inventoryAdd lists refs in the local environment's inventory, as the
// release that applied them would have.
func inventoryAdd(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, refs ...deploy.Ref) {
	t.Helper()
	inv := &deploy.Inventory{Kube: cs, Env: "local", Namespace: localNamespace}
	current, err := inv.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Write(ctx, append(current, refs...)); err != nil {
		t.Fatal(err)
	}
}

func testDiffAndServerDryRun(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	if r := runPlugin(ctx, t, "diff", "--env", "local"); r.code != 0 || r.stdout != "" {
		t.Errorf("diff of the deployed manifests: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Run("SecretValuesMaskedAndPrunesShown", func(t *testing.T) { testDiffMasksAndPrunes(ctx, t, cs) })
	r := runPlugin(ctx, t, "diff", "--env", "local", "--image-tag", "0.1.0-diff")
	if r.code != 1 || !strings.Contains(r.stdout, "+        image: "+registryImage("orchestrator", "0.1.0-diff")) {
		t.Errorf("diff of an image change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	res, run := deployJSON(ctx, t, "--dry-run=server", "--image-tag", "0.1.0-diff")
	if run.code != 0 {
		t.Fatalf("server dry run: exit %d\n%s", run.code, run.stderr)
	}
	configured := 0
	for _, o := range res.Objects {
		if o.Action == "configured" {
			configured++
		}
	}
	if configured != 4 {
		t.Errorf("server dry run reports %d objects configured, want the 4 Deployments: %+v", configured, res.Objects)
	}
	d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, "layering-detection-orchestrator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != registryImage("orchestrator", "0.1.0") {
		t.Errorf("a server dry run changed the image to %s", got)
	}
}

// Requirement (issue 9, correctness 1 and 2): diff never shows a Secret's
// value, plain or base64 — a drifted value shows as kubectl diff shows it —
// and it lists what a deploy would prune.
func testDiffMasksAndPrunes(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	const secretName, drifted = "layering-detection-api-key", "drifted-api-key-value"
	live, err := cs.CoreV1().Secrets(localNamespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{drifted, base64.StdEncoding.EncodeToString([]byte(drifted))}
	for _, v := range live.Data {
		values = append(values, string(v), base64.StdEncoding.EncodeToString(v))
	}
	patch := []byte(`{"stringData":{"API_KEY":"` + drifted + `"}}`)
	if _, err := cs.CoreV1().Secrets(localNamespace).Patch(ctx, secretName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "e2e-drift"}); err != nil {
		t.Fatal(err)
	}
	obsolete := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "layering-detection-diff-obsolete", Namespace: localNamespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-layering", "layering-detection.io/environment": "local"}}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obsolete)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("v1")
	obj.SetKind("ConfigMap")
	if _, err := platformApplier(t, platformConfig(t), deploy.DryRunNone).Apply(ctx, []*unstructured.Unstructured{obj}); err != nil {
		t.Fatal(err)
	}
	inventoryAdd(ctx, t, cs, deploy.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: localNamespace, Name: obsolete.Name})
	defer mustDeployHealthy(ctx, t) // restores the secret, prunes the ConfigMap

	r := runPlugin(ctx, t, "diff", "--env", "local")
	if r.code != 1 {
		t.Fatalf("diff of a drifted secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, v := range values {
		if strings.Contains(r.stdout+r.stderr, v) {
			t.Errorf("diff shows a secret value (%d chars)", len(v))
		}
	}
	for _, want := range []string{"-  API_KEY: '*** (before)'", "+  API_KEY: '*** (after)'", "live/configmap.layering-detection-diff-obsolete", "-  name: layering-detection-diff-obsolete"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Requirement (issue 18): an autoscaler that cannot work fails the deploy at
// once with the reason — here a sidecar someone injected without a CPU
// request, against which the HPA's 70 % CPU target cannot be computed.
func testAutoscalerCannotWork(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	const name = "layering-detection-wash-trading"
	sidecar := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"},
	  "spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"registry.k8s.io/pause:3.10","imagePullPolicy":"IfNotPresent",
	    "securityContext":{"allowPrivilegeEscalation":false,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}}}]}}}}`)
	force := true
	if _, err := cs.AppsV1().Deployments(localNamespace).Patch(ctx, name, types.ApplyPatchType, sidecar, metav1.PatchOptions{FieldManager: "e2e-sidecar", Force: &force}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The sidecar's manager applies nothing: its container goes.
		none := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"}}`)
		if _, err := cs.AppsV1().Deployments(localNamespace).Patch(ctx, name, types.ApplyPatchType, none, metav1.PatchOptions{FieldManager: "e2e-sidecar", Force: &force}); err != nil {
			t.Error(err)
		}
		mustDeployHealthy(ctx, t)
	}()
	start := time.Now()
	res, r := deployJSON(ctx, t)
	if r.code != 1 || res.Healthy {
		t.Fatalf("deploy with a request-less sidecar: exit %d, healthy %v\n%s", r.code, res.Healthy, r.stderr)
	}
	found := false
	for _, f := range res.Failures {
		if f.Object == "horizontalpodautoscaler/"+name && strings.Contains(f.Reason, "container sidecar has no cpu request") {
			found = true
		}
	}
	if !found {
		t.Errorf("failures %+v do not name the sidecar's missing cpu request", res.Failures)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %s: a problem no wait repairs must fail at once", d)
	}
}
