package server

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ECS, awsJson1_1. Member names are the model's (lower camel case).

type ecsState struct {
	Clusters        []ecsCluster        `json:"clusters"`
	Services        []*ecsServiceState  `json:"services"`
	TaskDefinitions []ecsTaskDefinition `json:"taskDefinitions"`
	NextDeployment  int64               `json:"nextDeployment"`
}

type ecsCluster struct {
	ClusterArn                        string       `json:"clusterArn"`
	ClusterName                       string       `json:"clusterName"`
	Status                            string       `json:"status"`
	RegisteredContainerInstancesCount int          `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int          `json:"runningTasksCount"`
	PendingTasksCount                 int          `json:"pendingTasksCount"`
	ActiveServicesCount               int          `json:"activeServicesCount"`
	CapacityProviders                 []string     `json:"capacityProviders,omitempty"`
	Settings                          []ecsNameVal `json:"settings,omitempty"`
	Tags                              []ecsTag     `json:"tags,omitempty"`
}

type ecsNameVal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ecsServiceState is a service and what the simulation needs beside it.
type ecsServiceState struct {
	Service  ecsService `json:"service"`
	LastTick time.Time  `json:"lastTick"`
	Index    int        `json:"index"` // position, for stable task addresses
}

type ecsService struct {
	ServiceArn                    string              `json:"serviceArn"`
	ServiceName                   string              `json:"serviceName"`
	ClusterArn                    string              `json:"clusterArn"`
	LoadBalancers                 []ecsLoadBalancer   `json:"loadBalancers"`
	Status                        string              `json:"status"`
	DesiredCount                  int                 `json:"desiredCount"`
	RunningCount                  int                 `json:"runningCount"`
	PendingCount                  int                 `json:"pendingCount"`
	LaunchType                    string              `json:"launchType"`
	PlatformVersion               string              `json:"platformVersion"`
	PlatformFamily                string              `json:"platformFamily"`
	TaskDefinition                string              `json:"taskDefinition"`
	DeploymentConfiguration       ecsDeploymentConfig `json:"deploymentConfiguration"`
	Deployments                   []ecsDeployment     `json:"deployments"`
	RoleArn                       string              `json:"roleArn,omitempty"`
	Events                        []ecsEvent          `json:"events"`
	CreatedAt                     time.Time           `json:"createdAt"`
	NetworkConfiguration          *ecsNetworkConfig   `json:"networkConfiguration,omitempty"`
	HealthCheckGracePeriodSeconds int                 `json:"healthCheckGracePeriodSeconds"`
	SchedulingStrategy            string              `json:"schedulingStrategy"`
	DeploymentController          ecsDeploymentCtrl   `json:"deploymentController"`
	CreatedBy                     string              `json:"createdBy,omitempty"`
	EnableECSManagedTags          bool                `json:"enableECSManagedTags"`
	PropagateTags                 string              `json:"propagateTags"`
	EnableExecuteCommand          bool                `json:"enableExecuteCommand"`
	Tags                          []ecsTag            `json:"tags,omitempty"`
	ServiceRegistries             []map[string]any    `json:"serviceRegistries"`
	PlacementConstraints          []map[string]any    `json:"placementConstraints"`
	PlacementStrategy             []map[string]any    `json:"placementStrategy"`
	CapacityProviderStrategy      []map[string]any    `json:"capacityProviderStrategy,omitempty"`
	AvailabilityZoneRebalancing   string              `json:"availabilityZoneRebalancing,omitempty"`
}

type ecsLoadBalancer struct {
	TargetGroupArn string `json:"targetGroupArn"`
	ContainerName  string `json:"containerName"`
	ContainerPort  int    `json:"containerPort"`
}

type ecsDeploymentConfig struct {
	DeploymentCircuitBreaker *ecsDeploymentCircuit `json:"deploymentCircuitBreaker,omitempty"`
	MaximumPercent           int                   `json:"maximumPercent"`
	MinimumHealthyPercent    int                   `json:"minimumHealthyPercent"`
}

type ecsDeploymentCircuit struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type ecsDeploymentCtrl struct {
	Type string `json:"type"`
}

type ecsNetworkConfig struct {
	AwsvpcConfiguration ecsAwsvpc `json:"awsvpcConfiguration"`
}

type ecsAwsvpc struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups"`
	AssignPublicIp string   `json:"assignPublicIp"`
}

