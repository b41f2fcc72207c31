package awsconfig

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

// Requirement (issue 13): AWS errors say what to do: the IAM action that was
// denied, credentials AWS refuses, throttling that outlasted the retries, an
// endpoint that cannot be reached; the first two and the last cannot-run (exit 2).
func TestExplain(t *testing.T) {
	op := func(service, operation string, err error) error {
		return &smithy.OperationError{ServiceID: service, OperationName: operation, Err: err}
	}
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name  string
		err   error
		want  string
		setup bool
	}{
		{"denied", op("ECS", "DescribeTaskDefinition", api("AccessDeniedException")), "grant the IAM action ecs:DescribeTaskDefinition", true},
		{"denied awsquery", op("Elastic Load Balancing v2", "DescribeListeners", api("AccessDenied")), "elasticloadbalancing:DescribeListeners", true},
		{"denied autoscaling", op("Application Auto Scaling", "DescribeScalableTargets", api("AccessDeniedException")), "application-autoscaling:DescribeScalableTargets", true},
		{"unknown key", op("STS", "GetCallerIdentity", api("InvalidClientTokenId")), "the AWS credentials were refused for STS:GetCallerIdentity", true},
		{"wrong secret", op("ECS", "ListServices", api("InvalidSignatureException")), "check AWS_PROFILE, or AWS_ACCESS_KEY_ID", true},
		{"throttled", op("EFS", "DescribeAccessPoints", api("ThrottlingException")), "EFS:DescribeAccessPoints was still throttled after 6 attempts", false},
		{"unreachable", op("STS", "GetCallerIdentity", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), "cannot reach the AWS endpoint for STS:GetCallerIdentity", true},
		{"other", op("ECS", "ListServices", api("ServerException")), "ServerException", false},
	} {
		got := Explain(tc.err)
		var setup *SetupError
		if !strings.Contains(got.Error(), tc.want) || errors.As(got, &setup) != tc.setup {
			t.Errorf("%s: %v (setup error: %v); want …%s… (setup error: %v)", tc.name, got, errors.As(got, &setup), tc.want, tc.setup)
		}
	}
	if Explain(nil) != nil {
		t.Error("Explain(nil) is not nil")
	}
}
