package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// What the cutover (issue 14) needs beyond the seed: tags on ECS services,
// and target health a test sets (no load balancer health-checks anything here).

// Requirement: ECS TagResource, ListTagsForResource and UntagResource on a
// service round-trip through the SDK; DescribeServices include=TAGS shows them;
// an unknown ARN is InvalidParameterException.
func TestECSServiceTags(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.noRetry())
	arn := ts.st.arn("ecs", "service/"+cluster+"/layering-detection-layering")
	if _, err := c.TagResource(ctx(t), &ecs.TagResourceInput{ResourceArn: aws.String(arn),
		Tags: []ecstypes.Tag{{Key: aws.String("kubectl-layering/recorded"), Value: aws.String("desired=2,min=1,max=10")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx(t), &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, tag := range tags.Tags {
		found[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if found["kubectl-layering/recorded"] != "desired=2,min=1,max=10" || found["Service"] != "layering" {
		t.Fatalf("tags = %v", found)
	}
	svcs, err := c.DescribeServices(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{arn}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil || len(svcs.Services[0].Tags) != 3 {
		t.Fatalf("describe with tags: %v %+v", err, svcs)
	}
	if _, err := c.UntagResource(ctx(t), &ecs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"kubectl-layering/recorded"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = c.ListTagsForResource(ctx(t), &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if len(tags.Tags) != 2 {
		t.Fatalf("after untag: %+v", tags.Tags)
	}
	_, err = c.TagResource(ctx(t), &ecs.TagResourceInput{ResourceArn: aws.String(arn + "x"), Tags: []ecstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	assertAPIError(t, err, "InvalidParameterException", http.StatusBadRequest)
}

func setTargetHealth(t *testing.T, ts *testServer, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(ts.URL+controlPrefix+"target-health", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Requirement: the control API sets the health of every target of a target
// group (the Kubernetes side's, registered as the load balancer controller
// would, or an ECS one), DescribeTargetHealth reports it with ELBv2's reason,
// and clearing it returns to the simulation's health.
func TestTargetHealthOverride(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.cfg)
	eks := ts.st.targetGroupArn("layering-eks-tg")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(eks),
		Targets: []elbtypes.TargetDescription{{Id: aws.String("10.244.0.17"), Port: aws.Int32(8001)}}}); err != nil {
		t.Fatal(err)
	}
	states := func(arn string) (out []string) {
		h, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range h.TargetHealthDescriptions {
			out = append(out, string(d.TargetHealth.State)+" "+string(d.TargetHealth.Reason))
		}
		return out
	}
	if got := states(eks); len(got) != 1 || got[0] != "healthy " {
		t.Fatalf("registered target: %v", got)
	}
	if resp := setTargetHealth(t, ts, `{"targetGroup":"layering-detection-layering-eks-tg","state":"unhealthy"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("set: %s", resp.Status)
	}
	if got := states(eks); len(got) != 1 || got[0] != "unhealthy Target.FailedHealthChecks" {
		t.Fatalf("overridden: %v", got)
	}
	ecsTG := ts.st.targetGroupArn("layering-tg")
	setTargetHealth(t, ts, `{"targetGroup":"`+ecsTG+`","state":"unhealthy"}`)
	if got := states(ecsTG); len(got) != 2 || got[1] != "unhealthy Target.FailedHealthChecks" {
		t.Fatalf("ECS target group overridden: %v", got)
	}
	setTargetHealth(t, ts, `{"targetGroup":"layering-detection-layering-eks-tg","state":""}`)
	if got := states(eks); got[0] != "healthy " {
		t.Fatalf("cleared: %v", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+controlPrefix+"target-health", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("clear all: %v %v", resp, err)
	}
	if got := states(ecsTG); got[0] != "healthy " {
		t.Fatalf("all cleared: %v", got)
	}
	for _, bad := range []string{`{"targetGroup":"nope","state":"unhealthy"}`, `{"targetGroup":"layering-detection-layering-eks-tg","state":"sick"}`, `not json`} {
		resp := setTargetHealth(t, ts, bad)
		var e map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", bad, resp.Status)
		}
	}
}

// Requirement: DeleteTargetGroup removes an unused target group and refuses
// one a rule forwards to (ResourceInUse), as ELBv2 does.
func TestDeleteTargetGroup(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.noRetry())
	if _, err := c.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(ts.st.targetGroupArn("layering-tg"))}); err == nil {
		t.Fatal("deleted a target group a rule forwards to")
	} else {
		assertAPIError(t, err, "ResourceInUse", http.StatusBadRequest)
	}
	if _, err := c.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(ts.st.targetGroupArn("layering-eks-tg"))}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"layering-detection-layering-eks-tg"}})
	assertAPIError(t, err, "TargetGroupNotFound", http.StatusBadRequest)
}
