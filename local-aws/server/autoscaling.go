package server

import (
	"slices"
	"strings"
	"time"
)

// Application Auto Scaling, awsJson1_1; member names Pascal case.

type aasState struct {
	Targets  []*aasTarget `json:"targets"`
	Policies []aasPolicy  `json:"policies"`
}

type aasTarget struct {
	ServiceNamespace  string       `json:"ServiceNamespace"`
	ResourceID        string       `json:"ResourceId"`
	ScalableDimension string       `json:"ScalableDimension"`
	MinCapacity       int          `json:"MinCapacity"`
	MaxCapacity       int          `json:"MaxCapacity"`
	RoleARN           string       `json:"RoleARN"`
	CreationTime      time.Time    `json:"CreationTime"`
	SuspendedState    aasSuspended `json:"SuspendedState"`
	ScalableTargetARN string       `json:"ScalableTargetARN"`
}

type aasSuspended struct {
	DynamicScalingInSuspended  bool `json:"DynamicScalingInSuspended"`
	DynamicScalingOutSuspended bool `json:"DynamicScalingOutSuspended"`
	ScheduledScalingSuspended  bool `json:"ScheduledScalingSuspended"`
}

type aasPolicy struct {
	PolicyARN                                string                  `json:"PolicyARN"`
	PolicyName                               string                  `json:"PolicyName"`
	ServiceNamespace                         string                  `json:"ServiceNamespace"`
	ResourceID                               string                  `json:"ResourceId"`
	ScalableDimension                        string                  `json:"ScalableDimension"`
	PolicyType                               string                  `json:"PolicyType"`
	TargetTrackingScalingPolicyConfiguration aasTargetTrackingConfig `json:"TargetTrackingScalingPolicyConfiguration"`
	Alarms                                   []map[string]string     `json:"Alarms"`
	CreationTime                             time.Time               `json:"CreationTime"`
}

type aasTargetTrackingConfig struct {
	TargetValue                   float64           `json:"TargetValue"`
	PredefinedMetricSpecification map[string]string `json:"PredefinedMetricSpecification"`
	ScaleOutCooldown              int               `json:"ScaleOutCooldown"`
	ScaleInCooldown               int               `json:"ScaleInCooldown"`
	DisableScaleIn                bool              `json:"DisableScaleIn"`
}

func autoscalingService() *service {
	return &service{
		name:         "application-autoscaling",
		signingName:  "application-autoscaling",
		targetPrefix: "AnyScaleFrontendService",
		ops: map[string]handler{
			"DescribeScalableTargets": op(aasDescribeScalableTargets),
			"DescribeScalingPolicies": op(aasDescribeScalingPolicies),
			"RegisterScalableTarget":  op(aasRegisterScalableTarget),
		},
	}
}

func aasValidation(format string, args ...any) *apiError {
	return badRequest("ValidationException", format, args...)
}

type aasDescribeTargetsIn struct {
	ServiceNamespace  string   `json:"ServiceNamespace"`
	ResourceIDs       []string `json:"ResourceIds"`
	ScalableDimension string   `json:"ScalableDimension"`
	MaxResults        int      `json:"MaxResults"`
	NextToken         string   `json:"NextToken"`
}

func aasNamespace(ns string) *apiError {
	if ns == "" {
		return aasValidation("1 validation error detected: Value null at 'serviceNamespace' failed to satisfy constraint: Member must not be null")
	}
	return nil
}

