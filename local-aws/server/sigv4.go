package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// authErr is a SigV4 failure; its kind picks the code per protocol.
type authErr struct {
	kind string // missing, incomplete, unknownKey, mismatch
	msg  string
}

func (e *authErr) Error() string { return e.msg }

func parseAuthorization(r *http.Request) (*authorization, *authErr) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &authErr{"missing", "Request is missing Authentication Token"}
	}
	algo, rest, _ := strings.Cut(h, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return nil, &authErr{"incomplete", fmt.Sprintf("Unsupported AWS 'algorithm': '%s'", algo)}
	}
	a := &authorization{}
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || a.signature == "" {
		return nil, &authErr{"incomplete", "Authorization header requires 'Credential' (AKID/date/region/service/aws4_request), 'SignedHeaders' and 'Signature' parameters. Authorization=" + redactSignature(h)}
	}
	a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	return a, nil
}

func redactSignature(h string) string {
	if i := strings.Index(h, "Signature="); i >= 0 {
		return h[:i] + "Signature=…"
	}
	return h
}

// verify recomputes the request's signature with the SDK's own signer, over
// exactly the headers the client signed, and compares.
func (s *Server) verify(r *http.Request, body []byte, a *authorization, service string, now time.Time) *authErr {
	if a.accessKey != s.cfg.AccessKeyID {
		return &authErr{"unknownKey", "The security token included in the request is invalid."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &authErr{"incomplete", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if d := now.Sub(t); d > 15*time.Minute || d < -15*time.Minute {
		return &authErr{"mismatch", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.UTC().Add(-15*time.Minute).Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"))}
	}
	if a.date != t.Format("20060102") {
		return &authErr{"mismatch", fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.date, t.Format("20060102"))}
	}
	if a.region != s.cfg.Region {
		return &authErr{"mismatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'; this local AWS serves '%s' (set AWS_REGION=%s).", a.region, s.cfg.Region, s.cfg.Region)}
	}
	if a.service != service {
		return &authErr{"mismatch", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)}
	}

	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return &authErr{"mismatch", err.Error()}
	}
	req.Host = r.Host
	for _, h := range a.signedHeaders {
		switch h {
		case "host", "x-amz-date":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.cfg.AccessKeyID, SecretAccessKey: s.cfg.SecretAccessKey}
	if err := s.signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), a.service, a.region, t); err != nil {
		return &authErr{"mismatch", err.Error()}
	}
	want := req.Header.Get("Authorization")
	want = want[strings.LastIndex(want, "Signature=")+len("Signature="):]
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.signature)) != 1 {
		return &authErr{"mismatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

// authError spells a SigV4 failure as the protocol's AWS error.
func authError(p protocol, e *authErr) *apiError {
	if p == awsQuery {
		switch e.kind {
		case "missing":
			return errorf(http.StatusForbidden, "MissingAuthenticationToken", "%s", e.msg)
		case "incomplete":
			return errorf(http.StatusBadRequest, "IncompleteSignature", "%s", e.msg)
		case "unknownKey":
			return errorf(http.StatusForbidden, "InvalidClientTokenId", "%s", e.msg)
		}
		return errorf(http.StatusForbidden, "SignatureDoesNotMatch", "%s", e.msg)
	}
	status := http.StatusBadRequest
	if p == restJSON {
		status = http.StatusForbidden
	}
	switch e.kind {
	case "missing":
		return &apiError{Status: status, Code: "MissingAuthenticationTokenException", QueryCode: "MissingAuthenticationToken", Message: e.msg}
	case "incomplete":
		return &apiError{Status: status, Code: "IncompleteSignatureException", QueryCode: "IncompleteSignature", Message: e.msg}
	case "unknownKey":
		return &apiError{Status: status, Code: "UnrecognizedClientException", QueryCode: "InvalidClientTokenId", Message: e.msg}
	}
	return &apiError{Status: status, Code: "InvalidSignatureException", QueryCode: "SignatureDoesNotMatch", Message: e.msg}
}
