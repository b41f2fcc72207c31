package server

import (
	"fmt"
	"net/http"
)

// apiError is an AWS error as the protocols carry it. Code is the model's
// error shape name (awsJson __type, CBOR __type, restJson x-amzn-ErrorType);
// QueryCode is the awsQueryError code where the service defines one that
// differs (CloudWatch's DashboardNotFoundError is "ResourceNotFound").
type apiError struct {
	Status    int
	Code      string
	QueryCode string
	Message   string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (e *apiError) queryCode() string {
	if e.QueryCode != "" {
		return e.QueryCode
	}
	return e.Code
}

// fault is AWS's Sender/Receiver split: who has to change something.
func (e *apiError) fault() string {
	if e.Status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// badRequest is the usual 400 of a service's validation error.
func badRequest(code, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, code, format, args...)
}

// Errors common to all services, in each protocol's spelling.

func throttlingError(p protocol) *apiError {
	switch p {
	case awsQuery:
		return errorf(http.StatusBadRequest, "Throttling", "Rate exceeded")
	case restJSON:
		return errorf(http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded")
	}
	return &apiError{Status: http.StatusBadRequest, Code: "ThrottlingException", QueryCode: "Throttling", Message: "Rate exceeded"}
}

// iamPrefix is the IAM service prefix of a service's actions.
var iamPrefix = map[string]string{"efs": "elasticfilesystem", "elbv2": "elasticloadbalancing"}

// accessDenied is what AWS answers a caller whose policies do not allow the
// action: AccessDenied (403) in awsquery, AccessDeniedException elsewhere.
func accessDenied(p protocol, svc, op, account string) *apiError {
	action := svc + ":" + op
	if prefix, ok := iamPrefix[svc]; ok {
		action = prefix + ":" + op
	}
	msg := fmt.Sprintf("User: arn:aws:iam::%s:user/local-aws is not authorized to perform: %s because no identity-based policy allows the %s action", account, action, action)
	switch p {
	case awsQuery:
		return errorf(http.StatusForbidden, "AccessDenied", "%s", msg)
	case restJSON:
		return errorf(http.StatusForbidden, "AccessDeniedException", "%s", msg)
	}
	return &apiError{Status: http.StatusBadRequest, Code: "AccessDeniedException", QueryCode: "AccessDenied", Message: msg}
}

func serverError(p protocol, status int) *apiError {
	code, msg := "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."
	if status == http.StatusServiceUnavailable {
		code, msg = "ServiceUnavailable", "Service is unavailable. Please try again later."
		if p != awsQuery {
			code = "ServiceUnavailableException"
		}
	}
	return &apiError{Status: status, Code: code, Message: msg}
}

func unknownOperation(p protocol, op string) *apiError {
	if p == awsQuery {
		return errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version of this service (local-aws implements a subset; see local-aws/README section in the repository README)", op)
	}
	return errorf(http.StatusBadRequest, "UnknownOperationException", "Operation %s is not implemented by local-aws", op)
}

func malformedInput(p protocol, err error) *apiError {
	switch p {
	case awsQuery:
		return errorf(http.StatusBadRequest, "ValidationError", "%v", err)
	case restJSON:
		return errorf(http.StatusBadRequest, "BadRequest", "%v", err)
	}
	return errorf(http.StatusBadRequest, "SerializationException", "%v", err)
}