func aasDescribeScalableTargets(s *Server, c *call, in *aasDescribeTargetsIn) (any, error) {
	if err := aasNamespace(in.ServiceNamespace); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 50 {
		return nil, aasValidation("MaxResults must be between 1 and 50")
	}
	var out []aasTarget
	for _, t := range s.st.AAS.Targets {
		if t.ServiceNamespace == in.ServiceNamespace && (len(in.ResourceIDs) == 0 || slices.Contains(in.ResourceIDs, t.ResourceID)) &&
			(in.ScalableDimension == "" || t.ScalableDimension == in.ScalableDimension) {
			out = append(out, *t)
		}
	}
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.MaxResults, 50, 50))
	if !ok {
		return nil, badRequest("InvalidNextTokenException", "Invalid token")
	}
	return struct {
		ScalableTargets []aasTarget `json:"ScalableTargets"`
		NextToken       string      `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type aasDescribePoliciesIn struct {
	ServiceNamespace  string   `json:"ServiceNamespace"`
	PolicyNames       []string `json:"PolicyNames"`
	ResourceID        string   `json:"ResourceId"`
	ScalableDimension string   `json:"ScalableDimension"`
	MaxResults        int      `json:"MaxResults"`
	NextToken         string   `json:"NextToken"`
}

func aasDescribeScalingPolicies(s *Server, c *call, in *aasDescribePoliciesIn) (any, error) {
	if err := aasNamespace(in.ServiceNamespace); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 50 {
		return nil, aasValidation("MaxResults must be between 1 and 50")
	}
	var out []aasPolicy
	for _, p := range s.st.AAS.Policies {
		if p.ServiceNamespace == in.ServiceNamespace && (len(in.PolicyNames) == 0 || slices.Contains(in.PolicyNames, p.PolicyName)) &&
			(in.ResourceID == "" || p.ResourceID == in.ResourceID) && (in.ScalableDimension == "" || p.ScalableDimension == in.ScalableDimension) {
			out = append(out, p)
		}
	}
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.MaxResults, 10, 50))
	if !ok {
		return nil, badRequest("InvalidNextTokenException", "Invalid token")
	}
	return struct {
		ScalingPolicies []aasPolicy `json:"ScalingPolicies"`
		NextToken       string      `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type aasRegisterIn struct {
	ServiceNamespace  string        `json:"ServiceNamespace"`
	ResourceID        string        `json:"ResourceId"`
	ScalableDimension string        `json:"ScalableDimension"`
	MinCapacity       *int          `json:"MinCapacity"`
	MaxCapacity       *int          `json:"MaxCapacity"`
	RoleARN           string        `json:"RoleARN"`
	SuspendedState    *aasSuspended `json:"SuspendedState"`
}

// aasRegisterScalableTarget creates or updates an ECS service's scalable
// target; like AWS, it moves the service's desired count into the new range.
func aasRegisterScalableTarget(s *Server, c *call, in *aasRegisterIn) (any, error) {
	if err := aasNamespace(in.ServiceNamespace); err != nil {
		return nil, err
	}
	if in.ServiceNamespace != "ecs" || in.ScalableDimension != "ecs:service:DesiredCount" {
		return nil, aasValidation("local-aws scales ECS services only: ServiceNamespace ecs, ScalableDimension ecs:service:DesiredCount")
	}
	parts := strings.Split(in.ResourceID, "/")
	if len(parts) != 3 || parts[0] != "service" {
		return nil, aasValidation("Unsupported resource ID: %s (want service/<cluster>/<service>)", in.ResourceID)
	}
	cl, cerr := s.st.findCluster(parts[1])
	var svc *ecsServiceState
	if cerr == nil {
		svc = s.st.findService(cl, parts[2])
	}
	if svc == nil {
		return nil, aasValidation("ECS service doesn't exist: %s", in.ResourceID)
	}
	i := slices.IndexFunc(s.st.AAS.Targets, func(t *aasTarget) bool {
		return t.ResourceID == in.ResourceID && t.ScalableDimension == in.ScalableDimension
	})
	var t *aasTarget
	if i >= 0 {
		t = s.st.AAS.Targets[i]
	} else {
		if in.MinCapacity == nil || in.MaxCapacity == nil {
			return nil, aasValidation("MinCapacity and MaxCapacity are required to register a new scalable target")
		}
		t = &aasTarget{ServiceNamespace: "ecs", ResourceID: in.ResourceID, ScalableDimension: in.ScalableDimension, CreationTime: c.now,
			RoleARN:           s.st.arn("iam", "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"),
			ScalableTargetARN: s.st.arn("application-autoscaling", "scalable-target/"+hexID(in.ResourceID, 28))}
	}
	next := *t
	if in.MinCapacity != nil {
		next.MinCapacity = *in.MinCapacity
	}
	if in.MaxCapacity != nil {
		next.MaxCapacity = *in.MaxCapacity
	}
	if in.SuspendedState != nil {
		next.SuspendedState = *in.SuspendedState
	}
	if next.MinCapacity < 0 || next.MaxCapacity < next.MinCapacity {
		return nil, aasValidation("Minimum capacity cannot be greater than maximum capacity")
	}
	*t = next
	if i < 0 {
		s.st.AAS.Targets = append(s.st.AAS.Targets, t)
	}
	v := &svc.Service
	if want := min(max(v.DesiredCount, t.MinCapacity), t.MaxCapacity); want != v.DesiredCount {
		v.DesiredCount = want
		s.st.ecsDeploy(svc, v.TaskDefinition, false, c.now)
	}
	c.dirty = true
	return struct {
		ScalableTargetARN string `json:"ScalableTargetARN"`
	}{t.ScalableTargetARN}, nil
}
