package ecsstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
)

// Reader reads a Deployment with read-only calls (docs/iam/settings-policy.json).
type Reader struct {
	Cluster    string
	AlarmNames []string // CloudWatch alarms to describe (the ECS ones, and with parity --live the EKS ones)
	Calls      atomic.Int64

	mu      sync.Mutex
	actions map[string]bool // the IAM actions of the calls made

	ecs *ecs.Client
	efs *efs.Client
	elb *elbv2.Client
	sm  *secretsmanager.Client
	sts *sts.Client
	aas *applicationautoscaling.Client
	cw  *cloudwatch.Client
}

// NewReader returns a Reader of cluster with clients of cfg.
func NewReader(cfg aws.Config, cluster string) *Reader {
	r := &Reader{Cluster: cluster, actions: map[string]bool{}}
	count := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kubectl-layering-count",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.Calls.Add(1)
				r.mu.Lock()
				r.actions[awsconfig.IAMAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))] = true
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	r.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.efs = efs.NewFromConfig(cfg, func(o *efs.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.elb = elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.sm = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.sts = sts.NewFromConfig(cfg, func(o *sts.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.aas = applicationautoscaling.NewFromConfig(cfg, func(o *applicationautoscaling.Options) { o.APIOptions = append(o.APIOptions, count) })
	r.cw = cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.APIOptions = append(o.APIOptions, count) })
	return r
}

// Actions are the IAM actions of the calls made so far, sorted.
func (r *Reader) Actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.actions))
	for a := range r.actions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Read reads the deployment: who we are, the services and their task
