package httpserver

import (
	"log/slog"
	"runtime"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryLimitRatio leaves 10 % of the container's memory limit for what the Go
// heap does not account for (stacks, runtime metadata, fragmentation).
const memoryLimitRatio = 0.9

// sizeRuntime sizes the Go runtime to the container's cgroup (v1 or v2) and
// logs the result. GOMAXPROCS needs nothing here: since Go 1.25 the runtime
// itself uses ceil(CPU limit), at least 2, at most the CPUs, and follows
// changes of the limit — enabled by go.mod's `go 1.25` or later. No Go version
// reads the memory limit, so automemlimit sets the soft limit (GOMEMLIMIT) to
// 90 % of it. GOMAXPROCS and GOMEMLIMIT in the environment win; AUTOMEMLIMIT
// (a ratio, or "off") overrides the 90 %. opts replace the limit's source in tests.
func sizeRuntime(logger *slog.Logger, opts ...memlimit.Option) {
	limit, err := memlimit.Set(append([]memlimit.Option{memlimit.WithRatio(memoryLimitRatio)}, opts...)...)
	if err != nil {
		logger.Warn("memory limit not read from the cgroup: GOMEMLIMIT unchanged", "error", err.Error())
	}
	logger.Info("runtime sized to the container", "gomaxprocs", runtime.GOMAXPROCS(0), "gomemlimit_bytes", limit)
}
