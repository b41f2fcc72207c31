package server

type elbState struct{}

func elbv2Service() *service {
	return &service{name: "elbv2", signingName: "elasticloadbalancing", xmlns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", ops: map[string]handler{}}
}

// targetGroupArn is the ARN of target group layering-detection-<suffix>.
func (st *State) targetGroupArn(suffix string) string {
	name := appName + "-" + suffix
	return st.arn("elasticloadbalancing", "targetgroup/"+name+"/"+hexID(name, 16))
}

func (st *State) seedELB(created interface{}) {}
