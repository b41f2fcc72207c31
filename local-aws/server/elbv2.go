package server

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Elastic Load Balancing v2, awsquery (XML responses); member names Pascal case.

type elbState struct {
	LoadBalancers []elbLoadBalancer `json:"loadBalancers"`
	Listeners     []elbListener     `json:"listeners"`
	Rules         []elbRuleState    `json:"rules"` // non-default rules; default rules come from listeners
	TargetGroups  []elbTargetGroup  `json:"targetGroups"`
	// Registered holds targets registered by hand (RegisterTargets) per
	// target group; ECS target groups' targets are the services' tasks.
	Registered map[string][]elbTarget `json:"registered"`
	// HealthOverrides holds the health a test set for every target of a
	// target group (control API target-health): nothing here health-checks.
	HealthOverrides map[string]elbTargetState `json:"healthOverrides,omitempty"`
}

type elbLoadBalancer struct {
	LoadBalancerArn       string    `json:"LoadBalancerArn"`
	DNSName               string    `json:"DNSName"`
	CanonicalHostedZoneID string    `json:"CanonicalHostedZoneId"`
	CreatedTime           time.Time `json:"CreatedTime"`
	LoadBalancerName      string    `json:"LoadBalancerName"`
	Scheme                string    `json:"Scheme"`
	VpcID                 string    `json:"VpcId"`
	State                 elbState2 `json:"State"`
	Type                  string    `json:"Type"`
	AvailabilityZones     []elbAZ   `json:"AvailabilityZones"`
	SecurityGroups        []string  `json:"SecurityGroups"`
	IPAddressType         string    `json:"IpAddressType"`
}

type elbState2 struct {
	Code string `json:"Code"`
}

type elbAZ struct {
	ZoneName string `json:"ZoneName"`
	SubnetID string `json:"SubnetId"`
}

type elbListener struct {
	ListenerArn     string           `json:"ListenerArn"`
	LoadBalancerArn string           `json:"LoadBalancerArn"`
	Port            int              `json:"Port"`
	Protocol        string           `json:"Protocol"`
	Certificates    []elbCertificate `json:"Certificates,omitempty"`
	SslPolicy       string           `json:"SslPolicy,omitempty"`
	DefaultActions  []elbAction      `json:"DefaultActions"`
}

type elbCertificate struct {
	CertificateArn string `json:"CertificateArn"`
	IsDefault      *bool  `json:"IsDefault,omitempty"`
}

type elbAction struct {
	Type                string            `json:"Type"`
	TargetGroupArn      string            `json:"TargetGroupArn,omitempty"`
	Order               int               `json:"Order,omitempty"`
	ForwardConfig       *elbForwardConfig `json:"ForwardConfig,omitempty"`
	RedirectConfig      *elbRedirect      `json:"RedirectConfig,omitempty"`
	FixedResponseConfig *elbFixedResponse `json:"FixedResponseConfig,omitempty"`
}

type elbForwardConfig struct {
	TargetGroups                []elbWeightedTG `json:"TargetGroups"`
	TargetGroupStickinessConfig *elbStickiness  `json:"TargetGroupStickinessConfig,omitempty"`
}

type elbWeightedTG struct {
	TargetGroupArn string `json:"TargetGroupArn"`
	Weight         *int   `json:"Weight,omitempty"`
}

type elbStickiness struct {
	Enabled         bool `json:"Enabled"`
	DurationSeconds int  `json:"DurationSeconds,omitempty"`
}

type elbRedirect struct {
	Protocol   string `json:"Protocol,omitempty"`
	Port       string `json:"Port,omitempty"`
	Host       string `json:"Host,omitempty"`
	Path       string `json:"Path,omitempty"`
	Query      string `json:"Query,omitempty"`
	StatusCode string `json:"StatusCode"`
}

type elbFixedResponse struct {
	MessageBody string `json:"MessageBody,omitempty"`
	StatusCode  string `json:"StatusCode"`
	ContentType string `json:"ContentType,omitempty"`
}

type elbRuleState struct {
	ListenerArn string  `json:"listenerArn"`
	Rule        elbRule `json:"rule"`
}

