package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Requirement: the 12 ECS alarms are seeded, evaluated from the services'
// AWS/ECS metrics (OK while tasks run), and DescribeAlarms pages over rpc-v2-cbor.
func TestCloudWatchSeededAlarmsPaginateOverCBOR(t *testing.T) {
	ts := startServer(t)
	c := cloudwatch.NewFromConfig(ts.cfg)
	var alarms []cwtypes.MetricAlarm
	pages := 0
	p := cloudwatch.NewDescribeAlarmsPaginator(c, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("layering-detection-"), MaxRecords: aws.Int32(5)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		alarms = append(alarms, out.MetricAlarms...)
	}
	if pages != 3 || len(alarms) != 12 {
		t.Fatalf("%d pages, %d alarms", pages, len(alarms))
	}
	for _, a := range alarms {
		if a.StateValue != cwtypes.StateValueOk || aws.ToString(a.Namespace) != "AWS/ECS" || len(a.Dimensions) != 2 {
			t.Errorf("%s: state %s (%s)", aws.ToString(a.AlarmName), a.StateValue, aws.ToString(a.StateReason))
		}
		if strings.HasSuffix(aws.ToString(a.AlarmName), "-high-memory") && (aws.ToFloat64(a.Threshold) != 85 || aws.ToInt32(a.Period) != 300 || aws.ToInt32(a.EvaluationPeriods) != 2) {
			t.Errorf("%s = %+v", aws.ToString(a.AlarmName), a)
		}
	}
	_, err := cloudwatch.NewFromConfig(ts.noRetry()).DescribeAlarms(ctx(t), &cloudwatch.DescribeAlarmsInput{NextToken: aws.String("nope")})
	assertAPIError(t, err, "InvalidNextToken", http.StatusBadRequest)
}

