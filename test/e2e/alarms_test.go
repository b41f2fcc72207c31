//go:build e2e

// `kubectl layering alarms` against the local AWS (issue 12), with Container
// Insights-shaped metrics published by the test from the local cluster's
// metrics-server, standing in for the CloudWatch agent (which cannot run here).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

const localCluster = "layering-detection-local-cluster"

// localAWS reads the environment `make aws` wrote (.local-aws/env).
func localAWS(t *testing.T) map[string]string {
	t.Helper()
	path := os.Getenv("LOCAL_AWS_ENV")
	if path == "" {
		path = filepath.Join(clusterRepoRoot(t), ".local-aws", "env")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the local AWS is not running (%v): start it with make aws", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = strings.Trim(v, `"'`)
		}
	}
	return env
}

func withEnv(env map[string]string, f func()) {
	old := map[string]*string{}
	for k, v := range env {
		if o, ok := os.LookupEnv(k); ok {
			old[k] = &o
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	defer func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}()
	f()
}

// publishFromMetricsServer publishes each local service's pod CPU and memory
// against its limit, and its running pods, as Container Insights names them;
// cpuPercent > 0 replaces the measured CPU (a test-made overload).
func publishFromMetricsServer(ctx context.Context, t *testing.T, cw *cloudwatch.Client, cpuPercent float64) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(platformConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	podMetrics, err := dyn.Resource(schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "pods"}).Namespace(localNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("metrics-server: %v", err)
	}
	cs := clusterClient(t)
	for _, svc := range services {
		pods, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + svc})
		if err != nil {
			t.Fatal(err)
		}
		var cpu, mem, n float64
		for _, p := range pods.Items {
			limits := p.Spec.Containers[0].Resources.Limits
			for _, m := range podMetrics.Items {
				if m.GetName() != p.Name {
					continue
				}
				containers, _, _ := unstructuredSlice(m.Object, "containers")
				for _, c := range containers {
					usage, _ := c["usage"].(map[string]any)
					cpu += parseQuantity(usage["cpu"]) / limits.Cpu().AsApproximateFloat64() * 100
					mem += parseQuantity(usage["memory"]) / limits.Memory().AsApproximateFloat64() * 100
				}
				n++
			}
		}
		if n > 0 {
			cpu, mem = cpu/n, mem/n
		}
		if cpuPercent > 0 {
			cpu = cpuPercent
		}
		dims := []cwtypes.Dimension{{Name: aws.String("ClusterName"), Value: aws.String(localCluster)},
			{Name: aws.String("Namespace"), Value: aws.String(localNamespace)}, {Name: aws.String("Service"), Value: aws.String(svc + "-service")}}
		var data []cwtypes.MetricDatum
		times := []time.Time{time.Now().Add(-5 * time.Minute), time.Now()}
		if cpuPercent > 0 { // an overload outweighs, in each period's average, what was measured before
			times = append(times, times[0].Add(time.Second), times[0].Add(2*time.Second), times[1].Add(-time.Second), times[1].Add(-2*time.Second))
		}
		for _, at := range times {
			for name, v := range map[string]float64{"pod_cpu_utilization_over_pod_limit": cpu, "pod_memory_utilization_over_pod_limit": mem, "service_number_of_running_pods": float64(len(pods.Items))} {
				data = append(data, cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Value: aws.Float64(v), Timestamp: aws.Time(at), Unit: cwtypes.StandardUnitPercent})
			}
		}
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("ContainerInsights"), MetricData: data}); err != nil {
			t.Fatalf("PutMetricData: %v", err)
		}
	}
}

func unstructuredSlice(obj map[string]any, key string) ([]map[string]any, bool, error) {
	raw, _ := obj[key].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, len(out) > 0, nil
}

func parseQuantity(v any) float64 {
	s, _ := v.(string)
	q, err := resourceParse(s)
	if err != nil {
		return 0
	}
	return q
}

