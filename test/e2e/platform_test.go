//go:build e2e

// The platform on the local cluster (issue 4): the `local` environment applied
// with server-side apply and running under Pod Security "restricted", the
// pipeline run through the orchestrator, the autoscalers reading metrics, and
// the AWS environments accepted by the real API server in a server-side dry run.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

const (
	localNamespace = "layering-detection-local"
	// The local overlay's host directories and its fixed, non-secret credentials
	// (embedded/manifests/components/local).
	localVolumes = "/var/lib/kubectl-layering/local-volumes"
	localAPIKey  = "local-api-key"
	localSalt    = "local-salt"
)

var services = []string{"orchestrator", "layering", "wash-trading", "aggregator"}

func platformConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", clusterKubeconfigPath(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func platformApplier(t *testing.T, cfg *rest.Config, dryRun deploy.DryRun) *deploy.Applier {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &deploy.Applier{Clients: kube.Clients{Dynamic: dyn, Discovery: dc, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), Host: cfg.Host}, DryRun: dryRun}
}

func renderEnv(t *testing.T, env string) []*unstructured.Unstructured {
	t.Helper()
	tree, err := manifests.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tree.RenderEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Objects(m)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestPlatformLocal runs in order on the local environment: a fresh deploy with
// the plugin, the pipeline and the autoscalers on it, then every deploy
// behaviour (no-op re-deploy, image change, prune, broken image, two deploys
// at once, Ctrl-C).
func TestPlatformLocal(t *testing.T) {
	cfg := platformConfig(t)
	cs := clusterClient(t)
	ctx := clusterCtx(t, 25*time.Minute)

	if !t.Run("FreshDeployAvailableUnderRestricted", func(t *testing.T) { testFreshDeploy(ctx, t, cs) }) {
		t.FailNow()
	}
	t.Run("PipelineThroughTheOrchestrator", func(t *testing.T) { testPipeline(ctx, t, cfg, cs) })
	t.Run("AutoscalersReadMetrics", func(t *testing.T) { testAutoscalersReadMetrics(ctx, t, cs) })
	t.Run("RedeployIsANoOp", func(t *testing.T) { testRedeployIsANoOp(ctx, t, cfg) })
	t.Run("DiffAndServerDryRun", func(t *testing.T) { testDiffAndServerDryRun(ctx, t, cs) })
	t.Run("ImageChangeRollsOut", func(t *testing.T) { testImageChangeRollsOut(ctx, t, cs) })
	t.Run("PruneOnlyWhatThePluginApplied", func(t *testing.T) { testPrune(ctx, t, cfg, cs) })
	t.Run("BrokenImageFailsWithItsReason", func(t *testing.T) { testBrokenImage(ctx, t, cs) })
	t.Run("AutoscalerThatCannotWorkFailsAtOnce", func(t *testing.T) { testAutoscalerCannotWork(ctx, t, cs) })
	t.Run("ConcurrentDeployFailsFastAndCtrlCStopsCleanly", func(t *testing.T) { testConcurrentDeploys(ctx, t) })
}

// Requirement: a fresh `kubectl layering deploy --env local` makes all four
// Deployments available, every pod admitted under Pod Security "restricted",
// and records revision 1.
func testFreshDeploy(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	deleteNamespace(ctx, t, cs, localNamespace)
	// The environment's volumes are cluster-scoped and retained: if an earlier
	// run left them, their claims are gone and deploy must make them bindable again.
	pvs, err := cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: "layering-detection.io/environment=local"})
	if err != nil {
		t.Fatal(err)
	}
	r := runPlugin(ctx, t, "deploy", "--env", "local", "--timeout", "4m", "-o", "json")
	if r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s\n%s", r.code, r.stdout, r.stderr, namespaceEvents(ctx, cs, localNamespace))
	}
	var res struct {
		Healthy   bool     `json:"healthy"`
		Revision  int      `json:"revision"`
		Reclaimed []string `json:"reclaimedVolumes"`
		Objects   []struct{ Object, Action string }
		Pending   []struct{ Object, Reason string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("deploy -o json: %v\n%s", err, r.stdout)
	}
	if !res.Healthy || res.Revision != 1 {
		t.Errorf("fresh deploy: healthy %v, revision %d; want healthy, revision 1", res.Healthy, res.Revision)
	}
	// Issue 18: a new environment is done when it is healthy, not when the
	// autoscalers first read metrics (~30 s later): they are reported pending.
	if len(res.Pending) != 4 {
		t.Errorf("fresh deploy waited for the autoscalers' first metrics, or did not say they are pending: %+v", res.Pending)
	}
	for _, p := range res.Pending {
		if !strings.HasPrefix(p.Object, "horizontalpodautoscaler/") || !strings.Contains(p.Reason, "first metrics expected") {
			t.Errorf("pending %s: %s", p.Object, p.Reason)
		}
	}
	for _, o := range res.Objects {
		// Cluster-scoped objects outlive the namespace; everything in it is new.
		clusterScoped := strings.HasPrefix(o.Object, "persistentvolume/") || strings.HasPrefix(o.Object, "storageclass/")
		if o.Action != "created" && !clusterScoped {
			t.Errorf("fresh deploy: %s %s, want created", o.Object, o.Action)
		}
	}
	if len(res.Reclaimed) != len(pvs.Items) {
		t.Errorf("reclaimed %v; %d retained volumes were left by an earlier run", res.Reclaimed, len(pvs.Items))
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, localNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Fatalf("namespace enforces %q, want restricted", got)
	}
	for _, s := range services {
		d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, "layering-detection-"+s, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !deploymentAvailable(d) {
			t.Errorf("deploy returned healthy but %s is not available", d.Name)
		}
		pods, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + s})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if sc := p.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1000 {
				t.Errorf("pod %s does not run as uid 1000", p.Name)
			}
		}
	}
	// A refused pod would surface as a FailedCreate event of its ReplicaSet.
	events, err := cs.CoreV1().Events(localNamespace).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		t.Errorf("pod creation refused: %s: %s", e.InvolvedObject.Name, e.Message)
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

