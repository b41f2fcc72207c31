package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Requirement: STS GetCallerIdentity over awsquery names the seeded account.
func TestSTSGetCallerIdentity(t *testing.T) {
	ts := startServer(t)
	out, err := sts.NewFromConfig(ts.cfg).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "210987654321" || !strings.HasSuffix(aws.ToString(out.Arn), ":user/local-aws") {
		t.Fatalf("identity = %s %s", aws.ToString(out.Account), aws.ToString(out.Arn))
	}
}

// Requirement: a wrong secret key gets awsquery's SignatureDoesNotMatch, 403.
func TestSTSWrongSecretIsSignatureDoesNotMatch(t *testing.T) {
	ts := startServer(t)
	_, err := sts.NewFromConfig(ts.badSecret(t)).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	assertAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
}

// Requirement: an unknown access key gets InvalidClientTokenId, 403.
func TestSTSUnknownKeyIsInvalidClientTokenId(t *testing.T) {
	ts := startServer(t)
	c := sdkConfig(t, ts.URL, "AKIAUNKNOWN000000000", testSecret)
	c.RetryMaxAttempts = 1
	_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	assertAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

// Requirement: a credential scope for another region is refused and says which region is served.
func TestSTSWrongRegionIsRefused(t *testing.T) {
	ts := startServer(t)
	c := ts.noRetry()
	c.Region = "eu-west-1"
	_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	assertAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	if !strings.Contains(err.Error(), "AWS_REGION=us-east-1") {
		t.Fatalf("message does not say what to do: %v", err)
	}
}

// assertAPIError checks the error code and HTTP status the SDK saw.
func assertAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if api.ErrorCode() != code {
		t.Fatalf("error code = %s (%v), want %s", api.ErrorCode(), err, code)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Fatalf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
	if !strings.Contains(err.Error(), "RequestID: ") || strings.Contains(err.Error(), "RequestID: ,") {
		t.Fatalf("no request id in %v", err)
	}
}
