package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

// Requirement: one function maps every outcome to the documented exit code
// (0 ok, 1 failed, 2 could not run, 130 interrupted) and prints the error once.
func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		code   int
		silent bool
	}{
		{"success", context.Background(), nil, ExitOK, true},
		{"bad flag", context.Background(), usage("unknown flag: --x"), ExitCannotRun, false},
		{"unknown env", context.Background(), &manifests.UnknownEnvError{Name: "qa"}, ExitCannotRun, false},
		{"unreachable", context.Background(), fmt.Errorf("x: %w", &kube.UnreachableError{Host: "h", Err: errors.New("refused")}), ExitCannotRun, false},
		{"preflight", context.Background(), &deploy.PreflightError{}, ExitCannotRun, false},
		{"busy", context.Background(), &deploy.LockedError{Holder: "bob"}, ExitCannotRun, false},
		{"unhealthy", context.Background(), &deploy.WaitError{}, ExitFailed, false},
		{"lease lost", context.Background(), &deploy.LeaseLostError{Reason: "taken"}, ExitFailed, false},
		{"diff found changes", context.Background(), errSilent, ExitFailed, true},
		{"Ctrl-C", cancelled, context.Canceled, ExitInterrupted, false},
	} {
		var w bytes.Buffer
		if got := ExitCode(tc.ctx, tc.err, &w); got != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.code)
		}
		if printed := w.Len() > 0; printed == tc.silent {
			t.Errorf("%s: printed %q (silent: %v)", tc.name, w.String(), tc.silent)
		}
		if !tc.silent && strings.Count(w.String(), "error:") != 1 {
			t.Errorf("%s: want the error printed once, got %q", tc.name, w.String())
		}
	}
}

// Requirement: deploy's flags are validated before anything is contacted.
func TestDeployFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"deploy"},
		{"deploy", "--env", "local", "--dry-run=bogus"},
		{"deploy", "--env", "local", "--timeout", "0s"},
		{"deploy", "--env", "local", "-o", "xml"},
		{"deploy", "--env", "local", "--image", "orchestrator"},
		{"verify", "--env", "local", "--check", "bogus"},
	} {
		r := run(t, args...)
		if r.code != ExitCannotRun || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// Requirement: deploy --dry-run=client renders and reports without a cluster.
func TestDeployClientDryRun(t *testing.T) {
	r := run(t, "deploy", "--env", "local", "--dry-run=client", "-o", "json", "--kubeconfig", "/nonexistent")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"dryRun": "client"`) || !strings.Contains(r.stdout, `"action": "not applied"`) {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Requirement (issue 13): settings init says what is wrong with its input
// before it reaches AWS or the cluster (exit 2).
func TestSettingsInitInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"settings", "init", "--env", "prod"}, "settings init needs --from-ecs"},
		{[]string{"settings", "init", "--env", "local", "--from-ecs"}, "environment local uses no AWS settings"},
		{[]string{"settings", "init", "--from-ecs"}, "--env is required"},
		{[]string{"settings", "init", "--env", "prod", "--from-ecs", "--cluster", ""}, "--cluster must name the ECS cluster"},
	} {
		r := run(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// Requirement: parity --live compares what runs; render-side flags are refused.
func TestParityInput(t *testing.T) {
	for _, args := range [][]string{
		{"parity", "--env", "prod", "--live", "--image-tag", "1.1.0"},
		{"parity", "--env", "prod", "--live", "--settings", "x.yaml"},
	} {
		if r := run(t, args...); r.code != 2 || !strings.Contains(r.stderr, "--live compares what runs") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := run(t, "parity", "--env", "qa"); r.code != 2 || !strings.Contains(r.stderr, `unknown environment "qa"`) {
		t.Errorf("unknown env: exit %d, stderr %q", r.code, r.stderr)
	}
}
