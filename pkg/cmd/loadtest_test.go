package cmd

import (
	"path/filepath"
	"strings"
	"testing"
)

// Requirement: `loadtest --env prod` needs an explicit confirmation, refused
// before any cluster is contacted; bad input is a clear error, exit 2.
func TestLoadtestInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "prod", "--service", "layering"}, "--env prod loads production: add --confirm-prod"},
		{[]string{"--env", "local"}, "--service is required: one of layering, wash-trading, orchestrator, aggregator"},
		{[]string{"--env", "local", "--service", "billing"}, `--service "billing"`},
		{[]string{"--env", "local", "--service", "layering", "--duration", "2h"}, "--duration 2h0m0s: must be within 10s..30m0s"},
		{[]string{"--env", "local", "--service", "layering", "--rate", "1000"}, "at most 500 requests/s"},
		{[]string{"--env", "local", "--service", "orchestrator", "--events-per-request", "10"}, "does not apply to the orchestrator"},
		{[]string{"--service", "layering"}, "--env is required"},
	} {
		r := run(t, append(append([]string{"loadtest"}, c.args...), "--kubeconfig", missing)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// Confirmed, it goes on to the cluster (here: no kubeconfig).
	r := run(t, "loadtest", "--env", "prod", "--service", "layering", "--confirm-prod", "--kubeconfig", missing)
	if r.code != 2 || !strings.Contains(r.stderr, "kubeconfig") {
		t.Errorf("confirmed prod: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Requirement: the generator image defaults to the environment's registry
// and tag, beside the services.
func TestImageBeside(t *testing.T) {
	services := map[string]string{"orchestrator": "111122223333.dkr.ecr.us-east-1.amazonaws.com/layering-detection-orchestrator:1.4.2"}
	if got := imageBeside(services, "layering-detection-loadgen"); got != "111122223333.dkr.ecr.us-east-1.amazonaws.com/layering-detection-loadgen:1.4.2" {
		t.Errorf("got %s", got)
	}
	if got := imageBeside(map[string]string{"orchestrator": "layering-detection-orchestrator:0.1.0"}, "layering-detection-loadgen"); got != "layering-detection-loadgen:0.1.0" {
		t.Errorf("local: %s", got)
	}
}