type elbRule struct {
	RuleArn    string         `json:"RuleArn"`
	Priority   string         `json:"Priority"`
	Conditions []elbCondition `json:"Conditions"`
	Actions    []elbAction    `json:"Actions"`
	IsDefault  bool           `json:"IsDefault"`
}

type elbValues struct {
	Values []string `json:"Values"`
}

type elbCondition struct {
	Field                   string      `json:"Field"`
	Values                  []string    `json:"Values,omitempty"`
	HostHeaderConfig        *elbValues  `json:"HostHeaderConfig,omitempty"`
	PathPatternConfig       *elbValues  `json:"PathPatternConfig,omitempty"`
	HTTPRequestMethodConfig *elbValues  `json:"HttpRequestMethodConfig,omitempty"`
	SourceIPConfig          *elbValues  `json:"SourceIpConfig,omitempty"`
	HTTPHeaderConfig        *elbHeader  `json:"HttpHeaderConfig,omitempty"`
	QueryStringConfig       *elbQueries `json:"QueryStringConfig,omitempty"`
}

type elbHeader struct {
	HTTPHeaderName string   `json:"HttpHeaderName"`
	Values         []string `json:"Values"`
}

type elbQueries struct {
	Values []struct {
		Key   string `json:"Key,omitempty"`
		Value string `json:"Value"`
	} `json:"Values"`
}

type elbTargetGroup struct {
	TargetGroupArn             string     `json:"TargetGroupArn"`
	TargetGroupName            string     `json:"TargetGroupName"`
	Protocol                   string     `json:"Protocol"`
	Port                       int        `json:"Port"`
	VpcID                      string     `json:"VpcId"`
	HealthCheckProtocol        string     `json:"HealthCheckProtocol"`
	HealthCheckPort            string     `json:"HealthCheckPort"`
	HealthCheckEnabled         bool       `json:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int        `json:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int        `json:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int        `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int        `json:"UnhealthyThresholdCount"`
	HealthCheckPath            string     `json:"HealthCheckPath"`
	Matcher                    elbMatcher `json:"Matcher"`
	LoadBalancerArns           []string   `json:"LoadBalancerArns"`
	TargetType                 string     `json:"TargetType"`
	ProtocolVersion            string     `json:"ProtocolVersion"`
	IPAddressType              string     `json:"IpAddressType"`
}

type elbMatcher struct {
	HTTPCode string `json:"HttpCode"`
}

type elbTarget struct {
	ID               string `json:"Id"`
	Port             int    `json:"Port,omitempty"`
	AvailabilityZone string `json:"AvailabilityZone,omitempty"`
}

func elbv2Service() *service {
	return &service{
		name:         "elbv2",
		signingName:  "elasticloadbalancing",
		xmlns:        "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
		resultAlways: true,
		ops: map[string]handler{
			"DescribeLoadBalancers": op(elbDescribeLoadBalancers),
			"DescribeListeners":     op(elbDescribeListeners),
			"DescribeRules":         op(elbDescribeRules),
			"DescribeTargetGroups":  op(elbDescribeTargetGroups),
			"DescribeTargetHealth":  op(elbDescribeTargetHealth),
			"ModifyListener":        op(elbModifyListener),
			"ModifyRule":            op(elbModifyRule),
			"RegisterTargets":       op(elbRegisterTargets),
			"DeregisterTargets":     op(elbDeregisterTargets),
			"DeleteTargetGroup":     op(elbDeleteTargetGroup),
		},
	}
}

func elbValidation(format string, args ...any) *apiError {
	return badRequest("ValidationError", format, args...)
}

// targetGroupArn is the ARN of target group layering-detection-<suffix>.
func (st *State) targetGroupArn(suffix string) string {
	name := appName + "-" + suffix
	return st.arn("elasticloadbalancing", "targetgroup/"+name+"/"+hexID(name, 16))
}

func (st *State) findTargetGroup(arn string) *elbTargetGroup {
	for i := range st.ELB.TargetGroups {
		if st.ELB.TargetGroups[i].TargetGroupArn == arn {
			return &st.ELB.TargetGroups[i]
		}
	}
	return nil
}

func (st *State) findListener(arn string) *elbListener {
	for i := range st.ELB.Listeners {
		if st.ELB.Listeners[i].ListenerArn == arn {
			return &st.ELB.Listeners[i]
		}
	}
	return nil
}