type ecsDeployment struct {
	ID                   string            `json:"id"`
	Status               string            `json:"status"`
	TaskDefinition       string            `json:"taskDefinition"`
	DesiredCount         int               `json:"desiredCount"`
	PendingCount         int               `json:"pendingCount"`
	RunningCount         int               `json:"runningCount"`
	FailedTasks          int               `json:"failedTasks"`
	CreatedAt            time.Time         `json:"createdAt"`
	UpdatedAt            time.Time         `json:"updatedAt"`
	LaunchType           string            `json:"launchType"`
	PlatformVersion      string            `json:"platformVersion"`
	PlatformFamily       string            `json:"platformFamily"`
	NetworkConfiguration *ecsNetworkConfig `json:"networkConfiguration,omitempty"`
	RolloutState         string            `json:"rolloutState"`
	RolloutStateReason   string            `json:"rolloutStateReason"`
}

type ecsEvent struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

type ecsTaskDefinition struct {
	TaskDefinitionArn       string            `json:"taskDefinitionArn"`
	ContainerDefinitions    []ecsContainerDef `json:"containerDefinitions"`
	Family                  string            `json:"family"`
	TaskRoleArn             string            `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn        string            `json:"executionRoleArn,omitempty"`
	NetworkMode             string            `json:"networkMode"`
	Revision                int               `json:"revision"`
	Volumes                 []ecsVolume       `json:"volumes"`
	Status                  string            `json:"status"`
	RequiresAttributes      []map[string]any  `json:"requiresAttributes,omitempty"`
	PlacementConstraints    []map[string]any  `json:"placementConstraints"`
	Compatibilities         []string          `json:"compatibilities"`
	RequiresCompatibilities []string          `json:"requiresCompatibilities"`
	CPU                     string            `json:"cpu"`
	Memory                  string            `json:"memory"`
	RuntimePlatform         map[string]string `json:"runtimePlatform,omitempty"`
	RegisteredAt            time.Time         `json:"registeredAt"`
	RegisteredBy            string            `json:"registeredBy,omitempty"`
}

type ecsContainerDef struct {
	Name             string            `json:"name"`
	Image            string            `json:"image"`
	CPU              int               `json:"cpu"`
	Memory           int               `json:"memory,omitempty"`
	PortMappings     []ecsPortMapping  `json:"portMappings"`
	Essential        bool              `json:"essential"`
	Environment      []ecsNameVal      `json:"environment"`
	MountPoints      []ecsMountPoint   `json:"mountPoints"`
	VolumesFrom      []map[string]any  `json:"volumesFrom"`
	Secrets          []ecsSecret       `json:"secrets,omitempty"`
	User             string            `json:"user,omitempty"`
	LogConfiguration *ecsLogConfig     `json:"logConfiguration,omitempty"`
	HealthCheck      *ecsHealthCheck   `json:"healthCheck,omitempty"`
	SystemControls   []map[string]any  `json:"systemControls"`
	DockerLabels     map[string]string `json:"dockerLabels,omitempty"`
}

type ecsPortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
	Name          string `json:"name,omitempty"`
}

type ecsMountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}

type ecsSecret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type ecsLogConfig struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options"`
	SecretOptions []map[string]any  `json:"secretOptions"`
}

type ecsHealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

type ecsVolume struct {
	Name                   string           `json:"name"`
	EfsVolumeConfiguration *ecsEFSVolumeCfg `json:"efsVolumeConfiguration,omitempty"`
}

type ecsEFSVolumeCfg struct {
	FileSystemID          string            `json:"fileSystemId"`
	RootDirectory         string            `json:"rootDirectory"`
	TransitEncryption     string            `json:"transitEncryption"`
	AuthorizationConfig   *ecsEFSAuthConfig `json:"authorizationConfig,omitempty"`
	TransitEncryptionPort int               `json:"transitEncryptionPort,omitempty"`
}

type ecsEFSAuthConfig struct {
	AccessPointID string `json:"accessPointId"`
	IAM           string `json:"iam"`
}

type ecsFailure struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

