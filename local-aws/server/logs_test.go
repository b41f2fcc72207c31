package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	logs "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Requirement: the services' log groups /ecs/layering-detection/<service>
// (retention 7 days) with one stream per running task.
func TestLogsSeededGroups(t *testing.T) {
	ts := startServer(t)
	c := logs.NewFromConfig(ts.cfg)
	out, err := c.DescribeLogGroups(ctx(t), &logs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/ecs/layering-detection/")})
	if err != nil || len(out.LogGroups) != 4 {
		t.Fatalf("%v %+v", err, out)
	}
	for _, g := range out.LogGroups {
		if aws.ToInt32(g.RetentionInDays) != 7 || !strings.HasSuffix(aws.ToString(g.Arn), ":*") {
			t.Errorf("%s: %+v", aws.ToString(g.LogGroupName), g)
		}
	}
	streams, err := c.DescribeLogStreams(ctx(t), &logs.DescribeLogStreamsInput{LogGroupName: aws.String("/ecs/layering-detection/layering"), LogStreamNamePrefix: aws.String("ecs/layering-container/")})
	if err != nil || len(streams.LogStreams) != 2 || streams.LogStreams[0].LastEventTimestamp == nil {
		t.Fatalf("%v %+v", err, streams)
	}
}

// Requirement: PutLogEvents then FilterLogEvents finds them by term pattern
// and pages with nextToken; unknown group/stream are ResourceNotFoundException.
func TestLogsPutAndFilter(t *testing.T) {
	ts := startServer(t)
	c := logs.NewFromConfig(ts.noRetry())
	group := aws.String("/ecs/layering-detection/aggregator")
	if _, err := c.CreateLogStream(ctx(t), &logs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String("test/1")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var events []logstypes.InputLogEvent
	for i := 0; i < 7; i++ {
		level := "INFO"
		if i%2 == 1 {
			level = "ERROR"
		}
		events = append(events, logstypes.InputLogEvent{Timestamp: aws.Int64(now + int64(i)), Message: aws.String(fmt.Sprintf("%s merged %d detections", level, i))})
	}
	if _, err := c.PutLogEvents(ctx(t), &logs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("test/1"), LogEvents: events}); err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	p := logs.NewFilterLogEventsPaginator(c, &logs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`ERROR "merged"`), Limit: aws.Int32(2), StartTime: aws.Int64(now)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
	}
	if pages != 2 || strings.Join(got, "|") != "ERROR merged 1 detections|ERROR merged 3 detections|ERROR merged 5 detections" {
		t.Fatalf("%d pages: %v", pages, got)
	}
	_, err := c.PutLogEvents(ctx(t), &logs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("nope"), LogEvents: events})
	assertAPIError(t, err, "ResourceNotFoundException", http.StatusBadRequest)
	_, err = c.FilterLogEvents(ctx(t), &logs.FilterLogEventsInput{LogGroupName: aws.String("/nope")})
	var nf *logstypes.ResourceNotFoundException
	if !errorsAs(err, &nf) {
		t.Fatalf("want ResourceNotFoundException, got %v", err)
	}
	_, err = c.PutLogEvents(ctx(t), &logs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("test/1"),
		LogEvents: []logstypes.InputLogEvent{events[1], events[0]}})
	assertAPIError(t, err, "InvalidParameterException", http.StatusBadRequest)
	_, err = c.FilterLogEvents(ctx(t), &logs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`{ $.level = "ERROR" }`)})
	assertAPIError(t, err, "InvalidParameterException", http.StatusBadRequest)
}

// Requirement: injected 5xx and latency reach the client as the SDK sees
// them: a 503 exhausts the retryer; latency delays the answer.
func TestLogsInjectedFaults(t *testing.T) {
	ts := startServer(t)
	ts.inject(t, Fault{Service: "logs", Operation: "DescribeLogGroups", Kind: "error", Status: 503})
	_, err := logs.NewFromConfig(ts.noRetry()).DescribeLogGroups(ctx(t), &logs.DescribeLogGroupsInput{})
	assertAPIError(t, err, "ServiceUnavailableException", http.StatusServiceUnavailable)
	ts.inject(t, Fault{Service: "logs", Operation: "DescribeLogStreams", Kind: "latency", LatencyMS: 300})
	start := time.Now()
	if _, err := logs.NewFromConfig(ts.cfg).DescribeLogStreams(ctx(t), &logs.DescribeLogStreamsInput{LogGroupName: aws.String("/ecs/layering-detection/layering")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("latency fault not applied: %s", d)
	}
}
