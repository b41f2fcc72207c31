package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter measures the generator's own CPU time and how long its cgroup was
// throttled at its CPU limit: a throttled generator sends less than asked,
// and the report must say that the generator, not the service, was the limit.
type cpuMeter struct {
	lastCPU, lastThrottled time.Duration
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{}
	m.delta()
	return m
}

// delta returns the CPU used and the time throttled since the last call.
func (m *cpuMeter) delta() (cpu, throttled time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		now := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		cpu, m.lastCPU = now-m.lastCPU, now
	}
	if now, ok := throttledTime(); ok {
		throttled, m.lastThrottled = now-m.lastThrottled, now
	}
	return cpu, throttled
}

// throttledTime reads the cgroup's total throttled time: cgroup v2
// cpu.stat throttled_usec, or v1 cpu.stat throttled_time (ns). Inside a
// container the own cgroup is mounted at /sys/fs/cgroup.
func throttledTime() (time.Duration, bool) {
	for _, c := range []struct {
		path, key string
		unit      time.Duration
	}{
		{"/sys/fs/cgroup/cpu.stat", "throttled_usec", time.Microsecond},
		{"/sys/fs/cgroup/cpu/cpu.stat", "throttled_time", time.Nanosecond},
		{"/sys/fs/cgroup/cpu,cpuacct/cpu.stat", "throttled_time", time.Nanosecond},
	} {
		if v, ok := statValue(c.path, c.key); ok {
			return time.Duration(v) * c.unit, true
		}
	}
	return 0, false
}

func statValue(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == key {
			v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}
