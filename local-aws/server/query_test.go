package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// rawCall sends one request as a botocore-style client would: body, headers,
// and (unless signingName is empty) a SigV4 signature.
func (ts *testServer) rawCall(t *testing.T, signingName string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if signingName != "" {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), signingName, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (ts *testServer) query(t *testing.T, signingName string, form url.Values) (*http.Response, string) {
	return ts.rawCall(t, signingName, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, form.Encode())
}

type queryError struct {
	Error struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

func parseQueryError(t *testing.T, body string) queryError {
	t.Helper()
	var e queryError
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an ErrorResponse: %v\n%s", err, body)
	}
	return e
}

// Requirement: CloudWatch over awsquery (what the AWS CLI 2.9 sends): XML
// with <member> lists, NextToken pagination and the RequestId.
func TestCloudWatchQueryDescribeAlarmsPages(t *testing.T) {
	ts := startServer(t)
	form := url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "MaxRecords": {"5"}, "AlarmNames.member.1": {"layering-detection-layering-high-cpu"},
		"AlarmNames.member.2": {"layering-detection-layering-high-memory"}}
	resp, body := ts.query(t, "monitoring", form)
	var out struct {
		Result struct {
			MetricAlarms []struct {
				AlarmName  string
				StateValue string
				Threshold  float64
				Dimensions []struct{ Name, Value string } `xml:"Dimensions>member"`
			} `xml:"MetricAlarms>member"`
			NextToken string
		} `xml:"DescribeAlarmsResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %v\n%s", resp.Status, err, body)
	}
	a := out.Result.MetricAlarms
	if len(a) != 2 || a[0].AlarmName != "layering-detection-layering-high-cpu" || a[0].Threshold != 80 || len(a[0].Dimensions) != 2 ||
		out.RequestID == "" || resp.Header.Get("x-amzn-RequestId") != out.RequestID {
		t.Fatalf("result %+v request id %q", out, out.RequestID)
	}
	seen := 0
	token := ""
	for pages := 0; pages < 10; pages++ {
		f := url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "MaxRecords": {"5"}}
		if token != "" {
			f.Set("NextToken", token)
		}
		_, body := ts.query(t, "monitoring", f)
		out.Result.NextToken, out.Result.MetricAlarms = "", nil
		if err := xml.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		seen += len(out.Result.MetricAlarms)
		if token = out.Result.NextToken; token == "" {
			break
		}
	}
	if seen != 12 {
		t.Fatalf("paged through %d alarms", seen)
	}
}

// Requirement: awsquery errors are <ErrorResponse><Error><Type/><Code/><Message/>
// with the awsQueryError code and status; unsigned requests get
// MissingAuthenticationToken 403.
func TestCloudWatchQueryErrors(t *testing.T) {
	ts := startServer(t)
	resp, body := ts.query(t, "monitoring", url.Values{"Action": {"GetDashboard"}, "Version": {"2010-08-01"}, "DashboardName": {"nope"}})
	e := parseQueryError(t, body)
	if resp.StatusCode != 404 || e.Error.Code != "ResourceNotFound" || e.Error.Type != "Sender" || e.RequestID == "" {
		t.Fatalf("%s %+v", resp.Status, e)
	}
	resp, body = ts.query(t, "", url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}})
	if e := parseQueryError(t, body); resp.StatusCode != 403 || e.Error.Code != "MissingAuthenticationToken" {
		t.Fatalf("unsigned: %s %+v", resp.Status, e)
	}
	resp, body = ts.query(t, "monitoring", url.Values{"Action": {"DescribeAlarmHistory"}, "Version": {"2010-08-01"}})
	if e := parseQueryError(t, body); resp.StatusCode != 400 || e.Error.Code != "InvalidAction" {
		t.Fatalf("unimplemented action: %s %+v", resp.Status, e)
	}
}

// Requirement: CloudWatch's awsJson1_0 (the newest botocore's choice) works too,
// with the query-compatible error header.
func TestCloudWatchJSON10(t *testing.T) {
	ts := startServer(t)
	h := map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.GetDashboard", "X-Amzn-Query-Mode": "true"}
	resp, body := ts.rawCall(t, "monitoring", h, `{"DashboardName":"layering-detection-dashboard"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"DashboardArn":"arn:aws:cloudwatch::210987654321:dashboard/layering-detection-dashboard"`) {
		t.Fatalf("%s %s", resp.Status, body)
	}
	resp, body = ts.rawCall(t, "monitoring", h, `{"DashboardName":"nope"}`)
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Query-Error") != "ResourceNotFound;Sender" || !strings.Contains(body, `"__type":"DashboardNotFoundError"`) {
		t.Fatalf("%s %v %s", resp.Status, resp.Header, body)
	}
}
