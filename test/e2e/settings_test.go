//go:build e2e

// `kubectl layering settings init --from-ecs` and `kubectl layering parity`
// (issue 13) against the local AWS seeded with the ECS deployment, and the
// local cluster's prod namespace (only the settings ConfigMap is written
// there; nothing of prod is deployed: the cluster has no EFS or ALB).
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
)

const (
	prodNamespace = "layering-detection-prod"
	ecsCluster    = "layering-detection-cluster"
	// The local AWS's seed (local-aws/server/seed.go).
	seedAccount     = "210987654321"
	seedFileSystem  = "fs-0a7c3e91b25d48f60"
	seedInput       = "fsap-04d1e8a2b7c3f5901"
	seedOutput      = "fsap-0b5f2c9e6a1d3e702"
	seedLogs        = "fsap-0e9a4b7c2d5f1a803"
	seedCertificate = "arn:aws:acm:us-east-1:210987654321:certificate/3f6b2a1c-8d4e-4f7a-9b0c-5e1d2c3b4a69"
)

type initReport struct {
	Settings   []settings.Finding `json:"settings"`
	Written    bool               `json:"written"`
	IAMActions []string           `json:"iamActions"`
}

func (r initReport) finding(key string) settings.Finding {
	for _, f := range r.Settings {
		if f.Key == key {
			return f
		}
	}
	return settings.Finding{}
}

type parityReport struct {
	Rows []struct {
		Service, Item, ECS, Kubernetes, Status, Reason string
	} `json:"rows"`
	Counts struct{ OK, ByDesign, Differs int } `json:"counts"`
}

func (r parityReport) differing() []string {
	var out []string
	for _, row := range r.Rows {
		if row.Status == "differs" {
			out = append(out, row.Service+" "+row.Item+": "+row.ECS+" | "+row.Kubernetes)
		}
	}
	return out
}

// localAWSControl posts to the local AWS's own API (faults, reset).
func localAWSControl(t *testing.T, env map[string]string, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, env["AWS_ENDPOINT_URL"]+"/_local-aws/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("local AWS %s %s: %v %v", method, path, resp, err)
	}
	resp.Body.Close()
}

// registerOrchestrator registers a new revision of the orchestrator's task
// definition made from revision 2 by change, and rolls the service onto it.
func registerOrchestrator(ctx context.Context, t *testing.T, c *ecs.Client, change func(*ecs.RegisterTaskDefinitionInput)) string {
	t.Helper()
	cur, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-orchestrator:2")})
	if err != nil {
		t.Fatal(err)
	}
	d := cur.TaskDefinition
	in := &ecs.RegisterTaskDefinitionInput{Family: d.Family, ContainerDefinitions: d.ContainerDefinitions, Volumes: d.Volumes, Cpu: d.Cpu, Memory: d.Memory,
		NetworkMode: d.NetworkMode, RequiresCompatibilities: d.RequiresCompatibilities, TaskRoleArn: d.TaskRoleArn, ExecutionRoleArn: d.ExecutionRoleArn}
	change(in)
	out, err := c.RegisterTaskDefinition(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	updateOrchestrator(ctx, t, c, arn)
	return arn
}

func updateOrchestrator(ctx context.Context, t *testing.T, c *ecs.Client, taskDefinition string) {
	t.Helper()
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(ecsCluster), Service: aws.String("layering-detection-orchestrator"),
		TaskDefinition: aws.String(taskDefinition)}); err != nil {
		t.Fatal(err)
	}
}

