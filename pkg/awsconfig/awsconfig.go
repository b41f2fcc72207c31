// Package awsconfig loads the standard AWS configuration (profile, region,
// AWS_ENDPOINT_URL*, credentials chain) for the plugin's AWS commands and
// turns the SDK's errors into what an operator can act on.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// MaxAttempts bounds the SDK's standard retryer (throttling, 5xx, timeouts).
const MaxAttempts = 6

// Load returns the AWS configuration; region is the environment's, used when
// neither AWS_REGION nor the profile names one. Credentials are resolved now,
// so that their absence is said before any work starts.
func Load(ctx context.Context, region string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = MaxAttempts })
		}),
	}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" && region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	// The SDK's own log lines are not for users: errors come back through Explain.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, &SetupError{fmt.Errorf("AWS configuration: %w", err)}
	}
	if cfg.Region == "" {
		return cfg, &SetupError{errors.New("no AWS region: set AWS_REGION or the environment's region setting")}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return cfg, &SetupError{fmt.Errorf("no AWS credentials (%v): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an IAM role is available (IRSA, instance profile)", err)}
	}
	return cfg, nil
}

// SetupError means the AWS commands cannot start: configuration, region,
// credentials, an unreachable endpoint, or permissions.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Explain rewrites an SDK error as what to do about it: the IAM action that
// was denied, throttling that outlasted the retries, an endpoint that cannot
// be reached. Others pass through.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var op *smithy.OperationError
	action := "the AWS call"
	if errors.As(err, &op) {
		action = op.ServiceID + ":" + op.OperationName
	}
	var api smithy.APIError
	var netErr *net.OpError
	switch {
	case errors.As(err, &api) && isBadCredentials(api.ErrorCode()):
		return &SetupError{fmt.Errorf("the AWS credentials were refused for %s (%s: %s): check AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the clock", action, api.ErrorCode(), api.ErrorMessage())}
	case errors.As(err, &api) && isAccessDenied(api.ErrorCode()):
		return &SetupError{fmt.Errorf("access denied for %s (%s): grant the IAM action %s to these credentials (docs/iam/)", action, api.ErrorMessage(), iamAction(op))}
	case errors.As(err, &api) && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool():
		return fmt.Errorf("%s was still throttled after %d attempts (%s): retry later, or lower the request rate of other clients of this account", action, MaxAttempts, api.ErrorCode())
	case errors.As(err, &netErr):
		return &SetupError{fmt.Errorf("cannot reach the AWS endpoint for %s: %v (check AWS_ENDPOINT_URL, the region and the network)", action, netErr)}
	}
	return err
}

func isAccessDenied(code string) bool {
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return true
	}
	return false
}

// isBadCredentials tells the codes of keys AWS does not accept (unknown, wrong
// secret, expired): no policy would help.
func isBadCredentials(code string) bool {
	switch code {
	case "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException":
		return true
	}
	return false
}

// iamAction names the IAM action of an operation, e.g. cloudwatch:PutMetricAlarm.
func iamAction(op *smithy.OperationError) string {
	if op == nil {
		return "(see the error)"
	}
	return IAMAction(op.ServiceID, op.OperationName)
}

// IAMAction is the IAM action of an SDK service ID's operation.
func IAMAction(serviceID, operation string) string {
	prefix := map[string]string{"CloudWatch": "cloudwatch", "CloudWatch Logs": "logs", "ECS": "ecs",
		"Elastic Load Balancing v2": "elasticloadbalancing", "STS": "sts", "EFS": "elasticfilesystem", "Secrets Manager": "secretsmanager",
		"Application Auto Scaling": "application-autoscaling"}[serviceID]
	if prefix == "" {
		prefix = serviceID
	}
	return prefix + ":" + operation
}
