package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

const (
	testKey    = "AKIALOCALAWSTEST0001"
	testSecret = "local-aws-test-secret-key-0000000000000"
)

// testServer is a local AWS on a loopback port, with the SDK configured the
// way a user configures it (endpoint URL, region, static keys).
type testServer struct {
	*Server
	URL string
	cfg aws.Config
}

func startServer(t *testing.T, mod ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1", RolloutStep: 50 * time.Millisecond}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &testServer{Server: s, URL: hs.URL, cfg: sdkConfig(t, hs.URL, testKey, testSecret)}
}

func sdkConfig(t *testing.T, url, key, secret string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithBaseEndpoint(url),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// noRetry is the SDK config of a test that wants to see the first error.
func (ts *testServer) noRetry() aws.Config {
	c := ts.cfg.Copy()
	c.RetryMaxAttempts = 1
	return c
}

// badSecret is the SDK config of a client holding the wrong secret key.
func (ts *testServer) badSecret(t *testing.T) aws.Config {
	c := sdkConfig(t, ts.URL, testKey, "wrong-secret")
	c.RetryMaxAttempts = 1
	return c
}

func (ts *testServer) inject(t *testing.T, f Fault) {
	t.Helper()
	b, _ := json.Marshal(f)
	resp, err := http.Post(ts.URL+controlPrefix+"faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("inject %+v: %s", f, resp.Status)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, ts.URL+controlPrefix+"faults", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