// definitions, scaling, EFS, load balancers, the secrets' names, the alarms.
func (r *Reader) Read(ctx context.Context, region string) (*Deployment, error) {
	id, err := r.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, awsconfig.Explain(err)
	}
	d := &Deployment{Account: aws.ToString(id.Account), Region: region, Cluster: r.Cluster}
	for _, step := range []func(context.Context, *Deployment) error{r.services, r.scaling, r.fileSystems, r.loadBalancers, r.secrets, r.alarms} {
		if err := step(ctx, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ClusterNotFoundError means the ECS cluster does not exist where we looked.
type ClusterNotFoundError struct{ Cluster, Account, Region string }

func (e *ClusterNotFoundError) Error() string {
	return fmt.Sprintf("ECS cluster %q not found in account %s, region %s: name it with --cluster (aws ecs list-clusters), or set AWS_REGION / AWS_PROFILE to where it runs",
		e.Cluster, e.Account, e.Region)
}

func (r *Reader) services(ctx context.Context, d *Deployment) error {
	var arns []string
	p := ecs.NewListServicesPaginator(r.ecs, &ecs.ListServicesInput{Cluster: aws.String(r.Cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var notFound *ecstypes.ClusterNotFoundException
		if errors.As(err, &notFound) {
			return &awsconfig.SetupError{Err: &ClusterNotFoundError{r.Cluster, d.Account, d.Region}}
		}
		if err != nil {
			return awsconfig.Explain(err)
		}
		arns = append(arns, page.ServiceArns...)
	}
	if len(arns) == 0 {
		return &awsconfig.SetupError{Err: fmt.Errorf("ECS cluster %q (account %s, region %s) has no services", r.Cluster, d.Account, d.Region)}
	}
	for batch := range slices.Chunk(arns, 10) {
		out, err := r.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(r.Cluster), Services: batch})
		if err != nil {
			return awsconfig.Explain(err)
		}
		for _, s := range out.Services {
			if aws.ToString(s.Status) != "ACTIVE" {
				continue
			}
			td, err := r.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
			if err != nil {
				return awsconfig.Explain(err)
			}
			svc := Service{Name: aws.ToString(s.ServiceName), DesiredCount: int(s.DesiredCount), TaskDefinition: taskDefinition(td.TaskDefinition)}
			for _, lb := range s.LoadBalancers {
				if lb.TargetGroupArn != nil {
					svc.TargetGroups = append(svc.TargetGroups, *lb.TargetGroupArn)
				}
			}
			d.Services = append(d.Services, svc)
		}
	}
	sort.Slice(d.Services, func(i, j int) bool { return d.Services[i].Name < d.Services[j].Name })
	return nil
}

func taskDefinition(t *ecstypes.TaskDefinition) TaskDefinition {
	td := TaskDefinition{Family: aws.ToString(t.Family), Revision: int(t.Revision), CPU: aws.ToString(t.Cpu), Memory: aws.ToString(t.Memory)}
	for _, c := range t.ContainerDefinitions {
		ct := Container{Name: aws.ToString(c.Name), Image: aws.ToString(c.Image), User: aws.ToString(c.User),
			Environment: map[string]string{}, Secrets: map[string]string{}}
		for _, p := range c.PortMappings {
			ct.Ports = append(ct.Ports, int(aws.ToInt32(p.ContainerPort)))
		}
		for _, kv := range c.Environment {
			ct.Environment[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		for _, s := range c.Secrets {
			ct.Secrets[aws.ToString(s.Name)] = aws.ToString(s.ValueFrom)
		}
		for _, m := range c.MountPoints {
			ct.Mounts = append(ct.Mounts, Mount{Volume: aws.ToString(m.SourceVolume), Path: aws.ToString(m.ContainerPath), ReadOnly: aws.ToBool(m.ReadOnly)})
		}
		if h := c.HealthCheck; h != nil {
			ct.HealthCheck = &HealthCheck{Command: h.Command, Interval: int(aws.ToInt32(h.Interval)), Timeout: int(aws.ToInt32(h.Timeout)),
				Retries: int(aws.ToInt32(h.Retries)), StartPeriod: int(aws.ToInt32(h.StartPeriod))}
		}
		if l := c.LogConfiguration; l != nil {
			ct.LogDriver, ct.LogOptions = string(l.LogDriver), l.Options
		}
		td.Containers = append(td.Containers, ct)
	}
	for _, v := range t.Volumes {
		vol := Volume{Name: aws.ToString(v.Name)}
		if e := v.EfsVolumeConfiguration; e != nil {
			vol.FileSystemID, vol.RootDirectory = aws.ToString(e.FileSystemId), aws.ToString(e.RootDirectory)
			if e.AuthorizationConfig != nil {
				vol.AccessPointID = aws.ToString(e.AuthorizationConfig.AccessPointId)
			}
		}
		td.Volumes = append(td.Volumes, vol)
	}
	return td
}

func (r *Reader) scaling(ctx context.Context, d *Deployment) error {
	byResource := map[string]*Service{}
	var ids []string
	for i := range d.Services {
		id := "service/" + r.Cluster + "/" + d.Services[i].Name
		byResource[id], ids = &d.Services[i], append(ids, id)
	}
	for batch := range slices.Chunk(ids, 50) {
		p := applicationautoscaling.NewDescribeScalableTargetsPaginator(r.aas, &applicationautoscaling.DescribeScalableTargetsInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: batch, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return awsconfig.Explain(err)
			}
			for _, t := range page.ScalableTargets {
				if s := byResource[aws.ToString(t.ResourceId)]; s != nil {
					s.Scaling = &Scaling{Min: int(aws.ToInt32(t.MinCapacity)), Max: int(aws.ToInt32(t.MaxCapacity))}
				}
			}
		}
	}
	for _, id := range ids {
		s := byResource[id]
		if s.Scaling == nil {
			continue
		}
		p := applicationautoscaling.NewDescribeScalingPoliciesPaginator(r.aas, &applicationautoscaling.DescribeScalingPoliciesInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(id), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return awsconfig.Explain(err)
			}
			for _, pol := range page.ScalingPolicies {
				c := pol.TargetTrackingScalingPolicyConfiguration
				if pol.PolicyType != aastypes.PolicyTypeTargetTrackingScaling || c == nil {
					continue
				}
				metric := "custom"
				if c.PredefinedMetricSpecification != nil {
					metric = string(c.PredefinedMetricSpecification.PredefinedMetricType)
				}
				s.Scaling.Policies = append(s.Scaling.Policies, Policy{Name: aws.ToString(pol.PolicyName), Metric: metric, Target: aws.ToFloat64(c.TargetValue),
					ScaleOutCooldown: int(aws.ToInt32(c.ScaleOutCooldown)), ScaleInCooldown: int(aws.ToInt32(c.ScaleInCooldown))})
			}
		}
	}
	return nil
}

// fileSystems describes the EFS file systems the task definitions name and
// their access points; one that does not exist is left out (the decisions say so).
func (r *Reader) fileSystems(ctx context.Context, d *Deployment) error {
	seen := map[string]bool{}
	for _, s := range d.Services {
		for _, v := range s.TaskDefinition.Volumes {
			if v.FileSystemID == "" || seen[v.FileSystemID] {
				continue
			}
			seen[v.FileSystemID] = true
			out, err := r.efs.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(v.FileSystemID)})
			var notFound *efstypes.FileSystemNotFound
			if errors.As(err, &notFound) {
				continue
			}
			if err != nil {
				return awsconfig.Explain(err)
			}
			for _, fs := range out.FileSystems {
				d.FileSystems = append(d.FileSystems, FileSystem{ID: aws.ToString(fs.FileSystemId), Name: aws.ToString(fs.Name)})
			}
			p := efs.NewDescribeAccessPointsPaginator(r.efs, &efs.DescribeAccessPointsInput{FileSystemId: aws.String(v.FileSystemID)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return awsconfig.Explain(err)
				}
				for _, ap := range page.AccessPoints {
					a := AccessPoint{ID: aws.ToString(ap.AccessPointId), FileSystemID: aws.ToString(ap.FileSystemId), Name: aws.ToString(ap.Name)}
					if ap.RootDirectory != nil {
						a.RootDirectory = aws.ToString(ap.RootDirectory.Path)
					}
					d.AccessPoints = append(d.AccessPoints, a)
				}
			}
		}
	}
	return nil
}