type elbPaging struct {
	Marker   string `json:"Marker"`
	PageSize int    `json:"PageSize"`
}

func (p elbPaging) check() *apiError {
	if p.PageSize < 0 || p.PageSize > 400 {
		return elbValidation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 400", p.PageSize)
	}
	return nil
}

// elbPage pages with ELBv2's Marker/NextMarker.
func elbPage[T any](items []T, p elbPaging) ([]T, string, *apiError) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	page, next, ok := pageOf(items, p.Marker, pageSize(p.PageSize, 400, 400))
	if !ok {
		return nil, "", elbValidation("Invalid marker '%s'", p.Marker)
	}
	return orEmpty(page), next, nil
}

type elbDescribeLoadBalancersIn struct {
	elbPaging
	LoadBalancerArns []string `json:"LoadBalancerArns"`
	Names            []string `json:"Names"`
}

func elbDescribeLoadBalancers(s *Server, c *call, in *elbDescribeLoadBalancersIn) (any, error) {
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, elbValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var out []elbLoadBalancer
	for _, lb := range s.st.ELB.LoadBalancers {
		if (len(in.LoadBalancerArns) == 0 || slices.Contains(in.LoadBalancerArns, lb.LoadBalancerArn)) &&
			(len(in.Names) == 0 || slices.Contains(in.Names, lb.LoadBalancerName)) {
			out = append(out, lb)
		}
	}
	if want := len(in.LoadBalancerArns) + len(in.Names); want > 0 && len(out) < want {
		return nil, badRequest("LoadBalancerNotFound", "One or more load balancers not found")
	}
	page, next, err := elbPage(out, in.elbPaging)
	if err != nil {
		return nil, err
	}
	return struct {
		LoadBalancers []elbLoadBalancer `json:"LoadBalancers"`
		NextMarker    string            `json:"NextMarker,omitempty"`
	}{page, next}, nil
}

type elbDescribeListenersIn struct {
	elbPaging
	LoadBalancerArn string   `json:"LoadBalancerArn"`
	ListenerArns    []string `json:"ListenerArns"`
}

func elbDescribeListeners(s *Server, c *call, in *elbDescribeListenersIn) (any, error) {
	if (in.LoadBalancerArn == "") == (len(in.ListenerArns) == 0) {
		return nil, elbValidation("Exactly one of LoadBalancerArn and ListenerArns must be specified")
	}
	if in.LoadBalancerArn != "" && !slices.ContainsFunc(s.st.ELB.LoadBalancers, func(lb elbLoadBalancer) bool { return lb.LoadBalancerArn == in.LoadBalancerArn }) {
		return nil, badRequest("LoadBalancerNotFound", "Load balancer '%s' not found", in.LoadBalancerArn)
	}
	var out []elbListener
	for _, l := range s.st.ELB.Listeners {
		if l.LoadBalancerArn == in.LoadBalancerArn || slices.Contains(in.ListenerArns, l.ListenerArn) {
			out = append(out, l)
		}
	}
	if len(in.ListenerArns) > 0 && len(out) < len(in.ListenerArns) {
		return nil, badRequest("ListenerNotFound", "One or more listeners not found")
	}
	page, next, err := elbPage(out, in.elbPaging)
	if err != nil {
		return nil, err
	}
	return struct {
		Listeners  []elbListener `json:"Listeners"`
		NextMarker string        `json:"NextMarker,omitempty"`
	}{page, next}, nil
}

// defaultRule is the listener's default rule, which carries its default actions.
func defaultRule(l *elbListener) elbRule {
	arn := strings.Replace(l.ListenerArn, ":listener/", ":listener-rule/", 1) + "/" + hexID(l.ListenerArn+"/default", 16)
	return elbRule{RuleArn: arn, Priority: "default", Conditions: []elbCondition{}, Actions: l.DefaultActions, IsDefault: true}
}

// rulesOf lists a listener's rules by priority, the default rule last.
func (st *State) rulesOf(listenerArn string) []elbRule {
	var out []elbRule
	for _, r := range st.ELB.Rules {
		if r.ListenerArn == listenerArn {
			out = append(out, r.Rule)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].Priority)
		b, _ := strconv.Atoi(out[j].Priority)
		return a < b
	})
	if l := st.findListener(listenerArn); l != nil {
		out = append(out, defaultRule(l))
	}
	return out
}