func ecsAPI() *service {
	return &service{
		name:         "ecs",
		signingName:  "ecs",
		targetPrefix: "AmazonEC2ContainerServiceV20141113",
		ops: map[string]handler{
			"DescribeClusters":       op(ecsDescribeClusters),
			"ListServices":           op(ecsListServices),
			"DescribeServices":       op(ecsDescribeServices),
			"DescribeTaskDefinition": op(ecsDescribeTaskDefinition),
			"UpdateService":          op(ecsUpdateService),
			"RegisterTaskDefinition": op(ecsRegisterTaskDefinition),
			"TagResource":            op(ecsTagResource),
			"UntagResource":          op(ecsUntagResource),
			"ListTagsForResource":    op(ecsListTagsForResource),
		},
	}
}

// op adapts a typed operation to a handler: it decodes the input tree.
func op[In any](f func(*Server, *call, *In) (any, error)) handler {
	return func(s *Server, c *call) (any, error) {
		in := new(In)
		if err := fromTree(c.input, in); err != nil {
			return nil, malformedInput(c.proto, err)
		}
		return f(s, c, in)
	}
}

func ecsInvalidParameter(format string, args ...any) *apiError {
	return badRequest("InvalidParameterException", format, args...)
}

// findCluster accepts a name or an ARN; empty means "default", as in ECS.
func (st *State) findCluster(ref string) (*ecsCluster, *apiError) {
	if ref == "" {
		ref = "default"
	}
	for i := range st.ECS.Clusters {
		c := &st.ECS.Clusters[i]
		if c.ClusterName == ref || c.ClusterArn == ref {
			return c, nil
		}
	}
	return nil, badRequest("ClusterNotFoundException", "Cluster not found.")
}

func (st *State) findService(cluster *ecsCluster, ref string) *ecsServiceState {
	for _, s := range st.ECS.Services {
		if s.Service.ClusterArn == cluster.ClusterArn && (s.Service.ServiceName == ref || s.Service.ServiceArn == ref) {
			return s
		}
	}
	return nil
}

// findTaskDefinition accepts family (latest ACTIVE), family:revision or an ARN.
func (st *State) findTaskDefinition(ref string) *ecsTaskDefinition {
	if strings.HasPrefix(ref, "arn:") {
		if _, after, ok := strings.Cut(ref, ":task-definition/"); ok {
			ref = after
		}
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	var best *ecsTaskDefinition
	for i := range st.ECS.TaskDefinitions {
		td := &st.ECS.TaskDefinitions[i]
		if td.Family != family {
			continue
		}
		if hasRev {
			if strconv.Itoa(td.Revision) == rev {
				return td
			}
			continue
		}
		if td.Status == "ACTIVE" && (best == nil || td.Revision > best.Revision) {
			best = td
		}
	}
	return best
}

type ecsDescribeClustersIn struct {
	Clusters []string `json:"clusters"`
	Include  []string `json:"include"`
}

func ecsDescribeClusters(s *Server, c *call, in *ecsDescribeClustersIn) (any, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	if len(refs) > 100 {
		return nil, ecsInvalidParameter("Clusters cannot have more than 100 elements")
	}
	out := struct {
		Clusters []ecsCluster `json:"clusters"`
		Failures []ecsFailure `json:"failures"`
	}{Clusters: []ecsCluster{}, Failures: []ecsFailure{}}
	for _, ref := range refs {
		cl, err := s.st.findCluster(ref)
		if err != nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", s.st.Region, s.st.AccountID, ref)
			}
			out.Failures = append(out.Failures, ecsFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		view := *cl
		view.RunningTasksCount, view.PendingTasksCount, view.ActiveServicesCount = 0, 0, 0
		for _, svc := range s.st.ECS.Services {
			if svc.Service.ClusterArn == cl.ClusterArn && svc.Service.Status == "ACTIVE" {
				view.ActiveServicesCount++
				view.RunningTasksCount += svc.Service.RunningCount
				view.PendingTasksCount += svc.Service.PendingCount
			}
		}
		if !slices.Contains(in.Include, "TAGS") {
			view.Tags = nil
		}
		if !slices.Contains(in.Include, "SETTINGS") {
			view.Settings = nil
		}
		out.Clusters = append(out.Clusters, view)
	}
	return out, nil
}

type ecsListServicesIn struct {
	Cluster            string `json:"cluster"`
	NextToken          string `json:"nextToken"`
	MaxResults         int    `json:"maxResults"`
	LaunchType         string `json:"launchType"`
	SchedulingStrategy string `json:"schedulingStrategy"`
}

func ecsListServices(s *Server, c *call, in *ecsListServicesIn) (any, error) {
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, ecsInvalidParameter("maxResults must be between 1 and 100.")
	}
	cl, err := s.st.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, svc := range s.st.ECS.Services {
		v := svc.Service
		if v.ClusterArn != cl.ClusterArn || v.Status == "INACTIVE" ||
			(in.LaunchType != "" && v.LaunchType != in.LaunchType) ||
			(in.SchedulingStrategy != "" && v.SchedulingStrategy != in.SchedulingStrategy) {
			continue
		}
		arns = append(arns, v.ServiceArn)
	}
	page, next, ok := pageOf(arns, in.NextToken, pageSize(in.MaxResults, 10, 100))
	if !ok {
		return nil, ecsInvalidParameter("Invalid token %s", in.NextToken)
	}
	return struct {
		ServiceArns []string `json:"serviceArns"`
		NextToken   string   `json:"nextToken,omitempty"`
	}{append([]string{}, page...), next}, nil
}

