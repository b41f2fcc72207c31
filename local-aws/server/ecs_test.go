package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const cluster = "layering-detection-cluster"

// Requirement: the seeded cluster, services and task definitions are the ECS baseline's.
func TestECSSeedIsTheBaseline(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.cfg)
	cl, err := c.DescribeClusters(ctx(t), &ecs.DescribeClustersInput{Clusters: []string{cluster}, Include: []ecstypes.ClusterField{ecstypes.ClusterFieldSettings}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Clusters) != 1 || cl.Clusters[0].ActiveServicesCount != 4 || cl.Clusters[0].RunningTasksCount != 6 ||
		aws.ToString(cl.Clusters[0].Settings[0].Value) != "enabled" {
		t.Fatalf("cluster = %+v", cl.Clusters)
	}
	svcs, err := c.DescribeServices(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster),
		Services: []string{"layering-detection-orchestrator", "layering-detection-layering", "layering-detection-wash-trading", "layering-detection-aggregator"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int32{"layering-detection-orchestrator": 1, "layering-detection-layering": 2, "layering-detection-wash-trading": 2, "layering-detection-aggregator": 1}
	for _, s := range svcs.Services {
		if s.DesiredCount != want[aws.ToString(s.ServiceName)] || s.RunningCount != s.DesiredCount || len(s.Deployments) != 1 ||
			s.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted || *s.DeploymentConfiguration.MaximumPercent != 200 {
			t.Fatalf("service %s = desired %d running %d deployments %d", aws.ToString(s.ServiceName), s.DesiredCount, s.RunningCount, len(s.Deployments))
		}
	}
	td, err := c.DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-aggregator")})
	if err != nil {
		t.Fatal(err)
	}
	d := td.TaskDefinition
	ct := d.ContainerDefinitions[0]
	if d.Revision != 2 || aws.ToString(d.Cpu) != "512" || aws.ToString(d.Memory) != "512" || aws.ToString(ct.Name) != "aggregator-container" ||
		len(ct.Secrets) != 2 || len(d.Volumes) != 2 || aws.ToString(d.Volumes[1].EfsVolumeConfiguration.AuthorizationConfig.AccessPointId) != "fsap-0000000000000003c" ||
		ct.LogConfiguration.Options["awslogs-group"] != "/ecs/layering-detection/aggregator" || ct.HealthCheck.Interval == nil || *ct.HealthCheck.Interval != 30 {
		t.Fatalf("aggregator task definition = %+v", d)
	}
}

// Requirement: ListServices pages with nextToken; a token it did not issue is InvalidParameterException.
func TestECSListServicesPagination(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.noRetry())
	var all []string
	pages := 0
	p := ecs.NewListServicesPaginator(c, &ecs.ListServicesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.ServiceArns...)
	}
	if pages != 2 || len(all) != 4 {
		t.Fatalf("pages %d, services %v", pages, all)
	}
	_, err := c.ListServices(ctx(t), &ecs.ListServicesInput{Cluster: aws.String(cluster), NextToken: aws.String("bogus")})
	assertAPIError(t, err, "InvalidParameterException", http.StatusBadRequest)
}

// Requirement: ECS errors are awsJson's: unknown cluster is ClusterNotFoundException,
// unknown services are MISSING failures, unknown task definitions ClientException.
func TestECSErrors(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.noRetry())
	_, err := c.ListServices(ctx(t), &ecs.ListServicesInput{Cluster: aws.String("nope")})
	assertAPIError(t, err, "ClusterNotFoundException", http.StatusBadRequest)
	var cnf *ecstypes.ClusterNotFoundException
	if !errorsAs(err, &cnf) {
		t.Fatalf("not the modeled ClusterNotFoundException: %T", err)
	}
	out, err := c.DescribeServices(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"nope"}})
	if err != nil || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Fatalf("describe missing service: %v %+v", err, out)
	}
	_, err = c.DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope:9")})
	assertAPIError(t, err, "ClientException", http.StatusBadRequest)
	_, err = c.UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("nope")})
	assertAPIError(t, err, "ServiceNotFoundException", http.StatusBadRequest)
}

// Requirement: a wrong signature on awsJson is InvalidSignatureException, no
// signature MissingAuthenticationTokenException.
func TestECSSignatureErrors(t *testing.T) {
	ts := startServer(t)
	_, err := ecs.NewFromConfig(ts.badSecret(t)).ListServices(ctx(t), &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	assertAPIError(t, err, "InvalidSignatureException", http.StatusBadRequest)
	c := ts.noRetry()
	c.Credentials = aws.AnonymousCredentials{}
	_, err = ecs.NewFromConfig(c).ListServices(ctx(t), &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	assertAPIError(t, err, "MissingAuthenticationTokenException", http.StatusBadRequest)
}

// Requirement: UpdateService to another task definition rolls out IN_PROGRESS →
// COMPLETED over a few steps, and the SDK's ServicesStable waiter sees it finish.
func TestECSUpdateServiceRolloutAndWaiter(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.cfg)
	out, err := c.UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("layering-detection-layering"),
		TaskDefinition: aws.String("layering-detection-layering:1"), DesiredCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Service
	if len(s.Deployments) != 2 || s.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateInProgress ||
		!strings.HasSuffix(aws.ToString(s.TaskDefinition), ":1") || s.DesiredCount != 3 {
		t.Fatalf("right after UpdateService: %+v", s.Deployments)
	}
	start := time.Now()
	w := ecs.NewServicesStableWaiter(c, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"layering-detection-layering"}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	final, err := c.DescribeServices(ctx(t), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"layering-detection-layering"}})
	if err != nil {
		t.Fatal(err)
	}
	f := final.Services[0]
	// 3 tasks started and 2 stopped, one step each, plus completion: at least 6 steps of 50 ms.
	if f.RunningCount != 3 || len(f.Deployments) != 1 || f.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("after the waiter: running %d deployments %+v after %s", f.RunningCount, f.Deployments, time.Since(start))
	}
	if !strings.Contains(aws.ToString(f.Events[0].Message), "has reached a steady state") {
		t.Fatalf("latest event: %s", aws.ToString(f.Events[0].Message))
	}
}
