package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The seed is the ECS deployment as Terraform left it
// (shared/spec/ecs-baseline.md). Its identifiers are an account's real-looking
// ones, none of them the embedded overlays' placeholders, so that what
// `kubectl layering settings init --from-ecs` finds is told from what the
// plugin was built with.

const (
	appName       = "layering-detection"
	clusterName   = "layering-detection-cluster"
	seedEnv       = "prod"
	imageTag      = "1.1.0" // revision 2, the running one; revision 1 runs 1.0.0
	efsID         = "fs-0a7c3e91b25d48f60"
	certificateID = "3f6b2a1c-8d4e-4f7a-9b0c-5e1d2c3b4a69"
)

type baselineService struct {
	name                                           string
	port, cpu, memory, desired, minTasks, maxTasks int
	env                                            [][2]string
}

var baseline = []baselineService{
	{"orchestrator", 8000, 512, 1024, 1, 1, 5, [][2]string{{"PORT", "8000"}, {"INPUT_DIR", "/app/input"},
		{"LAYERING_SERVICE_URL", "http://layering-service:8001"}, {"WASH_TRADING_SERVICE_URL", "http://wash-trading-service:8002"},
		{"AGGREGATOR_SERVICE_URL", "http://aggregator-service:8003"}, {"MAX_RETRIES", "3"}, {"ALGORITHM_TIMEOUT_SECONDS", "30"},
		{"LOG_LEVEL", "INFO"}, {"RATE_LIMIT_PER_MINUTE", "100"}}},
	{"layering", 8001, 512, 512, 2, 1, 10, [][2]string{{"PORT", "8001"}, {"LOG_LEVEL", "INFO"}, {"RATE_LIMIT_PER_MINUTE", "100"}}},
	{"wash-trading", 8002, 512, 512, 2, 1, 10, [][2]string{{"PORT", "8002"}, {"LOG_LEVEL", "INFO"}, {"RATE_LIMIT_PER_MINUTE", "100"}}},
	{"aggregator", 8003, 512, 512, 1, 1, 5, [][2]string{{"PORT", "8003"}, {"OUTPUT_DIR", "/app/output"}, {"LOGS_DIR", "/app/logs"},
		{"VALIDATION_STRICT", "true"}, {"ALLOW_PARTIAL_RESULTS", "false"}, {"LOG_LEVEL", "INFO"}, {"RATE_LIMIT_PER_MINUTE", "100"}}},
}

// accessPoints are the EFS access points: name, id, directory.
var accessPoints = [][3]string{
	{"input", "fsap-04d1e8a2b7c3f5901", "/input"},
	{"output", "fsap-0b5f2c9e6a1d3e702", "/output"},
	{"logs", "fsap-0e9a4b7c2d5f1a803", "/logs"},
}

func (st *State) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, st.Region, st.AccountID, resource)
}

func seed(region, account string, now time.Time) *State {
	st := &State{Version: stateVersion, Region: region, AccountID: account}
	created := now.Add(-30 * 24 * time.Hour).Truncate(time.Second)
	st.seedSecrets(created)
	st.seedEFS(created)
	st.seedELB(created)
	st.seedECS(created, now)
	st.seedAutoScaling(created)
	st.seedLogs(created, now)
	st.seedCloudWatch(created, now)
	return st
}

