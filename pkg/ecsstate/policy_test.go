package ecsstate

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Requirement (issue 13): the IAM policy of settings init and parity is
// read-only and never reads a secret's value (the e2e proves it covers every
// action a run makes).
func TestSettingsPolicyIsReadOnly(t *testing.T) {
	data, err := os.ReadFile("../../docs/iam/settings-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Statement []struct {
			Effect string
			Action any
		}
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Statement {
		actions, ok := s.Action.([]any)
		if !ok {
			actions = []any{s.Action}
		}
		for _, a := range actions {
			name := a.(string)
			_, op, _ := strings.Cut(name, ":")
			if s.Effect != "Allow" || !(strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List")) || strings.Contains(op, "*") {
				t.Errorf("%s %s is not a read of one named operation", s.Effect, name)
			}
			n++
		}
	}
	if n == 0 || strings.Contains(string(data), "GetSecretValue") {
		t.Errorf("%d actions; GetSecretValue present: %v", n, strings.Contains(string(data), "GetSecretValue"))
	}
}