type ecsDescribeServicesIn struct {
	Cluster  string   `json:"cluster"`
	Services []string `json:"services"`
	Include  []string `json:"include"`
}

func ecsDescribeServices(s *Server, c *call, in *ecsDescribeServicesIn) (any, error) {
	if len(in.Services) == 0 {
		return nil, ecsInvalidParameter("Services cannot be empty.")
	}
	if len(in.Services) > 10 {
		return nil, ecsInvalidParameter("Services cannot have more than 10 elements")
	}
	cl, err := s.st.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	out := struct {
		Services []ecsService `json:"services"`
		Failures []ecsFailure `json:"failures"`
	}{Services: []ecsService{}, Failures: []ecsFailure{}}
	for _, ref := range in.Services {
		svc := s.st.findService(cl, ref)
		if svc == nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", s.st.Region, s.st.AccountID, cl.ClusterName, ref)
			}
			out.Failures = append(out.Failures, ecsFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		view := svc.Service
		if !slices.Contains(in.Include, "TAGS") {
			view.Tags = nil
		}
		out.Services = append(out.Services, view)
	}
	return out, nil
}

type ecsDescribeTaskDefinitionIn struct {
	TaskDefinition string   `json:"taskDefinition"`
	Include        []string `json:"include"`
}

func ecsDescribeTaskDefinition(s *Server, c *call, in *ecsDescribeTaskDefinitionIn) (any, error) {
	if in.TaskDefinition == "" {
		return nil, ecsInvalidParameter("taskDefinition is required.")
	}
	td := s.st.findTaskDefinition(in.TaskDefinition)
	if td == nil {
		return nil, badRequest("ClientException", "Unable to describe task definition.")
	}
	out := struct {
		TaskDefinition ecsTaskDefinition `json:"taskDefinition"`
		Tags           []ecsTag          `json:"tags,omitempty"`
	}{TaskDefinition: *td}
	if slices.Contains(in.Include, "TAGS") {
		out.Tags = []ecsTag{}
	}
	return out, nil
}

type ecsRegisterTaskDefinitionIn struct {
	Family                  string            `json:"family"`
	ContainerDefinitions    []ecsContainerDef `json:"containerDefinitions"`
	Volumes                 []ecsVolume       `json:"volumes"`
	TaskRoleArn             string            `json:"taskRoleArn"`
	ExecutionRoleArn        string            `json:"executionRoleArn"`
	NetworkMode             string            `json:"networkMode"`
	RequiresCompatibilities []string          `json:"requiresCompatibilities"`
	CPU                     string            `json:"cpu"`
	Memory                  string            `json:"memory"`
	RuntimePlatform         map[string]string `json:"runtimePlatform"`
	Tags                    []ecsTag          `json:"tags"`
}

var ecsFamilyName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

