// Package ecsstate reads the live ECS deployment of the platform — services,
// task definitions, scaling, EFS, load balancer, secrets' names, alarms —
// into plain values that `settings init --from-ecs` and `parity` decide on
// without further AWS calls. No secret value is ever read.
package ecsstate

import (
	"fmt"
	"regexp"
	"strings"
)

// Deployment is the ECS deployment as one read found it.
type Deployment struct {
	Account string `json:"account"` // of the credentials (sts:GetCallerIdentity)
	Region  string `json:"region"`
	Cluster string `json:"cluster"`

	Services      []Service             `json:"services"`
	FileSystems   []FileSystem          `json:"fileSystems,omitempty"`
	AccessPoints  []AccessPoint         `json:"accessPoints,omitempty"`
	TargetGroups  []TargetGroup         `json:"targetGroups,omitempty"`
	LoadBalancers []LoadBalancer        `json:"loadBalancers,omitempty"`
	Secrets       map[string]SecretMeta `json:"secrets,omitempty"` // by the ARN the task definitions name
	Alarms        []Alarm               `json:"alarms,omitempty"`
}

// Service is one ECS service and the task definition it runs.
type Service struct {
	Name           string         `json:"name"` // e.g. layering-detection-orchestrator
	DesiredCount   int            `json:"desiredCount"`
	TaskDefinition TaskDefinition `json:"taskDefinition"`
	TargetGroups   []string       `json:"targetGroups,omitempty"` // ARNs
	Scaling        *Scaling       `json:"scaling,omitempty"`      // nil: no scalable target
}

// TaskDefinition is the revision a service runs.
type TaskDefinition struct {
	Family     string      `json:"family"`
	Revision   int         `json:"revision"`
	CPU        string      `json:"cpu"`    // task CPU units, e.g. "512"
	Memory     string      `json:"memory"` // task memory, MiB
	Containers []Container `json:"containers"`
	Volumes    []Volume    `json:"volumes,omitempty"`
}

// Ref is family:revision, as ECS names a revision.
func (t TaskDefinition) Ref() string { return fmt.Sprintf("%s:%d", t.Family, t.Revision) }

// Container is one container of a task definition.
type Container struct {
	Name        string            `json:"name"`
	Image       string            `json:"image"`
	Ports       []int             `json:"ports,omitempty"`
	User        string            `json:"user,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Secrets     map[string]string `json:"secrets,omitempty"` // env name → valueFrom
	Mounts      []Mount           `json:"mounts,omitempty"`
	HealthCheck *HealthCheck      `json:"healthCheck,omitempty"`
	LogDriver   string            `json:"logDriver,omitempty"`
	LogOptions  map[string]string `json:"logOptions,omitempty"`
}

// Mount is a container's mount point.
type Mount struct {
	Volume   string `json:"volume"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly"`
}

// Volume is a task definition volume; EFS fields are empty for other kinds.
type Volume struct {
	Name          string `json:"name"`
	FileSystemID  string `json:"fileSystemId,omitempty"`
	AccessPointID string `json:"accessPointId,omitempty"`
	RootDirectory string `json:"rootDirectory,omitempty"`
}

// HealthCheck is a container health check; times in seconds.
type HealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

// Scaling is a service's scalable target and its target-tracking policies.
type Scaling struct {
	Min      int      `json:"min"`
	Max      int      `json:"max"`
	Policies []Policy `json:"policies,omitempty"`
}

// Policy is a target-tracking scaling policy.
type Policy struct {
	Name             string  `json:"name"`
	Metric           string  `json:"metric"` // predefined, e.g. ECSServiceAverageCPUUtilization
	Target           float64 `json:"target"`
	ScaleOutCooldown int     `json:"scaleOutCooldown"`
	ScaleInCooldown  int     `json:"scaleInCooldown"`
}

// FileSystem is an EFS file system.
type FileSystem struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// AccessPoint is an EFS access point.
type AccessPoint struct {
	ID            string `json:"id"`
	FileSystemID  string `json:"fileSystemId"`
	Name          string `json:"name,omitempty"`
	RootDirectory string `json:"rootDirectory,omitempty"`
}

// TargetGroup is an ELBv2 target group with its health check.
type TargetGroup struct {
	ARN                string   `json:"arn"`
	Name               string   `json:"name"`
	LoadBalancers      []string `json:"loadBalancers,omitempty"` // ARNs
	HealthCheckPath    string   `json:"healthCheckPath"`
	HealthCheckSeconds int      `json:"healthCheckIntervalSeconds"`
	TimeoutSeconds     int      `json:"healthCheckTimeoutSeconds"`
	Healthy            int      `json:"healthyThreshold"`
	Unhealthy          int      `json:"unhealthyThreshold"`
	Matcher            string   `json:"matcher"`
}

// LoadBalancer is an ALB and its listeners.
type LoadBalancer struct {
	ARN       string     `json:"arn"`
	Name      string     `json:"name"`
	Listeners []Listener `json:"listeners,omitempty"`
}

// Listener is one ALB listener.
type Listener struct {
	Port         int      `json:"port"`
	Protocol     string   `json:"protocol"`
	SSLPolicy    string   `json:"sslPolicy,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
}

// SecretMeta is what DescribeSecret says of a secret: never its value.
type SecretMeta struct {
	ARN  string `json:"arn"`
	Name string `json:"name"`
}

// Alarm is a CloudWatch metric alarm.
type Alarm struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	Metric            string            `json:"metric"`
	Statistic         string            `json:"statistic"`
	Dimensions        map[string]string `json:"dimensions,omitempty"`
	PeriodSeconds     int               `json:"periodSeconds"`
	EvaluationPeriods int               `json:"evaluationPeriods"`
	Threshold         float64           `json:"threshold"`
	Comparison        string            `json:"comparison"`
	TreatMissingData  string            `json:"treatMissingData"`
	Actions           []string          `json:"actions,omitempty"`
}

// Service returns the service named name, if the deployment has it.
func (d *Deployment) Service(name string) (Service, bool) {
	for _, s := range d.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// TargetGroup returns the target group of an ARN.
func (d *Deployment) TargetGroup(arn string) (TargetGroup, bool) {
	for _, t := range d.TargetGroups {
		if t.ARN == arn {
			return t, true
		}
	}
	return TargetGroup{}, false
}

// SecretRef splits an ECS secrets valueFrom of Secrets Manager,
// arn:…:secret:NAME-SUFFIX:JSON_KEY:VERSION_STAGE:VERSION_ID, into the
// secret's ARN and the JSON key (empty: the whole string).
func SecretRef(valueFrom string) (arn, jsonKey string) {
	parts := strings.Split(valueFrom, ":")
	if len(parts) < 7 || parts[2] != "secretsmanager" {
		return valueFrom, ""
	}
	arn = strings.Join(parts[:7], ":")
	if len(parts) > 7 {
		jsonKey = parts[7]
	}
	return arn, jsonKey
}

var ecrRegistry = regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/`)

// Image is an image reference split into what the comparisons need.
type Image struct {
	Repository string // registry and path, without tag or digest
	Tag        string
	Digest     string
	Account    string // of an ECR registry
	Region     string
}

// ParseImage splits an image reference: [registry/]path[:tag][@digest].
func ParseImage(ref string) Image {
	var img Image
	ref, img.Digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, img.Tag = ref[:i], ref[i+1:]
	}
	img.Repository = ref
	if m := ecrRegistry.FindStringSubmatch(ref); m != nil {
		img.Account, img.Region = m[1], m[2]
	}
	return img
}