// loadBalancers follows the services' target groups to their ALBs and listeners.
func (r *Reader) loadBalancers(ctx context.Context, d *Deployment) error {
	var tgs []string
	for _, s := range d.Services {
		tgs = append(tgs, s.TargetGroups...)
	}
	if len(tgs) == 0 {
		return nil
	}
	var lbs []string
	for batch := range slices.Chunk(tgs, 20) {
		out, err := r.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: batch})
		if err != nil {
			return awsconfig.Explain(err)
		}
		for _, t := range out.TargetGroups {
			matcher := ""
			if t.Matcher != nil {
				matcher = aws.ToString(t.Matcher.HttpCode)
			}
			d.TargetGroups = append(d.TargetGroups, TargetGroup{ARN: aws.ToString(t.TargetGroupArn), Name: aws.ToString(t.TargetGroupName),
				LoadBalancers: t.LoadBalancerArns, HealthCheckPath: aws.ToString(t.HealthCheckPath),
				HealthCheckSeconds: int(aws.ToInt32(t.HealthCheckIntervalSeconds)), TimeoutSeconds: int(aws.ToInt32(t.HealthCheckTimeoutSeconds)),
				Healthy: int(aws.ToInt32(t.HealthyThresholdCount)), Unhealthy: int(aws.ToInt32(t.UnhealthyThresholdCount)), Matcher: matcher})
			for _, lb := range t.LoadBalancerArns {
				if !slices.Contains(lbs, lb) {
					lbs = append(lbs, lb)
				}
			}
		}
	}
	if len(lbs) == 0 {
		return nil
	}
	out, err := r.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: lbs})
	if err != nil {
		return awsconfig.Explain(err)
	}
	for _, lb := range out.LoadBalancers {
		l := LoadBalancer{ARN: aws.ToString(lb.LoadBalancerArn), Name: aws.ToString(lb.LoadBalancerName)}
		p := elbv2.NewDescribeListenersPaginator(r.elb, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return awsconfig.Explain(err)
			}
			for _, li := range page.Listeners {
				x := Listener{Port: int(aws.ToInt32(li.Port)), Protocol: string(li.Protocol), SSLPolicy: aws.ToString(li.SslPolicy)}
				for _, c := range li.Certificates {
					x.Certificates = append(x.Certificates, aws.ToString(c.CertificateArn))
				}
				l.Listeners = append(l.Listeners, x)
			}
		}
		sort.Slice(l.Listeners, func(i, j int) bool { return l.Listeners[i].Port < l.Listeners[j].Port })
		d.LoadBalancers = append(d.LoadBalancers, l)
	}
	return nil
}

// secrets describes (never reads) the secrets the containers name.
func (r *Reader) secrets(ctx context.Context, d *Deployment) error {
	d.Secrets = map[string]SecretMeta{}
	for _, s := range d.Services {
		for _, c := range s.TaskDefinition.Containers {
			for _, from := range c.Secrets {
				arn, _ := SecretRef(from)
				if _, done := d.Secrets[arn]; done || !strings.Contains(arn, ":secretsmanager:") {
					continue
				}
				out, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
				var notFound *smtypes.ResourceNotFoundException
				if errors.As(err, &notFound) {
					continue
				}
				if err != nil {
					return awsconfig.Explain(err)
				}
				d.Secrets[arn] = SecretMeta{ARN: aws.ToString(out.ARN), Name: aws.ToString(out.Name)}
			}
		}
	}
	return nil
}

func (r *Reader) alarms(ctx context.Context, d *Deployment) error {
	for batch := range slices.Chunk(r.AlarmNames, 100) {
		p := cloudwatch.NewDescribeAlarmsPaginator(r.cw, &cloudwatch.DescribeAlarmsInput{AlarmNames: batch, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return awsconfig.Explain(err)
			}
			for _, a := range page.MetricAlarms {
				x := Alarm{Name: aws.ToString(a.AlarmName), Namespace: aws.ToString(a.Namespace), Metric: aws.ToString(a.MetricName),
					Statistic: string(a.Statistic), PeriodSeconds: int(aws.ToInt32(a.Period)), EvaluationPeriods: int(aws.ToInt32(a.EvaluationPeriods)),
					Threshold: aws.ToFloat64(a.Threshold), Comparison: string(a.ComparisonOperator), TreatMissingData: aws.ToString(a.TreatMissingData),
					Actions: a.AlarmActions, Dimensions: map[string]string{}}
				for _, dim := range a.Dimensions {
					x.Dimensions[aws.ToString(dim.Name)] = aws.ToString(dim.Value)
				}
				d.Alarms = append(d.Alarms, x)
			}
		}
	}
	return nil
}
