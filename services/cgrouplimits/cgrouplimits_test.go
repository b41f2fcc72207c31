package cgrouplimits

import (
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const v2Mount = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"

// Requirement: GOMAXPROCS and GOMEMLIMIT follow the container limits (cgroup v2).
func TestRead_V2InACgroupNamespace(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/cgroup":          file("0::/\n"),
		"proc/self/mountinfo":       file(v2Mount),
		"sys/fs/cgroup/cpu.max":     file("50000 100000\n"), // 512 CPU units = 0.5 CPU
		"sys/fs/cgroup/memory.max":  file("536870912\n"),    // 512 MiB
		"sys/fs/cgroup/cpu.weight":  file("20\n"),
		"sys/fs/cgroup/memory.high": file("max\n"),
	}
	l, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if l.CPU != 0.5 || l.Memory != 536870912 {
		t.Fatalf("limits = %+v", l)
	}
	if got := GOMAXPROCS(l.CPU, 8); got != 2 {
		t.Fatalf("GOMAXPROCS(0.5 CPU, 8 CPUs) = %d, want 2 (Go 1.25's minimum)", got)
	}
	if got := MemoryLimit(l.Memory); got != 483183819 {
		t.Fatalf("MemoryLimit = %d, want 90%% of 512 MiB", got)
	}
}

// Without a cgroup namespace the process's path is nested under the mount and
// the smallest limit on the way up wins.
func TestRead_V2NestedPathTakesTheSmallestLimitUpTheTree(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/cgroup":    file("0::/kubepods/burstable/pod1/ctr\n"),
		"proc/self/mountinfo": file(v2Mount),
		"sys/fs/cgroup/kubepods/burstable/pod1/ctr/cpu.max":    file("max 100000\n"),
		"sys/fs/cgroup/kubepods/burstable/pod1/cpu.max":        file("250000 100000\n"),
		"sys/fs/cgroup/kubepods/cpu.max":                       file("800000 100000\n"),
		"sys/fs/cgroup/kubepods/burstable/pod1/ctr/memory.max": file("1073741824\n"),
		"sys/fs/cgroup/kubepods/burstable/memory.max":          file("max\n"),
	}
	l, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if l.CPU != 2.5 || l.Memory != 1<<30 {
		t.Fatalf("limits = %+v", l)
	}
	if got := GOMAXPROCS(l.CPU, 16); got != 3 {
		t.Fatalf("GOMAXPROCS(2.5, 16) = %d, want 3", got)
	}
	if got := GOMAXPROCS(l.CPU, 2); got != 2 {
		t.Fatalf("GOMAXPROCS(2.5, 2) = %d, want 2 (never more than the CPUs)", got)
	}
}

// Requirement: cgroup v1 (and hybrid hosts, where v2 is mounted without the
// controllers) are read too.
func TestRead_V1AndHybrid(t *testing.T) {
	mountinfo := "" +
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n" +
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	fsys := fstest.MapFS{
		"proc/self/cgroup":    file("9:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n"),
		"proc/self/mountinfo": file(mountinfo),
		"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  file("150000\n"),
		"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": file("100000\n"),
		"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":             file("-1\n"),
		"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":            file("100000\n"),
		"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes":  file("268435456\n"),
		"sys/fs/cgroup/memory/memory.limit_in_bytes":             file("9223372036854771712\n"),
		"sys/fs/cgroup/unified/docker/abc/cgroup.procs":          file("1\n"),
	}
	l, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if l.CPU != 1.5 || l.Memory != 256<<20 {
		t.Fatalf("limits = %+v", l)
	}
}

// No limit set: the runtime keeps its defaults.
func TestRead_NoLimits(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/cgroup":         file("0::/\n"),
		"proc/self/mountinfo":      file(v2Mount),
		"sys/fs/cgroup/cpu.max":    file("max 100000\n"),
		"sys/fs/cgroup/memory.max": file("max\n"),
	}
	l, err := Read(fsys)
	if err != nil || l != (Limits{}) {
		t.Fatalf("limits = %+v, %v", l, err)
	}
	if GOMAXPROCS(0, 12) != 12 || MemoryLimit(0) != 0 {
		t.Fatal("no limit must keep the defaults")
	}
	if _, err := Read(fstest.MapFS{}); err == nil {
		t.Fatal("Read without /proc/self/cgroup: want an error")
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescape(`/a\040b`); got != "/a b" {
		t.Fatalf("unescape = %q", got)
	}
}