type elbDescribeRulesIn struct {
	elbPaging
	ListenerArn string   `json:"ListenerArn"`
	RuleArns    []string `json:"RuleArns"`
}

func elbDescribeRules(s *Server, c *call, in *elbDescribeRulesIn) (any, error) {
	if (in.ListenerArn == "") == (len(in.RuleArns) == 0) {
		return nil, elbValidation("Exactly one of ListenerArn and RuleArns must be specified")
	}
	var out []elbRule
	if in.ListenerArn != "" {
		if s.st.findListener(in.ListenerArn) == nil {
			return nil, badRequest("ListenerNotFound", "Listener '%s' not found", in.ListenerArn)
		}
		out = s.st.rulesOf(in.ListenerArn)
	} else {
		for _, arn := range in.RuleArns {
			r, _ := s.st.findRule(arn)
			if r == nil {
				return nil, badRequest("RuleNotFound", "One or more rules not found")
			}
			out = append(out, *r)
		}
	}
	page, next, err := elbPage(out, in.elbPaging)
	if err != nil {
		return nil, err
	}
	return struct {
		Rules      []elbRule `json:"Rules"`
		NextMarker string    `json:"NextMarker,omitempty"`
	}{page, next}, nil
}

// findRule finds a rule by ARN; the second result is its listener's default
// rule flag holder (nil for ordinary rules).
func (st *State) findRule(arn string) (*elbRule, *elbListener) {
	for i := range st.ELB.Rules {
		if st.ELB.Rules[i].Rule.RuleArn == arn {
			return &st.ELB.Rules[i].Rule, nil
		}
	}
	for i := range st.ELB.Listeners {
		if d := defaultRule(&st.ELB.Listeners[i]); d.RuleArn == arn {
			return &d, &st.ELB.Listeners[i]
		}
	}
	return nil, nil
}

type elbDescribeTargetGroupsIn struct {
	elbPaging
	LoadBalancerArn string   `json:"LoadBalancerArn"`
	TargetGroupArns []string `json:"TargetGroupArns"`
	Names           []string `json:"Names"`
}

func elbDescribeTargetGroups(s *Server, c *call, in *elbDescribeTargetGroupsIn) (any, error) {
	var out []elbTargetGroup
	for _, tg := range s.st.ELB.TargetGroups {
		tg.LoadBalancerArns = s.st.loadBalancersOf(tg.TargetGroupArn)
		if (len(in.TargetGroupArns) > 0 && !slices.Contains(in.TargetGroupArns, tg.TargetGroupArn)) ||
			(len(in.Names) > 0 && !slices.Contains(in.Names, tg.TargetGroupName)) ||
			(in.LoadBalancerArn != "" && !slices.Contains(tg.LoadBalancerArns, in.LoadBalancerArn)) {
			continue
		}
		out = append(out, tg)
	}
	if want := len(in.TargetGroupArns) + len(in.Names); want > 0 && len(out) < want {
		return nil, badRequest("TargetGroupNotFound", "One or more target groups not found")
	}
	page, next, err := elbPage(out, in.elbPaging)
	if err != nil {
		return nil, err
	}
	return struct {
		TargetGroups []elbTargetGroup `json:"TargetGroups"`
		NextMarker   string           `json:"NextMarker,omitempty"`
	}{page, next}, nil
}

// loadBalancersOf is the load balancers whose listeners or rules forward to
// the target group.
func (st *State) loadBalancersOf(tgArn string) []string {
	uses := func(actions []elbAction) bool {
		for _, a := range actions {
			if a.TargetGroupArn == tgArn {
				return true
			}
			if a.ForwardConfig != nil && slices.ContainsFunc(a.ForwardConfig.TargetGroups, func(w elbWeightedTG) bool { return w.TargetGroupArn == tgArn }) {
				return true
			}
		}
		return false
	}
	out := []string{}
	for _, l := range st.ELB.Listeners {
		used := uses(l.DefaultActions)
		for _, r := range st.ELB.Rules {
			if r.ListenerArn == l.ListenerArn && uses(r.Rule.Actions) {
				used = true
			}
		}
		if used && !slices.Contains(out, l.LoadBalancerArn) {
			out = append(out, l.LoadBalancerArn)
		}
	}
	return out
}

