package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Requirement: state survives a restart: what a client wrote is there when a
// new server starts from the same state file, and the rollout goes on.
func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	withState := func(c *Config) { c.StatePath = path }
	first := startServer(t, withState)
	if _, err := cloudwatch.NewFromConfig(first.cfg).PutDashboard(ctx(t), &cloudwatch.PutDashboardInput{DashboardName: aws.String("kept"), DashboardBody: aws.String(`{"widgets":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ecs.NewFromConfig(first.cfg).UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("layering-detection-aggregator"), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	second := startServer(t, withState)
	if _, err := cloudwatch.NewFromConfig(second.cfg).GetDashboard(ctx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String("kept")}); err != nil {
		t.Fatalf("dashboard lost in the restart: %v", err)
	}
	out, err := ecs.NewFromConfig(second.cfg).DescribeServices(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"layering-detection-aggregator"}})
	if err != nil || out.Services[0].DesiredCount != 3 {
		t.Fatalf("desired count lost in the restart: %v %+v", err, out)
	}
}

// Requirement: the fault API refuses a bad fault with a message saying what
// is wrong; faults can be scoped to one operation and cleared.
func TestFaultAPI(t *testing.T) {
	ts := startServer(t)
	resp, err := http.Post(ts.URL+controlPrefix+"faults", "application/json", strings.NewReader(`{"service":"ecs","operation":"*","kind":"explode"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad fault accepted: %s", resp.Status)
	}
	ts.inject(t, Fault{Service: "cloudwatch", Operation: "GetDashboard", Kind: "error", Status: 500})
	c := cloudwatch.NewFromConfig(ts.noRetry())
	_, err = c.GetDashboard(ctx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String("layering-detection-dashboard")})
	assertAPIError(t, err, "InternalFailure", http.StatusInternalServerError)
	if _, err := c.ListDashboards(ctx(t), &cloudwatch.ListDashboardsInput{}); err != nil {
		t.Fatalf("another operation is not affected: %v", err)
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+controlPrefix+"faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("clear: %v", err)
	}
	if _, err := c.GetDashboard(ctx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String("layering-detection-dashboard")}); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
}

// Requirement: a malformed request body is the protocol's serialization error, not a crash.
func TestMalformedBodies(t *testing.T) {
	ts := startServer(t)
	resp, body := ts.rawCall(t, "ecs", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListServices"}, `{"maxResults":"ten"`)
	if resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "SerializationException" {
		t.Fatalf("%s %s", resp.Status, body)
	}
	resp, body = ts.rawCall(t, "ecs", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListServices"}, `{"maxResults":"ten"}`)
	if resp.StatusCode != 400 || !strings.Contains(body, "maxResults") {
		t.Fatalf("%s %s", resp.Status, body)
	}
	_, err := cloudwatch.NewFromConfig(ts.noRetry()).PutMetricAlarm(ctx(t), &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("x"), EvaluationPeriods: aws.Int32(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, Namespace: aws.String("T"), MetricName: aws.String("m"), Statistic: cwtypes.StatisticAverage, Period: aws.Int32(61)})
	assertAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}

// Requirement: a "deny" fault answers as AWS answers a caller whose policies
// do not allow the action, naming it, in each protocol's spelling.
func TestDenyFaultIsAccessDenied(t *testing.T) {
	ts := startServer(t)
	ts.inject(t, Fault{Service: "ecs", Operation: "DescribeTaskDefinition", Kind: "deny"})
	ts.inject(t, Fault{Service: "elbv2", Operation: "*", Kind: "deny"})
	ts.inject(t, Fault{Service: "efs", Operation: "*", Kind: "deny"})
	_, err := ecs.NewFromConfig(ts.noRetry()).DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-layering")})
	assertAPIError(t, err, "AccessDeniedException", http.StatusBadRequest)
	if !strings.Contains(err.Error(), "not authorized to perform: ecs:DescribeTaskDefinition") {
		t.Errorf("the action is not named: %v", err)
	}
	_, err = elasticloadbalancingv2.NewFromConfig(ts.noRetry()).DescribeLoadBalancers(ctx(t), &elasticloadbalancingv2.DescribeLoadBalancersInput{})
	assertAPIError(t, err, "AccessDenied", http.StatusForbidden)
	if !strings.Contains(err.Error(), "elasticloadbalancing:DescribeLoadBalancers") {
		t.Errorf("the action is not named: %v", err)
	}
	_, err = efs.NewFromConfig(ts.noRetry()).DescribeFileSystems(ctx(t), &efs.DescribeFileSystemsInput{})
	assertAPIError(t, err, "AccessDeniedException", http.StatusForbidden)
	if _, err := ecs.NewFromConfig(ts.noRetry()).ListServices(ctx(t), &ecs.ListServicesInput{Cluster: aws.String(cluster)}); err != nil {
		t.Errorf("another operation is allowed: %v", err)
	}
}
