package cmd

import (
	"strings"
	"testing"
)

// Requirement (issue 14): bad cutover and rollback --to-ecs input is refused
// before anything is read or written, saying what is wrong (exit 2).
func TestCutoverBadInput(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cutover", "--env", "prod"}, "--to is required"},
		{[]string{"cutover", "--env", "prod", "--to", "gke"}, `--to "gke": use eks or ecs`},
		{[]string{"cutover", "--env", "prod", "--to", "eks", "--steps", "50,25"}, "the steps must rise"},
		{[]string{"cutover", "--env", "prod", "--to", "eks", "--steps", "10,150"}, "from 1 to 100"},
		{[]string{"cutover", "--env", "prod", "--to", "ecs", "--scale-in-ecs"}, "--scale-in-ecs needs --to eks"},
		{[]string{"cutover", "--env", "prod", "--to", "eks", "--steps", "10,50", "--scale-in-ecs"}, "a last step of 100"},
		{[]string{"cutover", "--env", "prod", "--to", "eks", "--gate-interval", "0s"}, "--gate-interval must be positive"},
		{[]string{"cutover", "--to", "eks"}, "--env is required"},
		{[]string{"rollback", "--env", "prod", "--to-ecs", "--to-revision", "3"}, "one or the other"},
		{[]string{"rollback", "--env", "prod", "--scale-down"}, "--scale-down goes with --to-ecs"},
	} {
		r := run(t, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