type elbDescribeTargetHealthIn struct {
	TargetGroupArn string      `json:"TargetGroupArn"`
	Targets        []elbTarget `json:"Targets"`
}

type elbTargetHealthDescription struct {
	Target          elbTarget      `json:"Target"`
	HealthCheckPort string         `json:"HealthCheckPort"`
	TargetHealth    elbTargetState `json:"TargetHealth"`
}

type elbTargetState struct {
	State       string `json:"State"`
	Reason      string `json:"Reason,omitempty"`
	Description string `json:"Description,omitempty"`
}

func elbDescribeTargetHealth(s *Server, c *call, in *elbDescribeTargetHealthIn) (any, error) {
	tg := s.st.findTargetGroup(in.TargetGroupArn)
	if tg == nil {
		return nil, badRequest("TargetGroupNotFound", "Target groups '%s' not found", in.TargetGroupArn)
	}
	all := s.st.targetHealth(tg)
	out := []elbTargetHealthDescription{}
	if len(in.Targets) == 0 {
		out = all
	}
	for _, want := range in.Targets {
		i := slices.IndexFunc(all, func(d elbTargetHealthDescription) bool {
			return d.Target.ID == want.ID && (want.Port == 0 || want.Port == d.Target.Port)
		})
		if i >= 0 {
			out = append(out, all[i])
			continue
		}
		port := want.Port
		if port == 0 {
			port = tg.Port
		}
		out = append(out, elbTargetHealthDescription{Target: elbTarget{ID: want.ID, Port: port}, HealthCheckPort: strconv.Itoa(port),
			TargetHealth: elbTargetState{State: "unused", Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"}})
	}
	return struct {
		TargetHealthDescriptions []elbTargetHealthDescription `json:"TargetHealthDescriptions"`
	}{out}, nil
}

// targetHealth follows the ECS service behind the target group: each running
// task is a healthy ip target; while a deployment replaces tasks, the old
// deployment's tasks drain once the new ones are all running. Hand-registered
// targets are healthy (nothing here health-checks them).
func (st *State) targetHealth(tg *elbTargetGroup) []elbTargetHealthDescription {
	out := []elbTargetHealthDescription{}
	for _, svc := range st.ECS.Services {
		v := svc.Service
		if !slices.ContainsFunc(v.LoadBalancers, func(lb ecsLoadBalancer) bool { return lb.TargetGroupArn == tg.TargetGroupArn }) {
			continue
		}
		primaryDone := v.Deployments[0].RunningCount >= v.Deployments[0].DesiredCount
		for di, d := range v.Deployments {
			for n := 0; n < d.RunningCount; n++ {
				h := elbTargetState{State: "healthy"}
				if di > 0 && primaryDone {
					h = elbTargetState{State: "draining", Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"}
				}
				out = append(out, elbTargetHealthDescription{
					Target:          elbTarget{ID: taskIP(svc.Index, d.ID, n), Port: tg.Port, AvailabilityZone: st.Region + string(rune('a'+n%2))},
					HealthCheckPort: strconv.Itoa(tg.Port), TargetHealth: h})
			}
		}
	}
	for _, t := range st.ELB.Registered[tg.TargetGroupArn] {
		out = append(out, elbTargetHealthDescription{Target: t, HealthCheckPort: strconv.Itoa(t.Port), TargetHealth: elbTargetState{State: "healthy"}})
	}
	if h, ok := st.ELB.HealthOverrides[tg.TargetGroupArn]; ok {
		for i := range out {
			if out[i].TargetHealth.State != "draining" {
				out[i].TargetHealth = h
			}
		}
	}
	return out
}

// targetHealthStates are the states DescribeTargetHealth reports, with the
// reason ELBv2 gives for each when a test sets it without one.
var targetHealthStates = map[string]elbTargetState{
	"healthy":     {State: "healthy"},
	"unhealthy":   {State: "unhealthy", Reason: "Target.FailedHealthChecks", Description: "Health checks failed"},
	"initial":     {State: "initial", Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress"},
	"unavailable": {State: "unavailable", Reason: "Target.HealthCheckDisabled", Description: "Health checks disabled"},
}

// TargetHealthOverride is the control API's body: every target of a target
// group (name or ARN) reported in this state; an empty state clears it.
type TargetHealthOverride struct {
	TargetGroup string `json:"targetGroup"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
}

// setTargetHealth applies an override; the caller holds s.mu.
func (st *State) setTargetHealth(o TargetHealthOverride) error {
	var tg *elbTargetGroup
	for i := range st.ELB.TargetGroups {
		if g := &st.ELB.TargetGroups[i]; g.TargetGroupArn == o.TargetGroup || g.TargetGroupName == o.TargetGroup {
			tg = g
		}
	}
	if tg == nil {
		return fmt.Errorf("no target group %q (a name or an ARN)", o.TargetGroup)
	}
	if o.State == "" {
		delete(st.ELB.HealthOverrides, tg.TargetGroupArn)
		return nil
	}
	h, ok := targetHealthStates[o.State]
	if !ok {
		return fmt.Errorf(`"state" must be healthy, unhealthy, initial, unavailable or "" (clear), not %q`, o.State)
	}
	if o.Reason != "" {
		h.Reason, h.Description = o.Reason, o.Description
	}
	if st.ELB.HealthOverrides == nil {
		st.ELB.HealthOverrides = map[string]elbTargetState{}
	}
	st.ELB.HealthOverrides[tg.TargetGroupArn] = h
	return nil
}

// taskIP is the stable private address of a deployment's n-th task.
func taskIP(service int, deployment string, n int) string {
	b := hexID(deployment, 2)
	k, _ := strconv.ParseUint(b, 16, 8)
	return fmt.Sprintf("10.0.%d.%d", 16*service+int(k%16), 10+n)
}

type elbTargetsIn struct {
	TargetGroupArn string      `json:"TargetGroupArn"`
	Targets        []elbTarget `json:"Targets"`
}

func elbRegisterTargets(s *Server, c *call, in *elbTargetsIn) (any, error) {
	tg := s.st.findTargetGroup(in.TargetGroupArn)
	if tg == nil {
		return nil, badRequest("TargetGroupNotFound", "Target groups '%s' not found", in.TargetGroupArn)
	}
	if len(in.Targets) == 0 {
		return nil, elbValidation("Targets must not be empty")
	}
	if s.st.ELB.Registered == nil {
		s.st.ELB.Registered = map[string][]elbTarget{}
	}
	cur := s.st.ELB.Registered[tg.TargetGroupArn]
	for _, t := range in.Targets {
		if t.Port == 0 {
			t.Port = tg.Port
		}
		if !slices.ContainsFunc(cur, func(x elbTarget) bool { return x.ID == t.ID && x.Port == t.Port }) {
			cur = append(cur, t)
		}
	}
	s.st.ELB.Registered[tg.TargetGroupArn] = cur
	c.dirty = true
	return struct{}{}, nil
}

func elbDeregisterTargets(s *Server, c *call, in *elbTargetsIn) (any, error) {
	tg := s.st.findTargetGroup(in.TargetGroupArn)
	if tg == nil {
		return nil, badRequest("TargetGroupNotFound", "Target groups '%s' not found", in.TargetGroupArn)
	}
	s.st.ELB.Registered[tg.TargetGroupArn] = slices.DeleteFunc(s.st.ELB.Registered[tg.TargetGroupArn], func(x elbTarget) bool {
		return slices.ContainsFunc(in.Targets, func(t elbTarget) bool { return t.ID == x.ID && (t.Port == 0 || t.Port == x.Port) })
	})
	c.dirty = true
	return struct{}{}, nil
}

type elbDeleteTargetGroupIn struct {
	TargetGroupArn string `json:"TargetGroupArn"`
}

// elbDeleteTargetGroup removes a target group no listener or rule forwards
// to; like ELBv2, deleting one that does not exist succeeds.
func elbDeleteTargetGroup(s *Server, c *call, in *elbDeleteTargetGroupIn) (any, error) {
	if in.TargetGroupArn == "" {
		return nil, elbValidation("TargetGroupArn is required")
	}
	if len(s.st.loadBalancersOf(in.TargetGroupArn)) > 0 {
		return nil, badRequest("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", in.TargetGroupArn)
	}
	s.st.ELB.TargetGroups = slices.DeleteFunc(s.st.ELB.TargetGroups, func(tg elbTargetGroup) bool { return tg.TargetGroupArn == in.TargetGroupArn })
	delete(s.st.ELB.Registered, in.TargetGroupArn)
	delete(s.st.ELB.HealthOverrides, in.TargetGroupArn)
	c.dirty = true
	return struct{}{}, nil
}

// normalizeActions checks actions as ELBv2 does and fills in what it
// returns: a forward to one group carries both TargetGroupArn and ForwardConfig.
func (st *State) normalizeActions(actions []elbAction) ([]elbAction, *apiError) {
	if len(actions) == 0 {
		return nil, elbValidation("At least one action must be specified")
	}
	out := make([]elbAction, len(actions))
	for i, a := range actions {
		switch a.Type {
		case "forward":
			if a.ForwardConfig == nil {
				if a.TargetGroupArn == "" {
					return nil, elbValidation("A target group ARN or forward config must be specified for a forward action")
				}
				a.ForwardConfig = &elbForwardConfig{TargetGroups: []elbWeightedTG{{TargetGroupArn: a.TargetGroupArn, Weight: ptr(1)}}}
			}
			fc := a.ForwardConfig
			if len(fc.TargetGroups) == 0 || len(fc.TargetGroups) > 5 {
				return nil, elbValidation("A forward action must have 1 to 5 target groups")
			}
			for j, w := range fc.TargetGroups {
				if st.findTargetGroup(w.TargetGroupArn) == nil {
					return nil, badRequest("TargetGroupNotFound", "Target group '%s' not found", w.TargetGroupArn)
				}
				if w.Weight == nil {
					fc.TargetGroups[j].Weight = ptr(1)
				} else if *w.Weight < 0 || *w.Weight > 999 {
					return nil, elbValidation("Target group weight must be between 0 and 999")
				}
			}
			if a.TargetGroupArn != "" && (len(fc.TargetGroups) != 1 || fc.TargetGroups[0].TargetGroupArn != a.TargetGroupArn) {
				return nil, badRequest("InvalidLoadBalancerAction", "You cannot specify both a target group ARN and a forward config with different target groups")
			}
			a.TargetGroupArn = ""
			if len(fc.TargetGroups) == 1 {
				a.TargetGroupArn = fc.TargetGroups[0].TargetGroupArn
			}
			if fc.TargetGroupStickinessConfig == nil {
				fc.TargetGroupStickinessConfig = &elbStickiness{Enabled: false}
			}
		case "redirect":
			if a.RedirectConfig == nil || (a.RedirectConfig.StatusCode != "HTTP_301" && a.RedirectConfig.StatusCode != "HTTP_302") {
				return nil, elbValidation("A redirect action needs RedirectConfig with StatusCode HTTP_301 or HTTP_302")
			}
		case "fixed-response":
			if a.FixedResponseConfig == nil || a.FixedResponseConfig.StatusCode == "" {
				return nil, elbValidation("A fixed-response action needs FixedResponseConfig with a StatusCode")
			}
		default:
			return nil, elbValidation("Action type '%s' is not implemented by local-aws (forward, redirect, fixed-response)", a.Type)
		}
		if len(actions) > 1 && a.Order == 0 {
			a.Order = i + 1
		}
		out[i] = a
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

type elbModifyListenerIn struct {
	ListenerArn    string           `json:"ListenerArn"`
	Port           int              `json:"Port"`
	Protocol       string           `json:"Protocol"`
	SslPolicy      string           `json:"SslPolicy"`
	Certificates   []elbCertificate `json:"Certificates"`
	DefaultActions []elbAction      `json:"DefaultActions"`
}

func elbModifyListener(s *Server, c *call, in *elbModifyListenerIn) (any, error) {
	l := s.st.findListener(in.ListenerArn)
	if l == nil {
		return nil, badRequest("ListenerNotFound", "Listener '%s' not found", in.ListenerArn)
	}
	next := *l
	if in.Port != 0 {
		if in.Port < 1 || in.Port > 65535 {
			return nil, elbValidation("Port must be between 1 and 65535")
		}
		next.Port = in.Port
	}
	if in.Protocol != "" {
		if in.Protocol != "HTTP" && in.Protocol != "HTTPS" {
			return nil, badRequest("UnsupportedProtocol", "Protocol '%s' is not supported by an application load balancer", in.Protocol)
		}
		next.Protocol = in.Protocol
	}
	if in.Certificates != nil {
		next.Certificates = in.Certificates
	}
	if in.SslPolicy != "" {
		next.SslPolicy = in.SslPolicy
	}
	if next.Protocol == "HTTPS" && len(next.Certificates) == 0 {
		return nil, elbValidation("A certificate must be specified for HTTPS listeners")
	}
	if next.Protocol == "HTTP" {
		next.Certificates, next.SslPolicy = nil, ""
	} else if next.SslPolicy == "" {
		next.SslPolicy = "ELBSecurityPolicy-2016-08"
	}
	if in.DefaultActions != nil {
		actions, err := s.st.normalizeActions(in.DefaultActions)
		if err != nil {
			return nil, err
		}
		next.DefaultActions = actions
	}
	for _, other := range s.st.ELB.Listeners {
		if other.LoadBalancerArn == l.LoadBalancerArn && other.ListenerArn != l.ListenerArn && other.Port == next.Port {
			return nil, badRequest("DuplicateListener", "A listener already exists on this port for this load balancer")
		}
	}
	*l = next
	c.dirty = true
	return struct {
		Listeners []elbListener `json:"Listeners"`
	}{[]elbListener{next}}, nil
}

type elbModifyRuleIn struct {
	RuleArn    string         `json:"RuleArn"`
	Conditions []elbCondition `json:"Conditions"`
	Actions    []elbAction    `json:"Actions"`
}

func elbModifyRule(s *Server, c *call, in *elbModifyRuleIn) (any, error) {
	r, listener := s.st.findRule(in.RuleArn)
	if r == nil {
		return nil, badRequest("RuleNotFound", "One or more rules not found")
	}
	if listener != nil {
		if in.Conditions != nil {
			return nil, badRequest("OperationNotPermitted", "You cannot add conditions to the default rule")
		}
		if in.Actions != nil { // ELBv2 lets ModifyRule change a default rule's actions
			actions, err := s.st.normalizeActions(in.Actions)
			if err != nil {
				return nil, err
			}
			listener.DefaultActions = actions
			c.dirty = true
		}
		return struct {
			Rules []elbRule `json:"Rules"`
		}{[]elbRule{defaultRule(listener)}}, nil
	}
	next := *r
	if in.Conditions != nil {
		conds, err := normalizeConditions(in.Conditions)
		if err != nil {
			return nil, err
		}
		next.Conditions = conds
	}
	if in.Actions != nil {
		actions, err := s.st.normalizeActions(in.Actions)
		if err != nil {
			return nil, err
		}
		next.Actions = actions
	}
	*r = next
	c.dirty = true
	return struct {
		Rules []elbRule `json:"Rules"`
	}{[]elbRule{next}}, nil
}

// normalizeConditions accepts the legacy Values or the *Config forms and
// returns both, as ELBv2 does for host-header and path-pattern.
func normalizeConditions(conds []elbCondition) ([]elbCondition, *apiError) {
	if len(conds) == 0 {
		return nil, elbValidation("A rule must have at least one condition")
	}
	for i := range conds {
		c := &conds[i]
		var cfg **elbValues
		switch c.Field {
		case "host-header":
			cfg = &c.HostHeaderConfig
		case "path-pattern":
			cfg = &c.PathPatternConfig
		case "http-request-method":
			cfg = &c.HTTPRequestMethodConfig
		case "source-ip":
			cfg = &c.SourceIPConfig
		case "http-header", "query-string":
			continue
		default:
			return nil, elbValidation("Condition field '%s' must be one of [http-header, http-request-method, host-header, path-pattern, query-string, source-ip]", c.Field)
		}
		if *cfg == nil {
			*cfg = &elbValues{Values: c.Values}
		}
		if len((*cfg).Values) == 0 {
			return nil, elbValidation("Condition '%s' must have at least one value", c.Field)
		}
		if c.Field == "host-header" || c.Field == "path-pattern" {
			c.Values = (*cfg).Values
		}
	}
	return conds, nil
}
