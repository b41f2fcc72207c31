package httpserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// sizingChildEnv makes the test binary, started inside a limited cgroup, log
// its sizing as a service does at start.
const sizingChildEnv = "HTTPSERVER_TEST_SIZING_CHILD"

// Requirement: in a real cgroup with 512 MiB and 0.5 CPU (a service's ECS
// size), a service logs GOMEMLIMIT 90 % of 512 MiB and GOMAXPROCS
// min(CPUs, 2). Needs root and a writable cgroup file system (v1, or v2 with
// the memory and cpu controllers delegated); skipped otherwise.
func TestSizeRuntime_InARealCgroup(t *testing.T) {
	if os.Getenv(sizingChildEnv) != "" {
		sizeRuntime(NewLogger(os.Stdout, "test-service", slog.LevelInfo))
		return
	}
	procs := limitedCgroup(t, 512<<20, 50000, 100000)
	// The runtime reads its cgroup when it starts: join first, then exec.
	join := `for f in "$@"; do echo $$ > "$f" || exit 1; done; exec "$0" -test.run='^TestSizeRuntime_InARealCgroup$'`
	cmd := exec.Command("/bin/sh", append([]string{"-c", join, os.Args[0]}, procs...)...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOMAXPROCS=") || strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "AUTOMEMLIMIT=")
	}), sizingChildEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child in the cgroup: %v\n%s%s", err, out, stderr.Bytes())
	}
	line := sizingLine(t, string(out))
	t.Logf("logged in the cgroup: gomaxprocs %v, gomemlimit_bytes %.0f", line["gomaxprocs"], line["gomemlimit_bytes"])
	if want := 483183820.0; line["gomemlimit_bytes"] != want { // 90 % of 512 MiB
		t.Errorf("gomemlimit_bytes = %v, want %v (90 %% of 512 MiB)", line["gomemlimit_bytes"], want)
	}
	if want := min(runtime.NumCPU(), 2); line["gomaxprocs"] != float64(want) {
		t.Errorf("gomaxprocs = %v, want %d (0.5 CPU: at least 2, at most the CPUs)", line["gomaxprocs"], want)
	}
}

// limitedCgroup creates a child of this process's cgroup limited to memBytes
// and quota/period CPU, removed at the end of the test, and returns the
// cgroup.procs files that put a process into it.
func limitedCgroup(t *testing.T, memBytes int64, quota, period int) []string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to create a cgroup")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip("no /proc/self/cgroup:", err)
	}
	name := fmt.Sprintf("httpserver-test-%d", os.Getpid())
	v1 := map[string]string{} // controller -> this process's path
	v2 := ""
	for _, l := range strings.Split(strings.TrimSpace(string(own)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			v1[c] = f[2]
		}
		if f[0] == "0" {
			v2 = f[2]
		}
	}
	type limit struct{ dir, file, value string }
	var limits []limit
	if _, ok := v1["memory"]; ok {
		mem := filepath.Join("/sys/fs/cgroup/memory", v1["memory"], name)
		cpu := filepath.Join("/sys/fs/cgroup/cpu", v1["cpu"], name)
		limits = []limit{{mem, "memory.limit_in_bytes", fmt.Sprint(memBytes)},
			{cpu, "cpu.cfs_period_us", fmt.Sprint(period)}, {cpu, "cpu.cfs_quota_us", fmt.Sprint(quota)}}
	} else {
		dir := filepath.Join("/sys/fs/cgroup", v2, name)
		limits = []limit{{dir, "memory.max", fmt.Sprint(memBytes)}, {dir, "cpu.max", fmt.Sprint(quota, " ", period)}}
	}
	var procs []string
	for _, l := range limits {
		if !slices.Contains(procs, filepath.Join(l.dir, "cgroup.procs")) {
			if err := os.Mkdir(l.dir, 0o755); err != nil {
				t.Skip("cannot create a cgroup:", err)
			}
			t.Cleanup(func() { os.Remove(l.dir) })
			procs = append(procs, filepath.Join(l.dir, "cgroup.procs"))
		}
		if err := os.WriteFile(filepath.Join(l.dir, l.file), []byte(l.value), 0o644); err != nil {
			t.Skip("cannot set a cgroup limit:", err)
		}
	}
	return procs
}
