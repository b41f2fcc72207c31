package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// unsetEnv removes a variable for the test (t.Setenv can only set one).
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // restores the old value at the end
	os.Unsetenv(name)
}

// sizingLine returns the "runtime sized to the container" log line's fields.
func sizingLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "runtime sized to the container" {
			return m
		}
	}
	t.Fatalf("no sizing log line in %q", logs)
	return nil
}

// Requirement: GOMEMLIMIT is 90 % of the container's memory limit unless the
// environment says otherwise, and the decision is logged.
func TestSizeRuntime_SoftMemoryLimitFromTheContainerLimit(t *testing.T) {
	const mib512 = 512 << 20
	notCalled := func() (uint64, error) { return 0, errors.New("the limit must not be read when GOMEMLIMIT is set") }
	for _, tc := range []struct {
		name      string
		env       map[string]string // GOMEMLIMIT, AUTOMEMLIMIT
		provider  memlimit.Provider
		want      int64 // -1: unchanged
		wantWarns bool
	}{
		{name: "512 MiB limit: 90 %", provider: memlimit.Limit(mib512), want: 483183820},
		{name: "AUTOMEMLIMIT overrides the ratio", env: map[string]string{"AUTOMEMLIMIT": "0.5"}, provider: memlimit.Limit(mib512), want: mib512 / 2},
		{name: "explicit GOMEMLIMIT wins", env: map[string]string{"GOMEMLIMIT": "100MiB"}, provider: notCalled, want: -1},
		{name: "no limit: no soft limit", provider: func() (uint64, error) { return 0, memlimit.ErrNoLimit }, want: math.MaxInt64},
		{name: "unreadable limit: warned, unchanged", provider: func() (uint64, error) { return 0, errors.New("no cgroup") }, want: -1, wantWarns: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t, "GOMEMLIMIT")
			unsetEnv(t, "AUTOMEMLIMIT")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before := debug.SetMemoryLimit(-1)
			t.Cleanup(func() { debug.SetMemoryLimit(before) })
			var logs bytes.Buffer

			sizeRuntime(NewLogger(&logs, "test-service", slog.LevelInfo), memlimit.WithProvider(tc.provider))

			want := tc.want
			if want == -1 {
				want = before
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Fatalf("memory limit = %d, want %d", got, want)
			}
			line := sizingLine(t, logs.String())
			if line["gomemlimit_bytes"] != float64(want) || line["gomaxprocs"] != float64(runtime.GOMAXPROCS(0)) {
				t.Fatalf("logged %v, want gomemlimit_bytes %d and gomaxprocs %d", line, want, runtime.GOMAXPROCS(0))
			}
			if warned := strings.Contains(logs.String(), `"level":"WARNING"`); warned != tc.wantWarns {
				t.Fatalf("warning logged = %v, want %v: %s", warned, tc.wantWarns, logs.String())
			}
		})
	}
}

// Requirement: GOMAXPROCS follows the container's CPU limit. The runtime does
// it (Go 1.25+) only when go.mod's go directive is 1.25 or later; with an
// older directive the build's default GODEBUG turns it off.
func TestRuntimeSetsGOMAXPROCSFromTheCgroup(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	for _, s := range info.Settings {
		if s.Key != "DefaultGODEBUG" {
			continue
		}
		for _, off := range []string{"containermaxprocs=0", "updatemaxprocs=0"} {
			if strings.Contains(","+s.Value+",", ","+off+",") {
				t.Fatalf("DefaultGODEBUG has %s: raise services/go.mod's go directive to 1.25 or later", off)
			}
		}
	}
}
