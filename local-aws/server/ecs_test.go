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
		len(ct.Secrets) != 2 || len(d.Volumes) != 2 || aws.ToString(d.Volumes[1].EfsVolumeConfiguration.AuthorizationConfig.AccessPointId) != "fsap-0e9a4b7c2d5f1a803" ||
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

// Requirement: RegisterTaskDefinition adds the family's next revision (what a
// deploy pipeline registers before UpdateService); DescribeTaskDefinition by
// family then returns it, and UpdateService rolls the service onto it.
func TestECSRegisterTaskDefinitionNextRevision(t *testing.T) {
	ts := startServer(t)
	c := ecs.NewFromConfig(ts.cfg)
	cur, err := c.DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-orchestrator")})
	if err != nil {
		t.Fatal(err)
	}
	d := cur.TaskDefinition
	ct := d.ContainerDefinitions[0]
	for i, kv := range ct.Environment {
		if aws.ToString(kv.Name) == "MAX_RETRIES" {
			ct.Environment[i].Value = aws.String("5")
		}
	}
	out, err := c.RegisterTaskDefinition(ctx(t), &ecs.RegisterTaskDefinitionInput{Family: d.Family, ContainerDefinitions: []ecstypes.ContainerDefinition{ct},
		Volumes: d.Volumes, Cpu: d.Cpu, Memory: d.Memory, NetworkMode: d.NetworkMode, RequiresCompatibilities: d.RequiresCompatibilities,
		TaskRoleArn: d.TaskRoleArn, ExecutionRoleArn: d.ExecutionRoleArn})
	if err != nil {
		t.Fatal(err)
	}
	if out.TaskDefinition.Revision != 3 || !strings.HasSuffix(aws.ToString(out.TaskDefinition.TaskDefinitionArn), ":task-definition/layering-detection-orchestrator:3") ||
		len(out.TaskDefinition.Volumes) != 1 || aws.ToString(out.TaskDefinition.Volumes[0].EfsVolumeConfiguration.AuthorizationConfig.AccessPointId) != "fsap-04d1e8a2b7c3f5901" {
		t.Fatalf("registered %+v", out.TaskDefinition)
	}
	latest, err := c.DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-orchestrator")})
	if err != nil || latest.TaskDefinition.Revision != 3 {
		t.Fatalf("latest revision: %v %v", latest, err)
	}
	env := map[string]string{}
	for _, kv := range latest.TaskDefinition.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["MAX_RETRIES"] != "5" || env["LAYERING_SERVICE_URL"] != "http://layering-service:8001" {
		t.Fatalf("environment of revision 3: %v", env)
	}
	up, err := c.UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("layering-detection-orchestrator"),
		TaskDefinition: aws.String("layering-detection-orchestrator:3")})
	if err != nil || !strings.HasSuffix(aws.ToString(up.Service.TaskDefinition), ":3") {
		t.Fatalf("UpdateService to revision 3: %v %v", up, err)
	}
	// A new family starts at 1; a container without an image or a mount of an unknown volume is refused.
	n, err := c.RegisterTaskDefinition(ctx(t), &ecs.RegisterTaskDefinitionInput{Family: aws.String("other"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox")}}})
	if err != nil || n.TaskDefinition.Revision != 1 {
		t.Fatalf("new family: %v %v", n, err)
	}
	nr := ecs.NewFromConfig(ts.noRetry())
	_, err = nr.RegisterTaskDefinition(ctx(t), &ecs.RegisterTaskDefinitionInput{Family: aws.String("other"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("c")}}})
	assertAPIError(t, err, "ClientException", http.StatusBadRequest)
	_, err = nr.RegisterTaskDefinition(ctx(t), &ecs.RegisterTaskDefinitionInput{Family: aws.String("other"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox"),
			MountPoints: []ecstypes.MountPoint{{SourceVolume: aws.String("nope"), ContainerPath: aws.String("/x")}}}}})
	assertAPIError(t, err, "ClientException", http.StatusBadRequest)
	_, err = nr.RegisterTaskDefinition(ctx(t), &ecs.RegisterTaskDefinitionInput{Family: aws.String("bad family"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox")}}})
	assertAPIError(t, err, "ClientException", http.StatusBadRequest)
}