func namespaceEvents(ctx context.Context, cs *kubernetes.Clientset, ns string) string {
	events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range events.Items {
		if e.Type != corev1.EventTypeNormal {
			fmt.Fprintf(&b, "%s %s/%s: %s\n", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	}
	return b.String()
}

// Requirement: transactions.csv in the input volume, POST /orchestrate through
// the orchestrator (port-forward), 200, and the expected rows in the output and
// logs volumes with account ids pseudonymized with the local salt. The
// orchestrator reaches the other three by their Service DNS names.
func testPipeline(ctx context.Context, t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset) {
	data := filepath.Join(clusterRepoRoot(t), "services", "testdata") // a byte-exact copy of shared/data
	input, err := os.ReadFile(filepath.Join(data, "transactions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(localVolumes, "input", "transactions.csv"), input, 0o644); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		filepath.Join(localVolumes, "output", "suspicious_accounts.csv"): filepath.Join(data, "expected", "transactions", "suspicious_accounts.csv"),
		filepath.Join(localVolumes, "logs", "detections.csv"):            filepath.Join(data, "expected", "transactions", "detections.csv"),
	}
	for out := range outputs {
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}

	base := portForward(ctx, t, cfg, cs, "orchestrator", 8000)
	body := bytes.NewBufferString(`{"input_file": "transactions.csv"}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/orchestrate", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", localAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /orchestrate: %d %s", resp.StatusCode, answer)
	}
	var result struct {
		Status         string   `json:"status"`
		EventCount     int      `json:"event_count"`
		FailedServices []string `json:"failed_services"`
	}
	if err := json.Unmarshal(answer, &result); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if len(result.FailedServices) > 0 || result.EventCount == 0 {
		t.Errorf("orchestrate answered %s", answer)
	}

	for out, expected := range outputs {
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("no output in the volume: %v", err)
		}
		want := pseudonymized(t, expected, localSalt)
		if string(got) != want {
			t.Errorf("%s =\n%s\nwant\n%s", out, got, want)
		}
	}
	// Without the salt the expected ids must not appear: the volume holds no raw account id.
	if got, _ := os.ReadFile(filepath.Join(localVolumes, "output", "suspicious_accounts.csv")); strings.Contains(string(got), "ACC001") {
		t.Error("a raw account id reached the output volume")
	}
}

// pseudonymized is an expected file with each account id (first column)
// replaced by the hex sha256 of "salt:account_id".
func pseudonymized(t *testing.T, path, salt string) string {
	t.Helper()
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(f)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		sum := sha256.Sum256([]byte(salt + ":" + row[0]))
		row[0] = hex.EncodeToString(sum[:])
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if bytes.Contains(f, []byte("\r\n")) {
		w.UseCRLF = true
	}
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// portForward forwards a local port to a ready pod of the service, as
// `kubectl port-forward svc/…` does, and returns the local base URL.
func portForward(ctx context.Context, t *testing.T, cfg *rest.Config, cs *kubernetes.Clientset, service string, port int) string {
	t.Helper()
	pods, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + service})
	if err != nil {
		t.Fatal(err)
	}
	var pod string
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				pod = p.Name
			}
		}
	}
	if pod == "" {
		t.Fatalf("no ready %s pod", service)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(localNamespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() { errs <- fw.ForwardPorts() }()
	t.Cleanup(func() { close(stop) })
	select {
	case <-ready:
	case err := <-errs:
		t.Fatalf("port-forward to %s: %v", pod, err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local)
}

// Requirement: the HPAs read CPU and memory from metrics-server.
func testAutoscalersReadMetrics(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	err := wait.PollUntilContextTimeout(ctx, 5*time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, s := range services {
			h, err := cs.AutoscalingV2().HorizontalPodAutoscalers(localNamespace).Get(ctx, "layering-detection-"+s, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			read := map[corev1.ResourceName]bool{}
			for _, m := range h.Status.CurrentMetrics {
				if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
					read[m.Resource.Name] = true
				}
			}
			if !read[corev1.ResourceCPU] || !read[corev1.ResourceMemory] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		out, _ := exec.Command("kubectl", "--kubeconfig", clusterKubeconfigPath(t), "-n", localNamespace, "describe", "hpa").CombinedOutput()
		t.Fatalf("autoscalers without CPU and memory metrics: %v\n%s", err, out)
	}
}

// Requirement: dev, staging and prod pass a server-side dry run against the
// real API server once the CRDs they use (ESO, from the ESO module) are installed.
func TestAWSEnvironmentsPassServerSideDryRun(t *testing.T) {
	cfg := platformConfig(t)
	cs := clusterClient(t)
	ctx := clusterCtx(t, 5*time.Minute)
	installESOCRDs(ctx, t, cfg)
	installTestCRDs(ctx, t, cfg) // the TargetGroupBindings of the cutover (issue 14)

	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			objs := renderEnv(t, env)
			// Namespaced objects are only admitted into an existing namespace: create
			// it for real (a dry-run namespace does not exist for what follows).
			ns := "layering-detection-" + env
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
			})
			results, err := platformApplier(t, cfg, deploy.DryRunServer).Apply(ctx, objs)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				if r.Object == nil {
					t.Errorf("%s %s: no answer from the server", objs[i].GetKind(), objs[i].GetName())
				}
			}
			// A dry run persists nothing.
			if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "layering-detection-orchestrator", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("dry run left a Deployment behind: %v", err)
			}
		})
	}
}

// installESOCRDs applies the SecretStore and ExternalSecret CRDs of the pinned
// ESO module and waits until the API server serves them.
func installESOCRDs(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/external-secrets/external-secrets")
	cmd.Dir = clusterRepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("locating the ESO module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crds", "bases")
	installCRDs(ctx, t, cfg, []string{filepath.Join(dir, "external-secrets.io_secretstores.yaml"), filepath.Join(dir, "external-secrets.io_externalsecrets.yaml")},
		schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "SecretStore"},
		schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "ExternalSecret"})
}

// installCRDs applies the CRDs in files and waits until the API server serves
// each of kinds, as an apply sees it: through a fresh discovery-based mapper
// (the aggregated discovery document lags behind the CRD's own group endpoint).
func installCRDs(ctx context.Context, t *testing.T, cfg *rest.Config, files []string, kinds ...schema.GroupVersionKind) {
	t.Helper()
	var crds []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatal(err)
		}
		crds = append(crds, u)
	}
	if _, err := platformApplier(t, cfg, deploy.DryRunNone).Apply(ctx, crds); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
		mapper := platformApplier(t, cfg, deploy.DryRunNone).Clients.Mapper
		for _, k := range kinds {
			if _, err := mapper.RESTMapping(k.GroupKind(), k.Version); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%v not served: %v", kinds, err)
	}
}