// ecsRegisterTaskDefinition adds the family's next revision, ACTIVE, as ECS
// does (a new family starts at 1); services keep theirs until UpdateService.
func ecsRegisterTaskDefinition(s *Server, c *call, in *ecsRegisterTaskDefinitionIn) (any, error) {
	if !ecsFamilyName.MatchString(in.Family) {
		return nil, badRequest("ClientException", "Family must be 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, badRequest("ClientException", "Container list cannot be empty.")
	}
	for i := range in.ContainerDefinitions {
		ct := &in.ContainerDefinitions[i]
		if ct.Name == "" || ct.Image == "" {
			return nil, badRequest("ClientException", "Container.name and Container.image should not be null or empty.")
		}
		for _, m := range ct.MountPoints {
			if !slices.ContainsFunc(in.Volumes, func(v ecsVolume) bool { return v.Name == m.SourceVolume }) {
				return nil, badRequest("ClientException", "Invalid 'containerPath' setting for container '%s': unknown volume %s.", ct.Name, m.SourceVolume)
			}
		}
		normalizeContainer(ct)
	}
	if slices.Contains(in.RequiresCompatibilities, "FARGATE") && (in.CPU == "" || in.Memory == "") {
		return nil, badRequest("ClientException", "Fargate requires that 'cpu' be defined at the task level.")
	}
	revision := 0
	for _, td := range s.st.ECS.TaskDefinitions {
		if td.Family == in.Family {
			revision = max(revision, td.Revision)
		}
	}
	revision++
	td := ecsTaskDefinition{
		TaskDefinitionArn:    s.st.arn("ecs", fmt.Sprintf("task-definition/%s:%d", in.Family, revision)),
		ContainerDefinitions: in.ContainerDefinitions, Family: in.Family, TaskRoleArn: in.TaskRoleArn, ExecutionRoleArn: in.ExecutionRoleArn,
		NetworkMode: cmp.Or(in.NetworkMode, "bridge"), Revision: revision, Volumes: orEmpty(in.Volumes), Status: "ACTIVE",
		PlacementConstraints: []map[string]any{}, Compatibilities: []string{"EC2", "FARGATE"},
		RequiresCompatibilities: orEmpty(in.RequiresCompatibilities), CPU: in.CPU, Memory: in.Memory, RuntimePlatform: in.RuntimePlatform,
		RegisteredAt: c.now, RegisteredBy: "arn:aws:iam::" + s.st.AccountID + ":user/local-aws",
	}
	s.st.ECS.TaskDefinitions = append(s.st.ECS.TaskDefinitions, td)
	c.dirty = true
	out := struct {
		TaskDefinition ecsTaskDefinition `json:"taskDefinition"`
		Tags           []ecsTag          `json:"tags"`
	}{td, orEmpty(in.Tags)}
	return out, nil
}

// normalizeContainer gives a registered container the empty lists ECS returns.
func normalizeContainer(ct *ecsContainerDef) {
	ct.PortMappings, ct.Environment, ct.MountPoints = orEmpty(ct.PortMappings), orEmpty(ct.Environment), orEmpty(ct.MountPoints)
	ct.VolumesFrom, ct.SystemControls = orEmpty(ct.VolumesFrom), orEmpty(ct.SystemControls)
	if ct.LogConfiguration != nil && ct.LogConfiguration.SecretOptions == nil {
		ct.LogConfiguration.SecretOptions = []map[string]any{}
	}
}

type ecsUpdateServiceIn struct {
	Cluster                       string               `json:"cluster"`
	Service                       string               `json:"service"`
	DesiredCount                  *int                 `json:"desiredCount"`
	TaskDefinition                string               `json:"taskDefinition"`
	ForceNewDeployment            bool                 `json:"forceNewDeployment"`
	DeploymentConfiguration       *ecsDeploymentConfig `json:"deploymentConfiguration"`
	HealthCheckGracePeriodSeconds *int                 `json:"healthCheckGracePeriodSeconds"`
}

// ecsUpdateService starts a deployment when the task definition changes (or
// on forceNewDeployment) and otherwise only changes the desired count; the
// simulation in advanceECS then moves the running counts.
func ecsUpdateService(s *Server, c *call, in *ecsUpdateServiceIn) (any, error) {
	if in.Service == "" {
		return nil, ecsInvalidParameter("service is required.")
	}
	cl, aerr := s.st.findCluster(in.Cluster)
	if aerr != nil {
		return nil, aerr
	}
	svc := s.st.findService(cl, in.Service)
	if svc == nil {
		return nil, badRequest("ServiceNotFoundException", "Service not found.")
	}
	v := &svc.Service
	if v.Status != "ACTIVE" {
		return nil, badRequest("ServiceNotActiveException", "Service was not ACTIVE.")
	}
	if in.DesiredCount != nil && *in.DesiredCount < 0 {
		return nil, ecsInvalidParameter("desiredCount must be a non-negative integer.")
	}
	taskDef := v.TaskDefinition
	if in.TaskDefinition != "" {
		td := s.st.findTaskDefinition(in.TaskDefinition)
		if td == nil || td.Status != "ACTIVE" {
			return nil, badRequest("ClientException", "TaskDefinition not found.")
		}
		taskDef = td.TaskDefinitionArn
	}
	if in.DeploymentConfiguration != nil {
		v.DeploymentConfiguration = *in.DeploymentConfiguration
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		v.HealthCheckGracePeriodSeconds = *in.HealthCheckGracePeriodSeconds
	}
	if in.DesiredCount != nil {
		v.DesiredCount = *in.DesiredCount
	}
	s.st.ecsDeploy(svc, taskDef, in.ForceNewDeployment || taskDef != v.TaskDefinition, c.now)
	c.dirty = true
	return struct {
		Service ecsService `json:"service"`
	}{*v}, nil
}

// ecsDeploy records the new desired state: a new PRIMARY deployment, or the
// primary's new desired count.
func (st *State) ecsDeploy(svc *ecsServiceState, taskDef string, newDeployment bool, now time.Time) {
	v := &svc.Service
	if svc.LastTick.Before(now) {
		svc.LastTick = now // the rollout's steps count from this request
	}
	if !newDeployment {
		p := &v.Deployments[0]
		if p.DesiredCount != v.DesiredCount {
			p.DesiredCount = v.DesiredCount
			p.UpdatedAt = now
			if p.RunningCount != p.DesiredCount || len(v.Deployments) > 1 {
				p.RolloutState, p.RolloutStateReason = "IN_PROGRESS", "ECS deployment "+p.ID+" in progress."
			}
		}
		return
	}
	st.ECS.NextDeployment++
	d := ecsDeployment{
		ID:     fmt.Sprintf("ecs-svc/%019d", 1000000000000000000+st.ECS.NextDeployment),
		Status: "PRIMARY", TaskDefinition: taskDef, DesiredCount: v.DesiredCount,
		CreatedAt: now, UpdatedAt: now, LaunchType: v.LaunchType, PlatformVersion: "1.4.0", PlatformFamily: "Linux",
		NetworkConfiguration: v.NetworkConfiguration,
		RolloutState:         "IN_PROGRESS",
	}
	d.RolloutStateReason = "ECS deployment " + d.ID + " in progress."
	for i := range v.Deployments {
		v.Deployments[i].Status = "ACTIVE"
		v.Deployments[i].DesiredCount = 0
		v.Deployments[i].UpdatedAt = now
	}
	v.Deployments = append([]ecsDeployment{d}, v.Deployments...)
	v.TaskDefinition = taskDef
}

// advanceECS runs every service's rollout one task per step up to now:
// start the primary's tasks first (minimum healthy 100 %), then stop the old
// ones, then mark the deployment COMPLETED and note the steady state.
func (st *State) advanceECS(now time.Time, step time.Duration) bool {
	changed := false
	for _, svc := range st.ECS.Services {
		for svc.LastTick.Add(step).Before(now) || svc.LastTick.Add(step).Equal(now) {
			at := svc.LastTick.Add(step)
			if !st.ecsTick(svc, at) {
				svc.LastTick = now
				break
			}
			svc.LastTick = at
			changed = true
		}
	}
	return changed
}

func (st *State) ecsTick(svc *ecsServiceState, at time.Time) bool {
	v := &svc.Service
	p := &v.Deployments[0]
	switch {
	case p.RunningCount < p.DesiredCount:
		p.RunningCount++
		if p.RunningCount == 1 || p.RunningCount == p.DesiredCount {
			st.ecsEvent(v, at, fmt.Sprintf("(service %s) has started %d tasks: (task %s).", v.ServiceName, 1, taskID(v.ServiceName, p.ID, p.RunningCount-1)))
		}
	case p.RunningCount > p.DesiredCount:
		p.RunningCount--
		st.ecsEvent(v, at, fmt.Sprintf("(service %s) has stopped 1 running tasks: (task %s).", v.ServiceName, taskID(v.ServiceName, p.ID, p.RunningCount)))
	case len(v.Deployments) > 1:
		old := &v.Deployments[len(v.Deployments)-1]
		if old.RunningCount > 0 {
			old.RunningCount--
			old.UpdatedAt = at
			st.ecsEvent(v, at, fmt.Sprintf("(service %s) has stopped 1 running tasks: (task %s).", v.ServiceName, taskID(v.ServiceName, old.ID, old.RunningCount)))
		}
		if old.RunningCount == 0 {
			v.Deployments = v.Deployments[:len(v.Deployments)-1]
		}
	case p.RolloutState == "IN_PROGRESS":
	default:
		return false
	}
	// The deployment completes in the step its last old task stops, as the
	// ServicesStable waiter and rolloutState then agree.
	if len(v.Deployments) == 1 && p.RunningCount == p.DesiredCount && p.RolloutState == "IN_PROGRESS" {
		p.RolloutState, p.RolloutStateReason, p.UpdatedAt = "COMPLETED", "ECS deployment "+p.ID+" completed.", at
		st.ecsEvent(v, at, fmt.Sprintf("(service %s) has reached a steady state.", v.ServiceName))
	}
	p.PendingCount = 0
	if p.DesiredCount > p.RunningCount {
		p.PendingCount = 1
	}
	v.RunningCount, v.PendingCount = 0, p.PendingCount
	for _, d := range v.Deployments {
		v.RunningCount += d.RunningCount
	}
	return true
}

func (st *State) ecsEvent(v *ecsService, at time.Time, msg string) {
	e := ecsEvent{ID: hexID(fmt.Sprintf("%s %d %s", v.ServiceArn, at.UnixNano(), msg), 8) + "-" + hexID(msg, 4) + "-4000-8000-" + hexID(at.String(), 12), CreatedAt: at, Message: msg}
	v.Events = append([]ecsEvent{e}, v.Events...)
	if len(v.Events) > 100 { // ECS keeps the latest 100
		v.Events = v.Events[:100]
	}
}

// taskID is the stable id of the n-th task of a deployment.
func taskID(service, deployment string, n int) string {
	return hexID(fmt.Sprintf("%s/%s/%d", service, deployment, n), 32)
}

// Tags on services (what the plugin records beside a service, e.g. the
// desired count before a scale-in). Clusters and task definitions are not tagged here.

type ecsTagResourceIn struct {
	ResourceArn string   `json:"resourceArn"`
	Tags        []ecsTag `json:"tags"`
	TagKeys     []string `json:"tagKeys"`
}

// taggedService finds the service an ARN names, as ECS answers for others.
func (st *State) taggedService(arn string) (*ecsService, *apiError) {
	if !strings.HasPrefix(arn, "arn:") {
		return nil, ecsInvalidParameter("resourceArn must be an ARN, not %q.", arn)
	}
	for _, s := range st.ECS.Services {
		if s.Service.ServiceArn == arn {
			return &s.Service, nil
		}
	}
	return nil, badRequest("InvalidParameterException", "The specified resource is not found: %s (local-aws tags services only).", arn)
}

func ecsTagResource(s *Server, c *call, in *ecsTagResourceIn) (any, error) {
	v, err := s.st.taggedService(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, ecsInvalidParameter("tags must not be empty.")
	}
	for _, t := range in.Tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, ecsInvalidParameter("a tag key must be 1-128 characters and a value at most 256: %q", t.Key)
		}
		if i := slices.IndexFunc(v.Tags, func(x ecsTag) bool { return x.Key == t.Key }); i >= 0 {
			v.Tags[i].Value = t.Value
		} else {
			v.Tags = append(v.Tags, t)
		}
	}
	if len(v.Tags) > 50 {
		return nil, ecsInvalidParameter("a resource can have at most 50 tags.")
	}
	c.dirty = true
	return struct{}{}, nil
}

func ecsUntagResource(s *Server, c *call, in *ecsTagResourceIn) (any, error) {
	v, err := s.st.taggedService(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	v.Tags = slices.DeleteFunc(v.Tags, func(x ecsTag) bool { return slices.Contains(in.TagKeys, x.Key) })
	c.dirty = true
	return struct{}{}, nil
}

func ecsListTagsForResource(s *Server, c *call, in *ecsTagResourceIn) (any, error) {
	v, err := s.st.taggedService(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return struct {
		Tags []ecsTag `json:"tags"`
	}{append([]ecsTag{}, v.Tags...)}, nil
}