// awsCLI runs Debian's AWS CLI (2.9: it needs --endpoint-url) against the local AWS.
func awsCLI(ctx context.Context, t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	cli := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", env["AWS_ENDPOINT_URL"]}, args...)...)
	cli.Env = os.Environ()
	for k, v := range env {
		cli.Env = append(cli.Env, k+"="+v)
	}
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Requirement (issue 13): settings init fills every setting the seeded ECS
// deployment holds, with where each came from; render then carries them; a
// re-run writes nothing; a value ECS does not hold stays a placeholder and
// deploy refuses with nothing applied; parity is all ✓/by design on the
// seed and turns ✗ on exactly the row a change in AWS touches.
func TestSettingsFromECSAndParity(t *testing.T) {
	ctx := clusterCtx(t, 15*time.Minute)
	env := localAWS(t)
	cs := clusterClient(t)
	localAWSControl(t, env, http.MethodDelete, "faults", "")
	localAWSControl(t, env, http.MethodPost, "reset", "")
	t.Cleanup(func() { localAWSControl(t, env, http.MethodPost, "reset", "") })

	// The shared cluster's prod namespace: start without stored settings, and
	// leave it as found (removed if this test made it).
	_, err := cs.CoreV1().Namespaces().Get(ctx, prodNamespace, metav1.GetOptions{})
	madeNamespace := apierrors.IsNotFound(err)
	if err := cs.CoreV1().ConfigMaps(prodNamespace).Delete(ctx, settings.ConfigMapName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := context.Background()
		_ = cs.CoreV1().ConfigMaps(prodNamespace).Delete(bg, settings.ConfigMapName, metav1.DeleteOptions{})
		if madeNamespace {
			_ = cs.CoreV1().Namespaces().Delete(bg, prodNamespace, metav1.DeleteOptions{})
		}
	})

	var ecsClient *ecs.Client
	var aas *applicationautoscaling.Client
	withEnv(env, func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ecsClient, aas = ecs.NewFromConfig(cfg), applicationautoscaling.NewFromConfig(cfg)
	})
	run := func(args ...string) pluginRun {
		t.Helper()
		var r pluginRun
		withEnv(env, func() { r = runPlugin(ctx, t, args...) })
		return r
	}
	initJSON := func(args ...string) (initReport, pluginRun) {
		t.Helper()
		r := run(append([]string{"settings", "init", "--env", "prod", "--from-ecs", "-o", "json"}, args...)...)
		var rep initReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("settings init printed no report (exit %d): %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return rep, r
	}
	parity := func(args ...string) (parityReport, pluginRun) {
		t.Helper()
		r := run(append([]string{"parity", "--env", "prod", "--image-tag", "1.1.0", "-o", "json"}, args...)...)
		var rep parityReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("parity printed no report (exit %d): %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return rep, r
	}

	t.Run("AValueECSDoesNotHoldStaysAPlaceholderAndDeployRefuses", func(t *testing.T) {
		// The orchestrator's running task definition mounts no EFS volume.
		registerOrchestrator(ctx, t, ecsClient, func(in *ecs.RegisterTaskDefinitionInput) {
			in.Volumes, in.ContainerDefinitions[0].MountPoints = nil, nil
		})
		rep, r := initJSON()
		if r.code != 1 || !strings.Contains(r.stderr, "inputAccessPointId: no task definition has an EFS volume input") {
			t.Errorf("init without the input volume: exit %d\n%s", r.code, r.stderr)
		}
		if f := rep.finding("inputAccessPointId"); f.Action != settings.ActionMissing || !rep.Written || rep.finding("efsFileSystemId").Value != seedFileSystem {
			t.Errorf("inputAccessPointId %+v, written %v, efsFileSystemId %+v", f, rep.Written, rep.finding("efsFileSystemId"))
		}
		r = run("deploy", "--env", "prod")
		if r.code != 2 || !strings.Contains(r.stderr, `inputAccessPointId: still the placeholder "fsap-0000000000000001a"`) ||
			!strings.Contains(r.stderr, "(nothing was applied)") || strings.Contains(r.stderr, "efsFileSystemId:") {
			t.Errorf("deploy with one placeholder left: exit %d\n%s", r.code, r.stderr)
		}
		deps, err := cs.AppsV1().Deployments(prodNamespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(deps.Items) != 0 {
			t.Errorf("deploy applied Deployments: %v %v", len(deps.Items), err)
		}
		cms, err := cs.CoreV1().ConfigMaps(prodNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range cms.Items {
			if cm.Name != settings.ConfigMapName && cm.Name != "kube-root-ca.crt" {
				t.Errorf("deploy wrote ConfigMap %s", cm.Name)
			}
		}
		updateOrchestrator(ctx, t, ecsClient, "layering-detection-orchestrator:2")
	})

	t.Run("InitFillsEverySettingTheSeedHolds", func(t *testing.T) {
		rep, r := initJSON()
		if r.code != 0 || !rep.Written {
			t.Fatalf("init: exit %d, written %v\n%s", r.code, rep.Written, r.stderr)
		}
		if f := rep.finding("inputAccessPointId"); f.Action != settings.ActionSet || f.Value != seedInput || f.From != "task definition layering-detection-orchestrator:2 volume input" {
			t.Errorf("inputAccessPointId: %+v", f)
		}
		cm, err := cs.CoreV1().ConfigMaps(prodNamespace).Get(ctx, settings.ConfigMapName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"accountId": seedAccount, "region": "us-east-1", "efsFileSystemId": seedFileSystem,
			"inputAccessPointId": seedInput, "outputAccessPointId": seedOutput, "logsAccessPointId": seedLogs,
			"certificateArn": seedCertificate, "albName": "layering-detection-prod-alb"} {
			if cm.Data[key] != want {
				t.Errorf("stored %s = %q, want %q", key, cm.Data[key], want)
			}
		}
		for key, from := range map[string]string{"certificateArn": "listener 443 (HTTPS) of ALB layering-detection-alb",
			"logsAccessPointId": "task definition layering-detection-aggregator:2 volume logs", "accountId": "sts:GetCallerIdentity",
			"clusterName": "the EKS cluster is not part of the ECS deployment", "alarmTopicArn": "the 12 ECS alarms notify no SNS topic"} {
			if f := rep.finding(key); !strings.Contains(f.From, from) {
				t.Errorf("%s comes from %q, want …%q…", key, f.From, from)
			}
		}
		// Debian's AWS CLI reads the same access point from the task definition.
		if got := awsCLI(ctx, t, env, "ecs", "describe-task-definition", "--task-definition", "layering-detection-orchestrator:2",
			"--query", "taskDefinition.volumes[0].efsVolumeConfiguration.authorizationConfig.accessPointId", "--output", "text"); got != cm.Data["inputAccessPointId"] {
			t.Errorf("the AWS CLI reads access point %q, init stored %q", got, cm.Data["inputAccessPointId"])
		}
		// docs/iam/settings-policy.json allows every action the run made (GetCallerIdentity needs no permission).
		policy, err := os.ReadFile(filepath.Join(clusterRepoRoot(t), "docs", "iam", "settings-policy.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range rep.IAMActions {
			if a != "sts:GetCallerIdentity" && !strings.Contains(string(policy), `"`+a+`"`) {
				t.Errorf("settings-policy.json lacks %s", a)
			}
		}
		if !slices.Contains(rep.IAMActions, "secretsmanager:DescribeSecret") || slices.Contains(rep.IAMActions, "secretsmanager:GetSecretValue") {
			t.Errorf("secrets: %v", rep.IAMActions)
		}
	})

	t.Run("RenderCarriesTheStoredSettings", func(t *testing.T) {
		r := run("render", "--env", "prod")
		if r.code != 0 {
			t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"volumeHandle: " + seedFileSystem + "::" + seedInput, "volumeHandle: " + seedFileSystem + "::" + seedLogs,
			"fileSystemId: " + seedFileSystem, "certificate-arn: " + seedCertificate, "image: " + seedAccount + ".dkr.ecr.us-east-1.amazonaws.com/layering-detection-orchestrator:",
			"load-balancer-name: layering-detection-prod-alb"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("render --env prod lacks %q", want)
			}
		}
		if strings.Contains(r.stdout, "fs-0123456789abcdef0") || strings.Contains(r.stdout, "111122223333") {
			t.Error("render --env prod still carries a placeholder")
		}
	})

	t.Run("ReRunWritesNothing", func(t *testing.T) {
		before, err := cs.CoreV1().ConfigMaps(prodNamespace).Get(ctx, settings.ConfigMapName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, r := initJSON()
		after, err := cs.CoreV1().ConfigMaps(prodNamespace).Get(ctx, settings.ConfigMapName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 0 || rep.Written || !strings.Contains(r.stderr, "0 set") || !strings.Contains(r.stderr, "nothing changed, nothing written") ||
			before.ResourceVersion != after.ResourceVersion {
			t.Errorf("re-run: exit %d, written %v, resourceVersion %s → %s\n%s", r.code, rep.Written, before.ResourceVersion, after.ResourceVersion, r.stderr)
		}
	})

	t.Run("ParityOnTheSeed", func(t *testing.T) {
		rep, r := parity()
		if r.code != 0 || len(rep.differing()) != 0 || rep.Counts.OK < 80 || rep.Counts.ByDesign == 0 {
			t.Errorf("parity on the seed: exit %d, counts %+v, differing %q\n%s", r.code, rep.Counts, rep.differing(), r.stderr)
		}
	})

	t.Run("ParityTurnsOnATaskDefinitionsMaxRetries", func(t *testing.T) {
		registerOrchestrator(ctx, t, ecsClient, func(in *ecs.RegisterTaskDefinitionInput) {
			for i, kv := range in.ContainerDefinitions[0].Environment {
				if aws.ToString(kv.Name) == "MAX_RETRIES" {
					in.ContainerDefinitions[0].Environment[i].Value = aws.String("5")
				}
			}
		})
		defer updateOrchestrator(ctx, t, ecsClient, "layering-detection-orchestrator:2")
		rep, r := parity()
		if got := rep.differing(); r.code != 1 || len(got) != 1 || got[0] != "orchestrator env MAX_RETRIES: 5 | 3" {
			t.Errorf("parity after MAX_RETRIES=5: exit %d, differing %q\n%s", r.code, got, r.stderr)
		}
	})

	t.Run("ParityTurnsOnAServicesMaxCapacity", func(t *testing.T) {
		// The AWS CLI changes the scalable target, as an operator would.
		awsCLI(ctx, t, env, "application-autoscaling", "register-scalable-target", "--service-namespace", "ecs",
			"--resource-id", "service/"+ecsCluster+"/layering-detection-layering", "--scalable-dimension", "ecs:service:DesiredCount", "--max-capacity", "12")
		defer func() {
			if _, err := aas.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
				ResourceId: aws.String("service/" + ecsCluster + "/layering-detection-layering"), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
				MaxCapacity: aws.Int32(10)}); err != nil {
				t.Error(err)
			}
		}()
		rep, r := parity()
		if got := rep.differing(); r.code != 1 || len(got) != 1 || got[0] != "layering min/max: 1..12 | 1..10" {
			t.Errorf("parity after max capacity 12: exit %d, differing %q\n%s", r.code, got, r.stderr)
		}
	})

	t.Run("LiveParityReadsTheRunningObjects", func(t *testing.T) {
		if !madeNamespace {
			t.Skipf("namespace %s existed before this test: its objects are not this test's to replace", prodNamespace)
		}
		// prod, rendered with the stored settings, applied for real but with
		// no pods (its images are in no registry here; parity reads specs).
		cfg := platformConfig(t)
		installESOCRDs(ctx, t, cfg)
		if _, err := cs.CoreV1().ResourceQuotas(prodNamespace).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "no-pods"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := run("render", "--env", "prod", "--image-tag", "1.1.0")
		objs, err := manifests.ObjectsFromYAML([]byte(r.stdout))
		if r.code != 0 || err != nil {
			t.Fatalf("render: exit %d %v\n%s", r.code, err, r.stderr)
		}
		var apply []*unstructured.Unstructured
		for _, o := range objs {
			switch o.GetKind() {
			case "StorageClass": // cluster-wide and not compared
			case "PersistentVolume":
				name := o.GetName()
				t.Cleanup(func() { _ = cs.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
				apply = append(apply, o)
			default:
				apply = append(apply, o)
			}
		}
		if _, err := platformApplier(t, cfg, deploy.DryRunNone).Apply(ctx, apply); err != nil {
			t.Fatal(err)
		}
		// The EKS alarms, as the deploy pipeline's alarms sync makes them.
		if r := run("settings", "set", "--env", "prod", "clusterName=layering-detection-eks"); r.code != 0 {
			t.Fatalf("settings set: exit %d\n%s", r.code, r.stderr)
		}
		if r := run("alarms", "sync", "--env", "prod", "--allow-missing-metrics"); r.code != 0 {
			t.Fatalf("alarms sync: exit %d\n%s", r.code, r.stderr)
		}
		live := func() (parityReport, pluginRun) {
			t.Helper()
			r := run("parity", "--env", "prod", "--live", "-o", "json")
			var rep parityReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("parity --live printed no report (exit %d): %v\n%s", r.code, err, r.stderr)
			}
			return rep, r
		}
		// Only the log shipping (Fluent Bit, not deployed here) may differ.
		notLogs := func(rep parityReport) []string {
			var out []string
			for _, row := range rep.Rows {
				if row.Status == "differs" && !(row.Item == "log group" && strings.Contains(row.Kubernetes, "Fluent Bit is not deployed")) {
					out = append(out, row.Service+" "+row.Item+": "+row.ECS+" | "+row.Kubernetes)
				}
			}
			return out
		}
		rep, r := live()
		if got := notLogs(rep); len(got) != 0 {
			t.Errorf("parity --live of what render gave: differing %q\n%s", got, r.stderr)
		}
		for _, row := range rep.Rows {
			if row.Service == "aggregator" && (row.Item == "alarm high-cpu" && row.Status != "by design" || row.Item == "secret PSEUDONYMIZATION_SALT" && row.Status != "ok" ||
				row.Item == "volume /app/logs" && row.Status != "ok") {
				t.Errorf("live row %+v", row)
			}
		}
		// A change to what runs (not to the manifests) turns its row.
		if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(prodNamespace).Patch(ctx, "layering-detection-layering", types.MergePatchType,
			[]byte(`{"spec":{"maxReplicas":7}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, r = live()
		if got := notLogs(rep); r.code != 1 || len(got) != 1 || got[0] != "layering min/max: 1..10 | 1..7" {
			t.Errorf("parity --live after the HPA's max became 7: exit %d, differing %q\n%s", r.code, got, r.stderr)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			fault string
			env   map[string]string
			args  []string
			code  int
			want  string
		}{
			{name: "cluster not found", args: []string{"--cluster", "nope"}, code: 2, want: `ECS cluster "nope" not found in account ` + seedAccount},
			{name: "access denied", fault: `{"service":"ecs","operation":"DescribeTaskDefinition","kind":"deny"}`, code: 2,
				want: "grant the IAM action ecs:DescribeTaskDefinition"},
			{name: "throttling survived", fault: `{"service":"elbv2","operation":"DescribeListeners","kind":"throttle","count":2}`, code: 0},
			{name: "throttling outlasting the retries", fault: `{"service":"secretsmanager","operation":"DescribeSecret","kind":"throttle"}`, code: 1,
				want: "Secrets Manager:DescribeSecret was still throttled after 6 attempts"},
			{name: "no credentials", env: map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
				"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}, code: 2, want: "no AWS credentials"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.fault != "" {
					localAWSControl(t, env, http.MethodPost, "faults", tc.fault)
					defer localAWSControl(t, env, http.MethodDelete, "faults", "")
				}
				var r pluginRun
				withEnv(env, func() {
					withEnv(tc.env, func() {
						r = runPlugin(ctx, t, append([]string{"settings", "init", "--env", "prod", "--from-ecs", "--dry-run"}, tc.args...)...)
					})
				})
				if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("exit %d, want %d and …%s…\n%s", r.code, tc.code, tc.want, r.stderr)
				}
			})
		}
	})
}