type alarmsReport struct {
	Changes   []struct{ Alarm, Action string } `json:"changes"`
	Dashboard string                           `json:"dashboard"`
	Writes    int                              `json:"apiWrites"`
	Reads     int                              `json:"apiReads"`
}

func TestAlarmsLocalAWS(t *testing.T) {
	ctx := clusterCtx(t, 10*time.Minute)
	env := localAWS(t)
	settingsFile := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(settingsFile, []byte("clusterName: "+localCluster+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cw *cloudwatch.Client
	withEnv(env, func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cw = cloudwatch.NewFromConfig(cfg)
	})
	run := func(args ...string) (alarmsReport, pluginRun) {
		t.Helper()
		var r pluginRun
		withEnv(env, func() {
			r = runPlugin(ctx, t, append(append([]string{"alarms"}, args...), "--env", "local", "--settings", settingsFile, "-o", "json")...)
		})
		var rep alarmsReport
		_ = json.Unmarshal([]byte(r.stdout), &rep)
		return rep, r
	}
	mustDeployHealthy(ctx, t)
	// The seeded state, as `make aws` starts it: no Container Insights metrics yet.
	resp, err := http.Post(env["AWS_ENDPOINT_URL"]+"/_local-aws/reset", "application/json", nil)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("resetting the local AWS: %v %v", resp, err)
	}
	resp.Body.Close()

	t.Run("NoMetricsNoAlarms", func(t *testing.T) {
		rep, r := run("sync")
		if r.code != 1 || !strings.Contains(r.stderr, "is Container Insights enabled") && !strings.Contains(r.stderr, "no metrics for") {
			t.Errorf("sync without metrics: exit %d, %s", r.code, r.stderr)
		}
		if rep.Writes != 0 {
			t.Errorf("sync without metrics wrote %d times", rep.Writes)
		}
	})

	publishFromMetricsServer(ctx, t, cw, 0)
	foreign := "layering-detection-eks-local-made-by-hand"
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(foreign), Namespace: aws.String("ContainerInsights"),
		MetricName: aws.String("pod_cpu_utilization_over_pod_limit"), Statistic: cwtypes.StatisticAverage, Period: aws.Int32(60),
		EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(99), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
		t.Fatal(err)
	}

	t.Run("SyncCreates12AlarmsAndTheDashboard", func(t *testing.T) {
		rep, r := run("sync")
		if r.code != 0 {
			t.Fatalf("sync: exit %d %s", r.code, r.stderr)
		}
		created := 0
		for _, c := range rep.Changes {
			if c.Action == "create" {
				created++
			}
		}
		if created != 12 || rep.Dashboard != "create" {
			t.Errorf("created %d alarms, dashboard %s; want 12 and create", created, rep.Dashboard)
		}
		// An independent client reads the thresholds back.
		// Debian's AWS CLI 2.9 does not read AWS_ENDPOINT_URL: name the endpoint.
		cli := exec.CommandContext(ctx, "aws", "--endpoint-url", env["AWS_ENDPOINT_URL"], "cloudwatch", "describe-alarms", "--alarm-name-prefix", "layering-detection-eks-local-layering",
			"--query", "MetricAlarms[].[AlarmName,Threshold,Period,EvaluationPeriods,ComparisonOperator]", "--output", "text")
		cli.Env = os.Environ()
		for k, v := range env {
			cli.Env = append(cli.Env, k+"="+v)
		}
		out, err := cli.CombinedOutput()
		if err != nil {
			t.Fatalf("aws cloudwatch describe-alarms: %v\n%s", err, out)
		}
		text := strings.ReplaceAll(string(out), ".0\t", "\t") // the CLI prints 80 or 80.0 depending on its version
		for _, want := range []string{"layering-detection-eks-local-layering-high-cpu\t80\t300\t2\tGreaterThanThreshold",
			"layering-detection-eks-local-layering-high-memory\t85\t300\t2\tGreaterThanThreshold",
			"layering-detection-eks-local-layering-low-task-count\t1\t60\t1\tLessThanThreshold"} {
			if !strings.Contains(text, want) {
				t.Errorf("the AWS CLI does not read back %q:\n%s", want, out)
			}
		}
	})

	t.Run("SecondSyncWritesNothing", func(t *testing.T) {
		rep, r := run("sync")
		if r.code != 0 || rep.Writes != 0 || rep.Dashboard != "unchanged" {
			t.Errorf("second sync: exit %d, %d writes, dashboard %s", r.code, rep.Writes, rep.Dashboard)
		}
	})

	t.Run("ChangedThresholdUpdatesOneAlarm", func(t *testing.T) {
		name := "layering-detection-eks-local-wash-trading-high-memory"
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("%v %v", out, err)
		}
		a := out.MetricAlarms[0]
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: a.AlarmName, Namespace: a.Namespace, MetricName: a.MetricName,
			Statistic: a.Statistic, Period: a.Period, EvaluationPeriods: a.EvaluationPeriods, Threshold: aws.Float64(95),
			ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.TreatMissingData, Dimensions: a.Dimensions}); err != nil {
			t.Fatal(err)
		}
		rep, r := run("sync")
		var updated []string
		for _, c := range rep.Changes {
			if c.Action == "update" {
				updated = append(updated, c.Alarm)
			}
		}
		if r.code != 0 || len(updated) != 1 || updated[0] != name || rep.Writes != 1 {
			t.Errorf("sync after a drift: exit %d, updated %v, %d writes", r.code, updated, rep.Writes)
		}
	})

	t.Run("StatusGoesAlarmOnHighCPU", func(t *testing.T) {
		publishFromMetricsServer(ctx, t, cw, 150)
		var r pluginRun
		firing := func() bool {
			var st struct {
				Alarms []struct {
					EKS struct{ Alarm, State string } `json:"eks"`
				} `json:"alarms"`
			}
			_ = json.Unmarshal([]byte(r.stdout), &st)
			for _, a := range st.Alarms {
				if a.EKS.Alarm == "layering-detection-eks-local-layering-high-cpu" {
					return a.EKS.State == "ALARM"
				}
			}
			return false
		}
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			withEnv(env, func() {
				r = runPlugin(ctx, t, "alarms", "status", "--env", "local", "--settings", settingsFile, "-o", "json")
			})
			if firing() {
				break
			}
			time.Sleep(3 * time.Second)
		}
		if r.code != 1 || !firing() {
			t.Errorf("status under high CPU: exit %d, layering-detection-eks-local-layering-high-cpu not in ALARM\n%s%s", r.code, r.stdout, r.stderr)
		}
		publishFromMetricsServer(ctx, t, cw, 0)
	})

	t.Run("ThrottledPutMetricAlarmIsSurvived", func(t *testing.T) {
		if _, r := run("delete"); r.code != 0 {
			t.Fatalf("delete: exit %d %s", r.code, r.stderr)
		}
		fault := `{"service":"cloudwatch","operation":"PutMetricAlarm","kind":"throttle","count":3}`
		resp, err := http.Post(env["AWS_ENDPOINT_URL"]+"/_local-aws/faults", "application/json", strings.NewReader(fault))
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("injecting throttling: %v %v", resp, err)
		}
		resp.Body.Close()
		rep, r := run("sync")
		if r.code != 0 || len(rep.Changes) != 13 && len(rep.Changes) != 12 {
			t.Errorf("sync under throttling: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("DeleteRemovesOnlyOurs", func(t *testing.T) {
		if _, r := run("delete"); r.code != 0 {
			t.Fatalf("delete: exit %d %s", r.code, r.stderr)
		}
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("layering-detection-eks-local-")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricAlarms) != 1 || aws.ToString(out.MetricAlarms[0].AlarmName) != foreign {
			t.Errorf("after delete: %d alarms left, want only %s", len(out.MetricAlarms), foreign)
		}
		_, _ = cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{foreign}})
	})
}

func resourceParse(s string) (float64, error) {
	q, err := resourceQuantity(s)
	if err != nil {
		return 0, err
	}
	return q.AsApproximateFloat64(), nil
}

var resourceQuantity = resource.ParseQuantity