// Requirement: an alarm evaluates what PutMetricData stored: OK → ALARM when
// the data breaches; INSUFFICIENT_DATA without data.
func TestCloudWatchAlarmEvaluatesPutMetricData(t *testing.T) {
	ts := startServer(t)
	c := cloudwatch.NewFromConfig(ts.cfg)
	dims := []cwtypes.Dimension{{Name: aws.String("ClusterName"), Value: aws.String("eks")}, {Name: aws.String("Service"), Value: aws.String("layering")}}
	_, err := c.PutMetricAlarm(ctx(t), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("t-high-cpu"), Namespace: aws.String("ContainerInsights"), MetricName: aws.String("pod_cpu_utilization_over_pod_limit"),
		Dimensions: dims, Statistic: cwtypes.StatisticMaximum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(2),
		Threshold: aws.Float64(80), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		Tags: []cwtypes.Tag{{Key: aws.String("owner"), Value: aws.String("test")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	state := func() cwtypes.MetricAlarm {
		out, err := c.DescribeAlarms(ctx(t), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"t-high-cpu"}})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("describe: %v %+v", err, out)
		}
		return out.MetricAlarms[0]
	}
	if s := state(); s.StateValue != cwtypes.StateValueInsufficientData {
		t.Fatalf("without data: %s", s.StateValue)
	}
	put := func(v float64, ago time.Duration) {
		_, err := c.PutMetricData(ctx(t), &cloudwatch.PutMetricDataInput{Namespace: aws.String("ContainerInsights"), MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String("pod_cpu_utilization_over_pod_limit"), Dimensions: dims, Value: aws.Float64(v), Timestamp: aws.Time(time.Now().Add(-ago))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(50, 90*time.Second)
	put(40, 10*time.Second)
	if s := state(); s.StateValue != cwtypes.StateValueOk {
		t.Fatalf("under the threshold: %s %s", s.StateValue, aws.ToString(s.StateReason))
	}
	put(95, 80*time.Second)
	put(99, 5*time.Second)
	s := state()
	if s.StateValue != cwtypes.StateValueAlarm || !strings.Contains(aws.ToString(s.StateReason), "greater than the threshold (80)") {
		t.Fatalf("over the threshold: %s %s", s.StateValue, aws.ToString(s.StateReason))
	}
	tags, err := c.ListTagsForResource(ctx(t), &cloudwatch.ListTagsForResourceInput{ResourceARN: s.AlarmArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "test" {
		t.Fatalf("tags: %v %+v", err, tags)
	}
	if _, err := c.TagResource(ctx(t), &cloudwatch.TagResourceInput{ResourceARN: s.AlarmArn, Tags: []cwtypes.Tag{{Key: aws.String("team"), Value: aws.String("surveillance")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAlarms(ctx(t), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"t-high-cpu"}}); err != nil {
		t.Fatal(err)
	}
	_, err = cloudwatch.NewFromConfig(ts.noRetry()).DeleteAlarms(ctx(t), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"t-high-cpu"}})
	assertAPIError(t, err, "ResourceNotFound", http.StatusNotFound)
	_, err = cloudwatch.NewFromConfig(ts.noRetry()).ListTagsForResource(ctx(t), &cloudwatch.ListTagsForResourceInput{ResourceARN: s.AlarmArn})
	assertAPIError(t, err, "ResourceNotFoundException", http.StatusNotFound)
}

// Requirement: seeded AWS/ECS metrics follow the ECS service; the
// low-task-count alarm goes to ALARM when the service is scaled to zero.
func TestCloudWatchLowTaskCountFollowsECS(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	ts := startServer(t, func(c *Config) { c.Now = func() time.Time { return clock() } })
	ts.mu.Lock()
	svc := ts.st.ECS.Services[3]
	svc.Service.Deployments[0].DesiredCount, svc.Service.DesiredCount = 0, 0
	ts.st.ecsDeploy(svc, svc.Service.TaskDefinition, false, now)
	ts.mu.Unlock()
	clock = func() time.Time { return now.Add(2 * time.Minute) }
	ts.mu.Lock()
	ts.st.advance(clock(), time.Second)
	_, a := ts.st.findAlarm("layering-detection-aggregator-low-task-count")
	_, other := ts.st.findAlarm("layering-detection-orchestrator-low-task-count")
	state, otherState := a.StateValue, other.StateValue
	ts.mu.Unlock()
	if state != "ALARM" || otherState != "OK" {
		t.Fatalf("aggregator at 0 tasks: %s; orchestrator: %s", state, otherState)
	}
}

// Requirement: dashboards round-trip; a missing one is DashboardNotFoundError
// (query code ResourceNotFound); a bad body is refused; ListDashboards pages.
func TestCloudWatchDashboards(t *testing.T) {
	ts := startServer(t)
	old := dashboardPage
	dashboardPage = 2
	t.Cleanup(func() { dashboardPage = old })
	c := cloudwatch.NewFromConfig(ts.noRetry())
	got, err := c.GetDashboard(ctx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String("layering-detection-dashboard")})
	if err != nil || strings.Count(aws.ToString(got.DashboardBody), `"type":"metric"`) != 4 {
		t.Fatalf("seeded dashboard: %v %s", err, aws.ToString(got.DashboardBody))
	}
	for i := 0; i < 3; i++ {
		if _, err := c.PutDashboard(ctx(t), &cloudwatch.PutDashboardInput{DashboardName: aws.String(fmt.Sprintf("d%d", i)), DashboardBody: aws.String(`{"widgets":[]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := cloudwatch.NewListDashboardsPaginator(c, &cloudwatch.ListDashboardsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.DashboardEntries {
			names = append(names, aws.ToString(e.DashboardName))
		}
	}
	if strings.Join(names, ",") != "d0,d1,d2,layering-detection-dashboard" {
		t.Fatalf("dashboards: %v", names)
	}
	if _, err := c.DeleteDashboards(ctx(t), &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{"d0"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDashboard(ctx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String("d0")})
	var nf *cwtypes.DashboardNotFoundError
	if !errorsAs(err, &nf) {
		t.Fatalf("want DashboardNotFoundError, got %v", err)
	}
	assertAPIError(t, err, "ResourceNotFound", http.StatusNotFound)
	_, err = c.PutDashboard(ctx(t), &cloudwatch.PutDashboardInput{DashboardName: aws.String("bad"), DashboardBody: aws.String(`{"widgets":`)})
	assertAPIError(t, err, "InvalidParameterInput", http.StatusBadRequest)
}

// Requirement: GetMetricData aggregates stored data per period and pages by
// MaxDatapoints; ListMetrics finds the series by dimension.
func TestCloudWatchGetMetricDataAndListMetrics(t *testing.T) {
	ts := startServer(t)
	c := cloudwatch.NewFromConfig(ts.cfg)
	base := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	var data []cwtypes.MetricDatum
	for i := 0; i < 10; i++ {
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String("requests"), Dimensions: []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("orchestrator")}},
			Values: []float64{float64(i), float64(i + 10)}, Timestamp: aws.Time(base.Add(time.Duration(i) * time.Minute))})
	}
	if _, err := c.PutMetricData(ctx(t), &cloudwatch.PutMetricDataInput{Namespace: aws.String("Test"), MetricData: data}); err != nil {
		t.Fatal(err)
	}
	lm, err := c.ListMetrics(ctx(t), &cloudwatch.ListMetricsInput{Namespace: aws.String("Test"), Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Service")}}})
	if err != nil || len(lm.Metrics) != 1 {
		t.Fatalf("list metrics: %v %+v", err, lm)
	}
	var ts2 []time.Time
	var vals []float64
	p := cloudwatch.NewGetMetricDataPaginator(c, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(base), EndTime: aws.Time(base.Add(10 * time.Minute)), MaxDatapoints: aws.Int32(4), ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), MetricStat: &cwtypes.MetricStat{Metric: &lm.Metrics[0], Period: aws.Int32(60), Stat: aws.String("Sum")}}},
	})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		ts2 = append(ts2, out.MetricDataResults[0].Timestamps...)
		vals = append(vals, out.MetricDataResults[0].Values...)
	}
	if pages != 3 || len(vals) != 10 || vals[0] != 10 || vals[9] != 28 || !ts2[0].Equal(base) {
		t.Fatalf("pages %d values %v first %v", pages, vals, ts2)
	}
	_, err = cloudwatch.NewFromConfig(ts.noRetry()).PutMetricData(ctx(t), &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/ECS"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1)}}})
	assertAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}

// Requirement: CBOR carries throttling as ThrottlingException with the query
// code Throttling; the SDK's retryer retries it and then succeeds.
func TestCloudWatchThrottlingIsRetried(t *testing.T) {
	ts := startServer(t)
	ts.inject(t, Fault{Service: "cloudwatch", Operation: "DescribeAlarms", Kind: "throttle", Count: 2})
	if _, err := cloudwatch.NewFromConfig(ts.cfg).DescribeAlarms(ctx(t), &cloudwatch.DescribeAlarmsInput{}); err != nil {
		t.Fatalf("the retryer should have got through 2 throttles: %v", err)
	}
	ts.inject(t, Fault{Service: "cloudwatch", Operation: "*", Kind: "throttle", Count: 1})
	_, err := cloudwatch.NewFromConfig(ts.noRetry()).ListMetrics(ctx(t), &cloudwatch.ListMetricsInput{})
	assertAPIError(t, err, "Throttling", http.StatusBadRequest)
}
