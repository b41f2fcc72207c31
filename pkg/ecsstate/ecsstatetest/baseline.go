// Package ecsstatetest builds, for tests, the ECS deployment of
// shared/spec/ecs-baseline.md as ecsstate reads it (the identifiers of the
// local AWS's seed).
package ecsstatetest

import (
	"fmt"
	"strconv"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// The seed's identifiers.
const (
	Account     = "210987654321"
	Region      = "us-east-1"
	Cluster     = "layering-detection-cluster"
	FileSystem  = "fs-0a7c3e91b25d48f60"
	Input       = "fsap-04d1e8a2b7c3f5901"
	Output      = "fsap-0b5f2c9e6a1d3e702"
	Logs        = "fsap-0e9a4b7c2d5f1a803"
	Certificate = "arn:aws:acm:us-east-1:210987654321:certificate/3f6b2a1c-8d4e-4f7a-9b0c-5e1d2c3b4a69"
	ALB         = "layering-detection-alb"
)

func arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, Region, Account, resource)
}

// SecretARN is the ARN of layering-detection/prod/<name>.
func SecretARN(name string) string {
	return arn("secretsmanager", "secret:layering-detection/prod/"+name+"-AbCdEf")
}

// Baseline is the four services at task definition revision 2 (image 1.1.0).
func Baseline() *ecsstate.Deployment {
	d := &ecsstate.Deployment{Account: Account, Region: Region, Cluster: Cluster,
		FileSystems: []ecsstate.FileSystem{{ID: FileSystem, Name: "layering-detection-efs"}},
		AccessPoints: []ecsstate.AccessPoint{{ID: Input, FileSystemID: FileSystem, Name: "input", RootDirectory: "/input"},
			{ID: Output, FileSystemID: FileSystem, Name: "output", RootDirectory: "/output"}, {ID: Logs, FileSystemID: FileSystem, Name: "logs", RootDirectory: "/logs"}},
		Secrets: map[string]ecsstate.SecretMeta{
			SecretARN("api-key"):               {ARN: SecretARN("api-key"), Name: "layering-detection/prod/api-key"},
			SecretARN("pseudonymization-salt"): {ARN: SecretARN("pseudonymization-salt"), Name: "layering-detection/prod/pseudonymization-salt"}},
	}
	lb := arn("elasticloadbalancing", "loadbalancer/app/"+ALB+"/0123456789abcdef")
	d.LoadBalancers = []ecsstate.LoadBalancer{{ARN: lb, Name: ALB, Listeners: []ecsstate.Listener{{Port: 80, Protocol: "HTTP"},
		{Port: 443, Protocol: "HTTPS", SSLPolicy: "ELBSecurityPolicy-TLS-1-2-2017-01", Certificates: []string{Certificate}}}}}
	type svc struct {
		name                                           string
		port, cpu, memory, desired, minTasks, maxTasks int
		env                                            map[string]string
	}
	for _, b := range []svc{
		{"orchestrator", 8000, 512, 1024, 1, 1, 5, map[string]string{"PORT": "8000", "INPUT_DIR": "/app/input",
			"LAYERING_SERVICE_URL": "http://layering-service:8001", "WASH_TRADING_SERVICE_URL": "http://wash-trading-service:8002",
			"AGGREGATOR_SERVICE_URL": "http://aggregator-service:8003", "MAX_RETRIES": "3", "ALGORITHM_TIMEOUT_SECONDS": "30",
			"LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
		{"layering", 8001, 512, 512, 2, 1, 10, map[string]string{"PORT": "8001", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
		{"wash-trading", 8002, 512, 512, 2, 1, 10, map[string]string{"PORT": "8002", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
		{"aggregator", 8003, 512, 512, 1, 1, 5, map[string]string{"PORT": "8003", "OUTPUT_DIR": "/app/output", "LOGS_DIR": "/app/logs",
			"VALIDATION_STRICT": "true", "ALLOW_PARTIAL_RESULTS": "false", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
	} {
		family := "layering-detection-" + b.name
		tg := arn("elasticloadbalancing", "targetgroup/"+family+"-tg/00000000000000"+strconv.Itoa(b.port%100))
		d.TargetGroups = append(d.TargetGroups, ecsstate.TargetGroup{ARN: tg, Name: family + "-tg", LoadBalancers: []string{lb},
			HealthCheckPath: "/health", HealthCheckSeconds: 30, TimeoutSeconds: 10, Healthy: 2, Unhealthy: 3, Matcher: "200"})
		c := ecsstate.Container{Name: b.name + "-container", Ports: []int{b.port}, User: "1000:1000",
			Image:       fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s:1.1.0", Account, Region, family),
			Environment: b.env, Secrets: map[string]string{"API_KEY": SecretARN("api-key") + ":api_key::"},
			HealthCheck: &ecsstate.HealthCheck{Command: []string{"CMD-SHELL", "curl -f http://localhost:" + strconv.Itoa(b.port) + "/health || exit 1"},
				Interval: 30, Timeout: 10, Retries: 3, StartPeriod: 5},
			LogDriver: "awslogs", LogOptions: map[string]string{"awslogs-group": "/ecs/layering-detection/" + b.name, "awslogs-region": Region, "awslogs-stream-prefix": "ecs"}}
		td := ecsstate.TaskDefinition{Family: family, Revision: 2, CPU: strconv.Itoa(b.cpu), Memory: strconv.Itoa(b.memory)}
		mount := func(name, ap, path string, ro bool) {
			c.Mounts = append(c.Mounts, ecsstate.Mount{Volume: name, Path: path, ReadOnly: ro})
			td.Volumes = append(td.Volumes, ecsstate.Volume{Name: name, FileSystemID: FileSystem, AccessPointID: ap, RootDirectory: "/"})
		}
		switch b.name {
		case "orchestrator":
			mount("input", Input, "/app/input", true)
		case "aggregator":
			mount("output", Output, "/app/output", false)
			mount("logs", Logs, "/app/logs", false)
			c.Secrets["PSEUDONYMIZATION_SALT"] = SecretARN("pseudonymization-salt") + ":salt::"
		}
		td.Containers = []ecsstate.Container{c}
		d.Services = append(d.Services, ecsstate.Service{Name: family, DesiredCount: b.desired, TaskDefinition: td, TargetGroups: []string{tg},
			Scaling: &ecsstate.Scaling{Min: b.minTasks, Max: b.maxTasks, Policies: []ecsstate.Policy{
				{Name: family + "-cpu-scaling", Metric: "ECSServiceAverageCPUUtilization", Target: 70, ScaleOutCooldown: 60, ScaleInCooldown: 300},
				{Name: family + "-memory-scaling", Metric: "ECSServiceAverageMemoryUtilization", Target: 80, ScaleOutCooldown: 60, ScaleInCooldown: 300}}}})
		for _, a := range []struct {
			suffix, metric string
			period, evals  int
			op             string
			threshold      float64
			missing        string
		}{
			{"high-cpu", "CPUUtilization", 300, 2, "GreaterThanThreshold", 80, "notBreaching"},
			{"high-memory", "MemoryUtilization", 300, 2, "GreaterThanThreshold", 85, "notBreaching"},
			{"low-task-count", "RunningTaskCount", 60, 1, "LessThanThreshold", 1, "breaching"},
		} {
			d.Alarms = append(d.Alarms, ecsstate.Alarm{Name: family + "-" + a.suffix, Namespace: "AWS/ECS", Metric: a.metric, Statistic: "Average",
				Dimensions: map[string]string{"ClusterName": Cluster, "ServiceName": family}, PeriodSeconds: a.period, EvaluationPeriods: a.evals,
				Threshold: a.threshold, Comparison: a.op, TreatMissingData: a.missing})
		}
	}
	return d
}
