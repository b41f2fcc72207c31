//go:build e2e

// Log shipping (issue 12): `deploy --monitoring` and `verify --check logging`
// against the local cluster and the local AWS.
//
// No Fluent Bit image exists here (nothing is pulled from the internet), so:
//   - the bundle as rendered is proven up to what can run without it: the
//     settings refusal, preflight's refusal of a placeholder IRSA role, and a
//     server-side dry run of every object;
//   - the release pipeline itself (namespace, RBAC, configuration, the
//     DaemonSet waited on, a failing pod failing the wait at once) runs on the
//     bundle with only the DaemonSet's container swapped for the local probe
//     image (it sleeps; Fluent Bit's HTTP probes removed);
//   - verify's two halves are proven apart: the DaemonSet half on that
//     stand-in, the log-group half on events this test writes into the local
//     AWS with PutLogEvents, as Fluent Bit would.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

const (
	monitoringNamespace = "amazon-cloudwatch"
	fluentBitRBAC       = "layering-detection-fluent-bit"
)

// monitoringSettings is an environment's settings file with a real-looking account.
func monitoringSettings(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "monitoring.yaml")
	if err := os.WriteFile(f, []byte("accountId: \"123456789012\"\nregion: us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// renderMonitoring is `render --monitoring` by the plugin, parsed.
func renderMonitoring(ctx context.Context, t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	r := runPlugin(ctx, t, append([]string{"render", "--monitoring"}, args...)...)
	if r.code != 0 {
		t.Fatalf("render --monitoring: exit %d %s", r.code, r.stderr)
	}
	objs, err := manifests.ObjectsFromYAML([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// writeManifest writes objs as a multi-document YAML file for deploy -f.
func writeManifest(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var docs []string
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	f := filepath.Join(t.TempDir(), "monitoring.yaml")
	if err := os.WriteFile(f, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// standIn replaces the Fluent Bit container's image (never pulled) and drops
// its HTTP probes; everything else stays as the bundle renders it.
func standIn(t *testing.T, objs []*unstructured.Unstructured, image string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetKind() == "DaemonSet" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := containers[0].(map[string]any)
			c["image"], c["imagePullPolicy"], c["args"] = image, "Never", []any{"sleep"}
			delete(c, "livenessProbe")
			delete(c, "readinessProbe")
			if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, o)
	}
	return out
}

func removeMonitoring(t *testing.T, cs *kubernetes.Clientset) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	deleteNamespace(ctx, t, cs, monitoringNamespace)
	_ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, fluentBitRBAC, metav1.DeleteOptions{})
	_ = cs.RbacV1().ClusterRoles().Delete(ctx, fluentBitRBAC, metav1.DeleteOptions{})
}

func findResult(results []verifyResult, subject string) verifyResult {
	for _, r := range results {
		if r.Subject == subject {
			return r
		}
	}
	return verifyResult{Subject: subject, Status: "absent"}
}

func TestLoggingLocal(t *testing.T) {
	ctx := clusterCtx(t, 15*time.Minute)
	cs := clusterClient(t)
	mustDeployHealthy(ctx, t) // verify needs the environment whose logs it looks for
	removeMonitoring(t, cs)
	t.Cleanup(func() { removeMonitoring(t, cs) })
	good := monitoringSettings(t)
	// Every verify run reads AWS: the local one, and never the EC2 metadata address.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	awsEnv := localAWS(t)
	verifyLogging := func(args ...string) (results []verifyResult, r pluginRun) {
		withEnv(awsEnv, func() { results, r = runVerify(ctx, t, append([]string{"--check", "logging"}, args...)...) })
		return results, r
	}

	t.Run("SettingsRefusedBeforeAnythingIsApplied", func(t *testing.T) {
		r := runPlugin(ctx, t, "deploy", "--monitoring", "--env", "local")
		if r.code != 2 || !strings.Contains(r.stderr, "accountId: not set") || !strings.Contains(r.stderr, "kubectl layering settings set --env local accountId=") {
			t.Errorf("deploy --monitoring without settings: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("PreflightRefusesThePlaceholderRole", func(t *testing.T) {
		// The bundle rendered without settings, deployed as a file: only preflight stands in the way.
		file := writeManifest(t, renderMonitoring(ctx, t))
		r := runPlugin(ctx, t, "deploy", "--monitoring", "--env", "local", "-f", file)
		if r.code != 2 || !strings.Contains(r.stderr, "preflight failed, nothing was applied") ||
			!strings.Contains(r.stderr, "IRSA role of ServiceAccount amazon-cloudwatch/fluent-bit") || !strings.Contains(r.stderr, "111122223333") {
			t.Errorf("placeholder role: exit %d\n%s", r.code, r.stderr)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, monitoringNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s exists after a refused deploy: %v", monitoringNamespace, err)
		}
	})

	real := renderMonitoring(ctx, t, "--env", "local", "--settings", good)

	t.Run("StandInDeploysAndIsWaitedOn", func(t *testing.T) {
		res, r := deployJSON(ctx, t, "--monitoring", "-f", writeManifest(t, standIn(t, real, clusterProbeImage)), "--timeout", "3m")
		if r.code != 0 || !res.Healthy || res.Revision != 1 {
			t.Fatalf("deploy of the stand-in: exit %d healthy %v revision %d\n%s", r.code, res.Healthy, res.Revision, r.stderr)
		}
		actions := map[string]string{}
		for _, o := range res.Objects {
			actions[o.Object] = o.Action
		}
		for _, want := range []string{"namespace/amazon-cloudwatch", "serviceaccount/fluent-bit", "clusterrole/layering-detection-fluent-bit",
			"clusterrolebinding/layering-detection-fluent-bit", "daemonset/fluent-bit"} {
			if actions[want] != "created" {
				t.Errorf("%s: %q, want created (all: %v)", want, actions[want], actions)
			}
		}
		ds, err := cs.AppsV1().DaemonSets(monitoringNamespace).Get(ctx, "fluent-bit", metav1.GetOptions{})
		if err != nil || ds.Status.NumberReady != ds.Status.DesiredNumberScheduled || ds.Status.NumberReady == 0 {
			t.Errorf("the DaemonSet after the deploy returned: %+v %v", ds.Status, err)
		}
		results, vr := verifyLogging()
		if got := findResult(results, "daemonset/fluent-bit"); got.Status != "pass" || !strings.Contains(got.Reason, "ready on all 1 nodes") {
			t.Errorf("verify's DaemonSet half on the running stand-in: %+v (exit %d %s)", got, vr.code, vr.stderr)
		}
	})

	t.Run("ServerDryRunOfTheRealBundle", func(t *testing.T) {
		res, r := deployJSON(ctx, t, "--monitoring", "--settings", good, "--dry-run=server")
		if r.code != 0 {
			t.Fatalf("server dry run: exit %d\n%s", r.code, r.stderr)
		}
		if len(res.Objects) != len(real) {
			t.Errorf("the API server evaluated %d objects, the bundle has %d", len(res.Objects), len(real))
		}
		for _, o := range res.Objects {
			if strings.HasPrefix(o.Action, "failed") {
				t.Errorf("%s: %s", o.Object, o.Action)
			}
		}
		ds, err := cs.AppsV1().DaemonSets(monitoringNamespace).Get(ctx, "fluent-bit", metav1.GetOptions{})
		if err != nil || ds.Spec.Template.Spec.Containers[0].Image != clusterProbeImage {
			t.Errorf("the dry run changed the live DaemonSet: %v", err)
		}
	})

	t.Run("AFailingPodFailsTheWaitAtOnce", func(t *testing.T) {
		start := time.Now()
		res, r := deployJSON(ctx, t, "--monitoring", "-f", writeManifest(t, standIn(t, real, "kubectl-layering.local/fluent-bit-absent:v1")), "--timeout", "3m")
		took := time.Since(start)
		failed := false
		for _, f := range res.Failures {
			failed = failed || f.Object == "daemonset/fluent-bit" && strings.Contains(f.Reason, "ErrImageNeverPull")
		}
		if r.code != 1 || !failed || took > 90*time.Second {
			t.Errorf("an image that cannot be had: exit %d after %s, failures %+v (want exit 1 naming ErrImageNeverPull well before the 3m timeout)", r.code, took.Round(time.Second), res.Failures)
		}
		results, _ := verifyLogging()
		if got := findResult(results, "daemonset/fluent-bit"); got.Status != "fail" || !strings.Contains(got.Reason, "ready on 0 of 1 nodes") || !strings.Contains(got.Reason, "ErrImageNeverPull") {
			t.Errorf("verify's DaemonSet half on the failing pod: %+v", got)
		}
	})

	t.Run("LogGroupsWithFreshEventsPass", func(t *testing.T) {
		var logs *cloudwatchlogs.Client
		withEnv(awsEnv, func() {
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			logs = cloudwatchlogs.NewFromConfig(cfg)
		})
		suffix := clusterSuffix()
		put := func(service, stream string, at time.Time) {
			t.Helper()
			group := "/ecs/layering-detection/" + service
			if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
				t.Fatalf("CreateLogStream %s %s: %v", group, stream, err)
			}
			if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
				LogEvents: []logstypes.InputLogEvent{{Timestamp: aws.Int64(at.UnixMilli()), Message: aws.String(`{"level":"INFO","msg":"request served","service":"` + service + `"}`)}}}); err != nil {
				t.Fatalf("PutLogEvents %s %s: %v", group, stream, err)
			}
		}
		now := time.Now()
		for _, s := range []string{"orchestrator", "layering", "wash-trading"} {
			put(s, "ecs/layering-detection-local/layering-detection-"+s+"-"+suffix, now)
		}
		// The aggregator's group has events, but none that count: an ECS task's
		// (another platform) and one of this environment's from before the window.
		put("aggregator", "ecs/aggregator/"+suffix, now)
		put("aggregator", "ecs/layering-detection-local/layering-detection-aggregator-"+suffix, now.Add(-20*time.Minute))

		results, r := verifyLogging("--log-window", "10m")
		for _, s := range []string{"orchestrator", "layering", "wash-trading"} {
			got := findResult(results, "log group /ecs/layering-detection/"+s)
			if got.Status != "pass" || !strings.Contains(got.Reason, "ecs/layering-detection-local/layering-detection-"+s+"-"+suffix) {
				t.Errorf("%s with a fresh event: %+v", s, got)
			}
		}
		if got := findResult(results, "log group /ecs/layering-detection/aggregator"); got.Status != "fail" || !strings.Contains(got.Reason, "no events from this environment's pods") {
			t.Errorf("aggregator without a fresh event of this environment: %+v", got)
		}
		if r.code != 1 {
			t.Errorf("verify with a failing group: exit %d, want 1", r.code)
		}
	})

	t.Run("UnreachableAWSIsSkipped", func(t *testing.T) {
		unreachable := map[string]string{}
		for k, v := range awsEnv {
			unreachable[k] = v
		}
		unreachable["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9" // nothing listens there
		var results []verifyResult
		withEnv(unreachable, func() { results, _ = runVerify(ctx, t, "--check", "logging") })
		if got := findResult(results, "log group /ecs/layering-detection/layering"); got.Status != "skip" || !strings.Contains(got.Reason, "cannot reach the AWS endpoint") {
			t.Errorf("unreachable AWS: %+v", got)
		}
	})
}
