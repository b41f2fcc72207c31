package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	logs "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// awsCLI finds the independent client: Debian's awscli package (make aws-test
// installs it and sets LOCAL_AWS_CLI, which makes its absence a failure).
func awsCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds per call; not in -short")
	}
	if p := os.Getenv("LOCAL_AWS_CLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("LOCAL_AWS_CLI=%s: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	t.Skip("no AWS CLI at /usr/bin/aws (apt-get install -y awscli; make aws-test does)")
	return ""
}

// cli runs the AWS CLI against the test server with only the standard
// configuration: keys and region in the environment, --endpoint-url.
func (ts *testServer) cli(t *testing.T, secret string, args ...string) (map[string]any, string, error) {
	t.Helper()
	cmd := exec.Command(awsCLI(t), append([]string{"--endpoint-url", ts.URL, "--output", "json"}, args...)...)
	home := t.TempDir()
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_ACCESS_KEY_ID=" + testKey, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, stderr.String(), err
	}
	var m map[string]any
	if len(out) > 0 {
		if jerr := json.Unmarshal(out, &m); jerr != nil {
			t.Fatalf("aws %s: not JSON: %v\n%s", strings.Join(args, " "), jerr, out)
		}
	}
	return m, stderr.String(), nil
}

func (ts *testServer) mustCLI(t *testing.T, args ...string) map[string]any {
	t.Helper()
	m, stderr, err := ts.cli(t, testSecret, args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return m
}

// dig walks a decoded JSON document: dig(m, "services", 0, "desiredCount").
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// Requirement: an independent client (the AWS CLI) reads the seeded state and
// what the SDK wrote: ECS describe-services after an UpdateService.
func TestAWSCLIECS(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RolloutStep = time.Hour }) // the CLI reads the deployment in progress
	svc := []string{"ecs", "describe-services", "--cluster", cluster, "--services", "layering-detection-wash-trading"}
	m := ts.mustCLI(t, svc...)
	if dig(m, "services", 0, "desiredCount") != 2.0 || dig(m, "services", 0, "deployments", 0, "rolloutState") != "COMPLETED" {
		t.Fatalf("seeded: %v", dig(m, "services", 0))
	}
	if _, err := ecs.NewFromConfig(ts.cfg).UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster),
		Service: aws.String("layering-detection-wash-trading"), DesiredCount: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	m = ts.mustCLI(t, svc...)
	if dig(m, "services", 0, "desiredCount") != 5.0 || dig(m, "services", 0, "deployments", 0, "rolloutState") != "IN_PROGRESS" {
		t.Fatalf("after UpdateService: %v", dig(m, "services", 0, "deployments"))
	}
	td := ts.mustCLI(t, "ecs", "describe-task-definition", "--task-definition", "layering-detection-orchestrator:2")
	if dig(td, "taskDefinition", "containerDefinitions", 0, "name") != "orchestrator-container" || dig(td, "taskDefinition", "memory") != "1024" {
		t.Fatalf("task definition: %v", td)
	}
}

// Requirement: the AWS CLI reads ELBv2 rules (awsquery XML), including a
// weighted forward the SDK wrote.
func TestAWSCLIELBRules(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.cfg)
	_, h, _ := seededListeners(t, c)
	rules, _ := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: h.ListenerArn})
	ecsTG, eksTG := ts.st.targetGroupArn("aggregator-tg"), ts.st.targetGroupArn("aggregator-eks-tg")
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rules.Rules[3].RuleArn, Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward,
		ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String(ecsTG), Weight: aws.Int32(50)}, {TargetGroupArn: aws.String(eksTG), Weight: aws.Int32(50)}}}}}}); err != nil {
		t.Fatal(err)
	}
	m := ts.mustCLI(t, "elbv2", "describe-rules", "--listener-arn", aws.ToString(h.ListenerArn))
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, dig(m, "Rules", i, "Priority").(string))
	}
	if strings.Join(got, ",") != "100,200,300,400,default" || dig(m, "Rules", 0, "Conditions", 0, "PathPatternConfig", "Values", 0) != "/orchestrate*" ||
		dig(m, "Rules", 3, "Actions", 0, "ForwardConfig", "TargetGroups", 1, "TargetGroupArn") != eksTG ||
		dig(m, "Rules", 3, "Actions", 0, "ForwardConfig", "TargetGroups", 1, "Weight") != 50.0 {
		t.Fatalf("rules %v: %v", got, dig(m, "Rules", 3))
	}
}

