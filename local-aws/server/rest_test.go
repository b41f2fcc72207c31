package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Requirement: scalable targets (min/max of the baseline) and the CPU 70 % /
// memory 80 % target-tracking policies with cooldowns 300/60 s, paged.
func TestAutoScalingSeeded(t *testing.T) {
	ts := startServer(t)
	c := aas.NewFromConfig(ts.noRetry())
	var targets []aastypes.ScalableTarget
	p := aas.NewDescribeScalableTargetsPaginator(c, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		targets = append(targets, out.ScalableTargets...)
	}
	if pages != 2 || len(targets) != 4 || aws.ToInt32(targets[1].MaxCapacity) != 10 || aws.ToInt32(targets[0].MaxCapacity) != 5 || targets[0].CreationTime == nil {
		t.Fatalf("%d pages: %+v", pages, targets)
	}
	pol, err := c.DescribeScalingPolicies(ctx(t), &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String("service/layering-detection-cluster/layering-detection-layering")})
	if err != nil || len(pol.ScalingPolicies) != 2 {
		t.Fatalf("%v %+v", err, pol)
	}
	cfg := pol.ScalingPolicies[1].TargetTrackingScalingPolicyConfiguration
	if aws.ToFloat64(cfg.TargetValue) != 80 || aws.ToInt32(cfg.ScaleInCooldown) != 300 || aws.ToInt32(cfg.ScaleOutCooldown) != 60 ||
		cfg.PredefinedMetricSpecification.PredefinedMetricType != aastypes.MetricTypeECSServiceAverageMemoryUtilization {
		t.Fatalf("memory policy %+v", cfg)
	}
	_, err = c.DescribeScalableTargets(ctx(t), &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, NextToken: aws.String("x")})
	assertAPIError(t, err, "InvalidNextTokenException", http.StatusBadRequest)
}

// Requirement: RegisterScalableTarget changes min/max and, like AWS, moves
// the ECS service's desired count into the range; unknown services are a
// ValidationException.
func TestAutoScalingRegisterMovesDesiredCount(t *testing.T) {
	ts := startServer(t)
	c := aas.NewFromConfig(ts.noRetry())
	resource := aws.String("service/layering-detection-cluster/layering-detection-orchestrator")
	if _, err := c.RegisterScalableTarget(ctx(t), &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource,
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(6)}); err != nil {
		t.Fatal(err)
	}
	e := ecs.NewFromConfig(ts.cfg)
	in := &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"layering-detection-orchestrator"}}
	if err := ecs.NewServicesStableWaiter(e, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).Wait(ctx(t), in, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	out, _ := e.DescribeServices(ctx(t), in)
	if out.Services[0].DesiredCount != 2 || out.Services[0].RunningCount != 2 {
		t.Fatalf("orchestrator %d/%d", out.Services[0].RunningCount, out.Services[0].DesiredCount)
	}
	_, err := c.RegisterScalableTarget(ctx(t), &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String("service/layering-detection-cluster/nope"), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
	assertAPIError(t, err, "ValidationException", http.StatusBadRequest)
}

// Requirement: EFS over restJson1: the file system and its 3 access points
// (uid/gid 1000, 755), paged; unknown ids are FileSystemNotFound/AccessPointNotFound 404.
func TestEFS(t *testing.T) {
	ts := startServer(t)
	c := efs.NewFromConfig(ts.noRetry())
	fs, err := c.DescribeFileSystems(ctx(t), &efs.DescribeFileSystemsInput{})
	if err != nil || len(fs.FileSystems) != 1 || aws.ToString(fs.FileSystems[0].FileSystemId) != "fs-0a7c3e91b25d48f60" || !aws.ToBool(fs.FileSystems[0].Encrypted) {
		t.Fatalf("%v %+v", err, fs)
	}
	var paths []string
	p := efs.NewDescribeAccessPointsPaginator(c, &efs.DescribeAccessPointsInput{FileSystemId: aws.String("fs-0a7c3e91b25d48f60"), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ap := range out.AccessPoints {
			if aws.ToInt64(ap.PosixUser.Uid) != 1000 || aws.ToString(ap.RootDirectory.CreationInfo.Permissions) != "755" {
				t.Errorf("%+v", ap)
			}
			paths = append(paths, aws.ToString(ap.AccessPointId)+"="+aws.ToString(ap.RootDirectory.Path))
		}
	}
	if pages != 2 || strings.Join(paths, ",") != "fsap-04d1e8a2b7c3f5901=/input,fsap-0b5f2c9e6a1d3e702=/output,fsap-0e9a4b7c2d5f1a803=/logs" {
		t.Fatalf("%d pages: %v", pages, paths)
	}
	_, err = c.DescribeFileSystems(ctx(t), &efs.DescribeFileSystemsInput{FileSystemId: aws.String("fs-nope")})
	assertAPIError(t, err, "FileSystemNotFound", http.StatusNotFound)
	_, err = c.DescribeAccessPoints(ctx(t), &efs.DescribeAccessPointsInput{AccessPointId: aws.String("fsap-nope")})
	assertAPIError(t, err, "AccessPointNotFound", http.StatusNotFound)
	ts.inject(t, Fault{Service: "efs", Operation: "*", Kind: "throttle", Count: 1})
	_, err = c.DescribeFileSystems(ctx(t), &efs.DescribeFileSystemsInput{})
	assertAPIError(t, err, "ThrottlingException", http.StatusTooManyRequests)
	_, err = efs.NewFromConfig(ts.badSecret(t)).DescribeFileSystems(ctx(t), &efs.DescribeFileSystemsInput{})
	assertAPIError(t, err, "InvalidSignatureException", http.StatusForbidden)
}

// Requirement: the two secrets; the ARNs in the task definitions resolve in
// Secrets Manager; values are the JSON the tasks read; ListSecrets pages.
func TestSecretsManagerResolvesTaskDefinitionARNs(t *testing.T) {
	ts := startServer(t)
	c := secretsmanager.NewFromConfig(ts.noRetry())
	td, err := ecs.NewFromConfig(ts.cfg).DescribeTaskDefinition(ctx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("layering-detection-aggregator")})
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range td.TaskDefinition.ContainerDefinitions[0].Secrets {
		// valueFrom is <secret ARN>:<json key>::
		parts := strings.Split(aws.ToString(sec.ValueFrom), ":")
		arn, key := strings.Join(parts[:7], ":"), parts[7]
		v, err := c.GetSecretValue(ctx(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatalf("%s: %v", aws.ToString(sec.ValueFrom), err)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &m); err != nil || len(m[key]) != 32 {
			t.Fatalf("%s: value is not JSON with %q", arn, key)
		}
	}
	var names []string
	p := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.SecretList {
			names = append(names, aws.ToString(s.Name))
		}
	}
	if strings.Join(names, ",") != "layering-detection/prod/api-key,layering-detection/prod/pseudonymization-salt" {
		t.Fatalf("%v", names)
	}
	d, err := c.DescribeSecret(ctx(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("layering-detection/prod/api-key")})
	if err != nil || d.CreatedDate == nil || len(d.VersionIdsToStages) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
	_, err = c.GetSecretValue(ctx(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	assertAPIError(t, err, "ResourceNotFoundException", http.StatusBadRequest)
}