func (st *State) seedECS(created, now time.Time) {
	clusterArn := st.arn("ecs", "cluster/"+clusterName)
	st.ECS.Clusters = []ecsCluster{{
		ClusterArn: clusterArn, ClusterName: clusterName, Status: "ACTIVE",
		CapacityProviders: []string{"FARGATE", "FARGATE_SPOT"},
		Settings:          []ecsNameVal{{Name: "containerInsights", Value: "enabled"}},
		Tags:              []ecsTag{{Key: "Application", Value: appName}, {Key: "Environment", Value: seedEnv}},
	}}
	network := &ecsNetworkConfig{AwsvpcConfiguration: ecsAwsvpc{
		Subnets:        []string{"subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"},
		SecurityGroups: []string{"sg-0a1b2c3d4e5f60010"}, AssignPublicIp: "DISABLED"}}
	for i, b := range baseline {
		family := appName + "-" + b.name
		for rev, tag := range []string{"1.0.0", imageTag} {
			st.ECS.TaskDefinitions = append(st.ECS.TaskDefinitions, st.taskDefinition(b, rev+1, tag, created.Add(time.Duration(rev)*24*time.Hour)))
		}
		td := st.arn("ecs", "task-definition/"+family+":2")
		st.ECS.NextDeployment++
		dep := ecsDeployment{
			ID:     fmt.Sprintf("ecs-svc/%019d", 1000000000000000000+st.ECS.NextDeployment),
			Status: "PRIMARY", TaskDefinition: td, DesiredCount: b.desired, RunningCount: b.desired,
			CreatedAt: created.Add(24 * time.Hour), UpdatedAt: created.Add(24*time.Hour + 3*time.Minute),
			LaunchType: "FARGATE", PlatformVersion: "1.4.0", PlatformFamily: "Linux", NetworkConfiguration: network,
			RolloutState: "COMPLETED",
		}
		dep.RolloutStateReason = "ECS deployment " + dep.ID + " completed."
		svc := ecsService{
			ServiceArn: st.arn("ecs", "service/"+clusterName+"/"+family), ServiceName: family, ClusterArn: clusterArn,
			LoadBalancers: []ecsLoadBalancer{{TargetGroupArn: st.targetGroupArn(b.name + "-tg"), ContainerName: b.name + "-container", ContainerPort: b.port}},
			Status:        "ACTIVE", DesiredCount: b.desired, RunningCount: b.desired,
			LaunchType: "FARGATE", PlatformVersion: "LATEST", PlatformFamily: "Linux", TaskDefinition: td,
			DeploymentConfiguration: ecsDeploymentConfig{MaximumPercent: 200, MinimumHealthyPercent: 100,
				DeploymentCircuitBreaker: &ecsDeploymentCircuit{Enable: false, Rollback: false}},
			Deployments:                   []ecsDeployment{dep},
			RoleArn:                       st.arn("iam", "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
			CreatedAt:                     created,
			NetworkConfiguration:          network,
			HealthCheckGracePeriodSeconds: 60, SchedulingStrategy: "REPLICA",
			DeploymentController: ecsDeploymentCtrl{Type: "ECS"}, CreatedBy: st.arn("iam", "role/terraform"),
			PropagateTags: "NONE", ServiceRegistries: []map[string]any{}, PlacementConstraints: []map[string]any{}, PlacementStrategy: []map[string]any{},
			Tags: []ecsTag{{Key: "Application", Value: appName}, {Key: "Service", Value: b.name}},
		}
		st.ecsEvent(&svc, dep.UpdatedAt, fmt.Sprintf("(service %s) has reached a steady state.", family))
		st.ECS.Services = append(st.ECS.Services, &ecsServiceState{Service: svc, LastTick: now, Index: i})
	}
}

func (st *State) taskDefinition(b baselineService, revision int, tag string, registered time.Time) ecsTaskDefinition {
	family := appName + "-" + b.name
	c := ecsContainerDef{
		Name:         b.name + "-container",
		Image:        fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s-%s:%s", st.AccountID, st.Region, appName, b.name, tag),
		CPU:          b.cpu,
		PortMappings: []ecsPortMapping{{ContainerPort: b.port, HostPort: b.port, Protocol: "tcp"}},
		Essential:    true, User: "1000:1000",
		MountPoints: []ecsMountPoint{}, VolumesFrom: []map[string]any{}, SystemControls: []map[string]any{},
		Secrets: []ecsSecret{{Name: "API_KEY", ValueFrom: st.secretArn("api-key") + ":api_key::"}},
		LogConfiguration: &ecsLogConfig{LogDriver: "awslogs", SecretOptions: []map[string]any{}, Options: map[string]string{
			"awslogs-group": "/ecs/" + appName + "/" + b.name, "awslogs-region": st.Region, "awslogs-stream-prefix": "ecs"}},
		HealthCheck: &ecsHealthCheck{Command: []string{"CMD-SHELL", "curl -f http://localhost:" + strconv.Itoa(b.port) + "/health || exit 1"},
			Interval: 30, Timeout: 10, Retries: 3, StartPeriod: 5},
	}
	for _, kv := range b.env {
		c.Environment = append(c.Environment, ecsNameVal{Name: kv[0], Value: kv[1]})
	}
	var volumes []ecsVolume
	mount := func(ap int, path string, readOnly bool) {
		name := accessPoints[ap][0]
		c.MountPoints = append(c.MountPoints, ecsMountPoint{SourceVolume: name, ContainerPath: path, ReadOnly: readOnly})
		volumes = append(volumes, ecsVolume{Name: name, EfsVolumeConfiguration: &ecsEFSVolumeCfg{
			FileSystemID: efsID, RootDirectory: "/", TransitEncryption: "ENABLED",
			AuthorizationConfig: &ecsEFSAuthConfig{AccessPointID: accessPoints[ap][1], IAM: "ENABLED"}}})
	}
	switch b.name {
	case "orchestrator":
		mount(0, "/app/input", true)
	case "aggregator":
		mount(1, "/app/output", false)
		mount(2, "/app/logs", false)
		c.Secrets = append(c.Secrets, ecsSecret{Name: "PSEUDONYMIZATION_SALT", ValueFrom: st.secretArn("pseudonymization-salt") + ":salt::"})
	}
	if volumes == nil {
		volumes = []ecsVolume{}
	}
	return ecsTaskDefinition{
		TaskDefinitionArn:    st.arn("ecs", fmt.Sprintf("task-definition/%s:%d", family, revision)),
		ContainerDefinitions: []ecsContainerDef{c}, Family: family,
		TaskRoleArn:      st.arn("iam", "role/"+appName+"-ecs-task-role"),
		ExecutionRoleArn: st.arn("iam", "role/"+appName+"-ecs-task-execution-role"),
		NetworkMode:      "awsvpc", Revision: revision, Volumes: volumes, Status: "ACTIVE",
		PlacementConstraints: []map[string]any{}, Compatibilities: []string{"EC2", "FARGATE"},
		RequiresCompatibilities: []string{"FARGATE"}, CPU: strconv.Itoa(b.cpu), Memory: strconv.Itoa(b.memory),
		RegisteredAt: registered, RegisteredBy: "arn:aws:sts::" + st.AccountID + ":assumed-role/terraform/terraform",
	}
}

// seedCloudWatch creates the 12 ECS alarms and the dashboard, and an hour of
// the services' AWS/ECS metrics so the alarms start from real data.
func (st *State) seedCloudWatch(created, now time.Time) {
	type alarmSpec struct {
		suffix, metric string
		period, evals  int
		op             string
		threshold      float64
		missing        string
	}
	specs := []alarmSpec{
		{"high-cpu", "CPUUtilization", 300, 2, "GreaterThanThreshold", 80, "notBreaching"},
		{"high-memory", "MemoryUtilization", 300, 2, "GreaterThanThreshold", 85, "notBreaching"},
		{"low-task-count", "RunningTaskCount", 60, 1, "LessThanThreshold", 1, "breaching"},
	}
	for _, b := range baseline {
		for _, sp := range specs {
			name := fmt.Sprintf("%s-%s-%s", appName, b.name, sp.suffix)
			st.CW.Alarms = append(st.CW.Alarms, &cwAlarm{
				AlarmName: name, AlarmArn: st.arn("cloudwatch", "alarm:"+name),
				AlarmDescription:                   fmt.Sprintf("%s of %s-%s", sp.metric, appName, b.name),
				AlarmConfigurationUpdatedTimestamp: created, ActionsEnabled: true,
				OKActions: []string{}, AlarmActions: []string{}, InsufficientDataActions: []string{},
				StateValue: "INSUFFICIENT_DATA", StateReason: "Unchecked: Initial alarm creation",
				StateUpdatedTimestamp: created, StateTransitionedTimestamp: created,
				MetricName: sp.metric, Namespace: "AWS/ECS", Statistic: "Average",
				Dimensions: ecsDimensions(appName + "-" + b.name), Period: sp.period, EvaluationPeriods: sp.evals,
				Threshold: sp.threshold, ComparisonOperator: sp.op, TreatMissingData: sp.missing,
			})
		}
	}
	var widgets []map[string]any
	for i, b := range baseline {
		svc := appName + "-" + b.name
		var metrics [][]string
		for _, m := range []string{"CPUUtilization", "MemoryUtilization", "RunningTaskCount"} {
			metrics = append(metrics, []string{"AWS/ECS", m, "ClusterName", clusterName, "ServiceName", svc})
		}
		widgets = append(widgets, map[string]any{
			"type": "metric", "x": (i % 2) * 12, "y": (i / 2) * 6, "width": 12, "height": 6,
			"properties": map[string]any{"metrics": metrics, "period": 300, "stat": "Average", "region": st.Region, "title": b.name, "view": "timeSeries"},
		})
	}
	body, _ := json.Marshal(map[string]any{"widgets": widgets})
	st.CW.Dashboards = []*cwDashboard{{DashboardName: appName + "-dashboard",
		DashboardArn: "arn:aws:cloudwatch::" + st.AccountID + ":dashboard/" + appName + "-dashboard", DashboardBody: string(body), LastModified: created}}
	st.CW.Tags = map[string][]cwTag{}
	st.CW.LastSample = now.Add(-time.Hour)
	st.sampleECSMetrics(now)
	st.evaluateAlarms(now)
}

func ecsDimensions(service string) []cwDimension {
	return []cwDimension{{Name: "ClusterName", Value: clusterName}, {Name: "ServiceName", Value: service}}
}

// sampleECSMetrics writes, each minute up to now, what ECS publishes for a
// service in AWS/ECS: RunningTaskCount, and CPU and memory utilization (a
// steady light load) while tasks run. Gaps longer than an hour start afresh.
func (st *State) sampleECSMetrics(now time.Time) {
	t := st.CW.LastSample.Truncate(time.Minute).Add(time.Minute)
	if t.Before(now.Add(-time.Hour)) {
		t = now.Add(-time.Hour).Truncate(time.Minute)
	}
	for ; !t.After(now); t = t.Add(time.Minute) {
		for _, svc := range st.ECS.Services {
			v := svc.Service
			dims := ecsDimensions(v.ServiceName)
			point := func(x float64) cwPoint {
				return cwPoint{T: t, Count: 1, Sum: x, Min: x, Max: x, Values: []float64{x}, Unit: "Percent"}
			}
			count := point(float64(v.RunningCount))
			count.Unit = "Count"
			st.addPoint("AWS/ECS", "RunningTaskCount", dims, count, now)
			if v.RunningCount > 0 {
				jitter := float64(hexID(v.ServiceName+t.String(), 2)[0] % 8) // 0..7, stable per minute
				st.addPoint("AWS/ECS", "CPUUtilization", dims, point(8+jitter), now)
				st.addPoint("AWS/ECS", "MemoryUtilization", dims, point(25+jitter), now)
			}
		}
		st.CW.LastSample = t
		st.changed = true
	}
}

// seedELB creates the ALB, its listeners 80 and 443 with rules 100–400 and a
// default forward to the orchestrator, the ECS target groups and one empty
// target group per service for the Kubernetes side.
func (st *State) seedELB(created time.Time) {
	lbName := appName + "-alb"
	lbID := hexID(lbName, 16)
	lbArn := st.arn("elasticloadbalancing", "loadbalancer/app/"+lbName+"/"+lbID)
	vpc := "vpc-0a1b2c3d4e5f60000"
	st.ELB.LoadBalancers = []elbLoadBalancer{{
		LoadBalancerArn: lbArn, DNSName: fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", lbName, 1234567890, st.Region),
		CanonicalHostedZoneID: "Z35SXDOTRQ7X7K", CreatedTime: created, LoadBalancerName: lbName, Scheme: "internet-facing",
		VpcID: vpc, State: elbState2{Code: "active"}, Type: "application", IPAddressType: "ipv4",
		AvailabilityZones: []elbAZ{{ZoneName: st.Region + "a", SubnetID: "subnet-0a1b2c3d4e5f60101"}, {ZoneName: st.Region + "b", SubnetID: "subnet-0a1b2c3d4e5f60102"}},
		SecurityGroups:    []string{"sg-0a1b2c3d4e5f60020"},
	}}
	for _, b := range baseline {
		for _, suffix := range []string{b.name + "-tg", b.name + "-eks-tg"} {
			st.ELB.TargetGroups = append(st.ELB.TargetGroups, elbTargetGroup{
				TargetGroupArn: st.targetGroupArn(suffix), TargetGroupName: appName + "-" + suffix, Protocol: "HTTP", Port: b.port, VpcID: vpc,
				HealthCheckProtocol: "HTTP", HealthCheckPort: "traffic-port", HealthCheckEnabled: true, HealthCheckIntervalSeconds: 30,
				HealthCheckTimeoutSeconds: 10, HealthyThresholdCount: 2, UnhealthyThresholdCount: 3, HealthCheckPath: "/health",
				Matcher: elbMatcher{HTTPCode: "200"}, TargetType: "ip", ProtocolVersion: "HTTP1", IPAddressType: "ipv4",
			})
		}
	}
	forward := func(service string) []elbAction {
		acts, _ := st.normalizeActions([]elbAction{{Type: "forward", TargetGroupArn: st.targetGroupArn(service + "-tg")}})
		return acts
	}
	certificate := st.arn("acm", "certificate/"+certificateID)
	for _, l := range []elbListener{
		{Port: 80, Protocol: "HTTP"},
		{Port: 443, Protocol: "HTTPS", SslPolicy: "ELBSecurityPolicy-TLS-1-2-2017-01", Certificates: []elbCertificate{{CertificateArn: certificate}}},
	} {
		l.LoadBalancerArn = lbArn
		l.ListenerArn = st.arn("elasticloadbalancing", fmt.Sprintf("listener/app/%s/%s/%s", lbName, lbID, hexID(fmt.Sprint(lbName, l.Port), 16)))
		l.DefaultActions = forward("orchestrator")
		st.ELB.Listeners = append(st.ELB.Listeners, l)
		for i, b := range baseline {
			var cond elbCondition
			if b.name == "orchestrator" {
				cond = elbCondition{Field: "path-pattern", Values: []string{"/orchestrate*", "/health", "/"}}
			} else {
				cond = elbCondition{Field: "host-header", Values: []string{b.name + "." + appName + ".local"}}
			}
			conds, _ := normalizeConditions([]elbCondition{cond})
			priority := strconv.Itoa(100 * (i + 1))
			st.ELB.Rules = append(st.ELB.Rules, elbRuleState{ListenerArn: l.ListenerArn, Rule: elbRule{
				RuleArn:  strings.Replace(l.ListenerArn, ":listener/", ":listener-rule/", 1) + "/" + hexID(l.ListenerArn+priority, 16),
				Priority: priority, Conditions: conds, Actions: forward(b.name),
			}})
		}
	}
	st.ELB.Registered = map[string][]elbTarget{}
}

// seedLogs creates the services' log groups (retention 7 days) with one
// stream per running task ("ecs/<container>/<task id>") and its start-up lines.
func (st *State) seedLogs(created, now time.Time) {
	for _, b := range baseline {
		g := st.newGroup("/ecs/"+appName+"/"+b.name, 7, created)
		svc := st.ECS.Services[slices.IndexFunc(st.ECS.Services, func(s *ecsServiceState) bool { return s.Service.ServiceName == appName+"-"+b.name })]
		d := svc.Service.Deployments[0]
		for n := 0; n < d.RunningCount; n++ {
			started := now.Add(-10 * time.Minute).Add(time.Duration(n) * time.Second)
			s := g.newStream(fmt.Sprintf("ecs/%s-container/%s", b.name, taskID(svc.Service.ServiceName, d.ID, n)), started)
			var events []logEvent
			for i, msg := range []string{
				fmt.Sprintf(`{"level":"INFO","msg":"starting","service":"%s-service","version":"%s"}`, b.name, imageTag),
				fmt.Sprintf(`{"level":"INFO","msg":"listening","addr":":%d"}`, b.port),
				`{"level":"INFO","msg":"request","method":"GET","path":"/health","status":200}`,
			} {
				t := epochMillis(started.Add(time.Duration(i) * time.Second))
				events = append(events, logEvent{Timestamp: t, Message: msg, IngestionTime: t + 150})
			}
			s.append(events)
		}
	}
}

// seedAutoScaling registers each service's scalable target (min/max of the
// baseline) and its CPU 70 % and memory 80 % target-tracking policies.
func (st *State) seedAutoScaling(created time.Time) {
	for _, b := range baseline {
		svc := appName + "-" + b.name
		resource := "service/" + clusterName + "/" + svc
		st.AAS.Targets = append(st.AAS.Targets, &aasTarget{ServiceNamespace: "ecs", ResourceID: resource, ScalableDimension: "ecs:service:DesiredCount",
			MinCapacity: b.minTasks, MaxCapacity: b.maxTasks, CreationTime: created,
			RoleARN:           st.arn("iam", "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"),
			ScalableTargetARN: st.arn("application-autoscaling", "scalable-target/"+hexID(resource, 28))})
		for _, p := range []struct {
			kind, metric string
			target       float64
		}{{"cpu", "ECSServiceAverageCPUUtilization", 70}, {"memory", "ECSServiceAverageMemoryUtilization", 80}} {
			name := fmt.Sprintf("%s-%s-scaling", svc, p.kind)
			st.AAS.Policies = append(st.AAS.Policies, aasPolicy{
				PolicyARN:  st.arn("autoscaling", fmt.Sprintf("scalingPolicy:%s:resource/ecs/%s:policyName/%s", hexID(name, 8)+"-"+hexID(name+"1", 4)+"-4000-8000-"+hexID(name+"2", 12), resource, name)),
				PolicyName: name, ServiceNamespace: "ecs", ResourceID: resource, ScalableDimension: "ecs:service:DesiredCount", PolicyType: "TargetTrackingScaling",
				TargetTrackingScalingPolicyConfiguration: aasTargetTrackingConfig{TargetValue: p.target,
					PredefinedMetricSpecification: map[string]string{"PredefinedMetricType": p.metric}, ScaleOutCooldown: 60, ScaleInCooldown: 300},
				Alarms: []map[string]string{}, CreationTime: created,
			})
		}
	}
}

// seedEFS creates the encrypted file system and its access points input,
// output and logs (uid/gid 1000, 755).
func (st *State) seedEFS(created time.Time) {
	fsArn := st.arn("elasticfilesystem", "file-system/"+efsID)
	st.EFS.FileSystems = []efsFileSystem{{
		OwnerID: st.AccountID, CreationToken: appName + "-efs", FileSystemID: efsID, FileSystemArn: fsArn, CreationTime: created,
		LifeCycleState: "available", Name: appName + "-efs", NumberOfMountTargets: 2, SizeInBytes: efsSize{Value: 6144, Timestamp: created},
		PerformanceMode: "generalPurpose", Encrypted: true, KmsKeyID: st.arn("kms", "key/00000000-0000-0000-0000-000000000003"), ThroughputMode: "bursting",
		Tags:                 []efsTag{{Key: "Name", Value: appName + "-efs"}},
		FileSystemProtection: efsProtect{ReplicationOverwriteProtection: "ENABLED"},
	}}
	for _, ap := range accessPoints {
		st.EFS.AccessPoints = append(st.EFS.AccessPoints, efsAccessPoint{
			ClientToken: appName + "-" + ap[0], Name: ap[0], Tags: []efsTag{{Key: "Name", Value: ap[0]}},
			AccessPointID: ap[1], AccessPointArn: st.arn("elasticfilesystem", "access-point/"+ap[1]), FileSystemID: efsID,
			PosixUser: efsPosixUser{UID: 1000, GID: 1000}, OwnerID: st.AccountID, LifeCycleState: "available",
			RootDirectory: efsRootDir{Path: ap[2], CreationInfo: efsCreationInfo{OwnerUID: 1000, OwnerGID: 1000, Permissions: "755"}},
		})
	}
}
