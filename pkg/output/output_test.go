package output

import (
	"bytes"
	"strings"
	"testing"
)

// Requirement: progress off a terminal is one plain line per change (logs, CI), no escape codes, no repeats.
func TestProgressPlainLinesOffATerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b)
	p.Update("deployment/a", false, "waiting")
	p.Update("deployment/a", false, "waiting") // unchanged: not repeated
	p.Update("deployment/a", true, "rolled out")
	want := "...  deployment/a: waiting\nok   deployment/a: rolled out\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// Requirement: live lines never wrap (a wrapped line would break the in-place redraw).
func TestTruncateKeepsLinesWithinTheTerminal(t *testing.T) {
	if got := truncate(strings.Repeat("x", 200), 80); len([]rune(got)) != 80 || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate to 80: %d runes %q", len([]rune(got)), got)
	}
	if got := truncate("short", 80); got != "short" {
		t.Errorf("truncate changed a short line: %q", got)
	}
}

// Requirement: -o accepts json and yaml (and nothing else), tables are the default.
func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": Table, "json": JSON, "yaml": YAML} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("wide"); err == nil || !strings.Contains(err.Error(), "json, yaml") {
		t.Errorf("ParseFormat(wide) = %v", err)
	}
}