// Requirement: the AWS CLI (awsquery) pages through the alarms, sees an alarm
// the SDK wrote over rpc-v2-cbor, and writes one the SDK reads.
func TestAWSCLICloudWatchAlarms(t *testing.T) {
	ts := startServer(t)
	c := cloudwatch.NewFromConfig(ts.cfg)
	if _, err := c.PutMetricAlarm(ctx(t), &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("sdk-alarm"), Namespace: aws.String("ContainerInsights"),
		MetricName: aws.String("pod_cpu_utilization_over_pod_limit"), Statistic: cwtypes.StatisticAverage, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(2),
		Threshold: aws.Float64(80), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching")}); err != nil {
		t.Fatal(err)
	}
	// --page-size makes the CLI follow NextToken itself.
	m := ts.mustCLI(t, "cloudwatch", "describe-alarms", "--page-size", "5")
	alarms, _ := m["MetricAlarms"].([]any)
	names := map[string]string{}
	for _, a := range alarms {
		names[dig(a, "AlarmName").(string)] = dig(a, "StateValue").(string)
	}
	if len(alarms) != 13 || names["sdk-alarm"] != "OK" || names["layering-detection-orchestrator-low-task-count"] != "OK" {
		t.Fatalf("%d alarms: %v", len(alarms), names)
	}
	ts.mustCLI(t, "cloudwatch", "put-metric-alarm", "--alarm-name", "cli-alarm", "--namespace", "Test", "--metric-name", "errors",
		"--statistic", "Sum", "--period", "60", "--evaluation-periods", "1", "--threshold", "5", "--comparison-operator", "GreaterThanOrEqualToThreshold",
		"--dimensions", "Name=Service,Value=orchestrator")
	out, err := c.DescribeAlarms(ctx(t), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"cli-alarm"}})
	if err != nil || len(out.MetricAlarms) != 1 || aws.ToString(out.MetricAlarms[0].Dimensions[0].Value) != "orchestrator" || aws.ToFloat64(out.MetricAlarms[0].Threshold) != 5 {
		t.Fatalf("the SDK reads the CLI's alarm: %v %+v", err, out)
	}
	_, stderr, err := ts.cli(t, testSecret, "cloudwatch", "get-dashboard", "--dashboard-name", "nope")
	if err == nil || !strings.Contains(stderr, "(ResourceNotFound)") {
		t.Fatalf("missing dashboard: %v %s", err, stderr)
	}
	_, stderr, err = ts.cli(t, "wrong-secret", "cloudwatch", "describe-alarms")
	if err == nil || !strings.Contains(stderr, "(SignatureDoesNotMatch)") {
		t.Fatalf("wrong secret: %v %s", err, stderr)
	}
}

// Requirement: the AWS CLI finds with filter-log-events what the SDK put.
func TestAWSCLILogs(t *testing.T) {
	ts := startServer(t)
	c := logs.NewFromConfig(ts.cfg)
	group := "/ecs/layering-detection/orchestrator"
	if _, err := c.CreateLogStream(ctx(t), &logs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	if _, err := c.PutLogEvents(ctx(t), &logs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("test"), LogEvents: []logstypes.InputLogEvent{
		{Timestamp: aws.Int64(now), Message: aws.String("pipeline request r-1 failed: aggregator timeout")},
		{Timestamp: aws.Int64(now + 1), Message: aws.String("pipeline request r-2 completed")}}}); err != nil {
		t.Fatal(err)
	}
	m := ts.mustCLI(t, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "failed")
	if events, _ := m["events"].([]any); len(events) != 1 || dig(events, 0, "message") != "pipeline request r-1 failed: aggregator timeout" || dig(events, 0, "logStreamName") != "test" {
		t.Fatalf("events: %v", m["events"])
	}
	m = ts.mustCLI(t, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "listening", "--log-stream-name-prefix", "ecs/orchestrator-container/")
	if events, _ := m["events"].([]any); len(events) != 1 {
		t.Fatalf("seeded start-up lines: %v", m["events"])
	}
}

// Requirement: the remaining services answer the AWS CLI as seeded (STS,
// Application Auto Scaling, EFS restJson1, Secrets Manager).
func TestAWSCLIOtherServices(t *testing.T) {
	ts := startServer(t)
	if m := ts.mustCLI(t, "sts", "get-caller-identity"); m["Account"] != "210987654321" {
		t.Fatalf("sts: %v", m)
	}
	if m := ts.mustCLI(t, "application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs"); len(m["ScalableTargets"].([]any)) != 4 {
		t.Fatalf("scalable targets: %v", m)
	}
	if m := ts.mustCLI(t, "efs", "describe-access-points", "--file-system-id", "fs-0a7c3e91b25d48f60"); dig(m, "AccessPoints", 2, "RootDirectory", "Path") != "/logs" {
		t.Fatalf("access points: %v", m)
	}
	if m := ts.mustCLI(t, "secretsmanager", "describe-secret", "--secret-id", "layering-detection/prod/pseudonymization-salt"); !strings.HasPrefix(dig(m, "ARN").(string), "arn:aws:secretsmanager:us-east-1:210987654321:secret:layering-detection/prod/pseudonymization-salt-") {
		t.Fatalf("secret: %v", m)
	}
}
