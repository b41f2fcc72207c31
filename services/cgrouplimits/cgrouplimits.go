// Package cgrouplimits sizes the Go runtime to the container: GOMAXPROCS from
// the cgroup CPU limit and the soft memory limit (GOMEMLIMIT) from the cgroup
// memory limit, for cgroup v1 and v2, reading /proc/self and /sys/fs/cgroup
// directly.
//
// Why here: go.mod says `go 1.24.2`, so even when built with Go 1.25 or later
// the runtime keeps the Go 1.24 defaults (GODEBUG containermaxprocs=0) and
// sets GOMAXPROCS to the node's CPU count. Apply does what Go 1.25 would do:
// ceil(quota/period), at least 2, at most the CPUs available. Neither the
// runtime nor any Go version sets a memory limit from the cgroup; Apply sets
// 90 % of it, leaving room for memory the Go heap does not account for. An
// explicit GOMAXPROCS or GOMEMLIMIT environment variable always wins.
package cgrouplimits

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Limits found in the cgroup hierarchy; zero means no limit.
type Limits struct {
	CPU    float64 // CPUs (quota / period)
	Memory int64   // bytes
}

// unlimitedMemory is the threshold above which a v1 limit means "none"
// (v1 reports 2^63 rounded down to a page).
const unlimitedMemory = 1 << 62

// Read reads the limits of the calling process's cgroups. fsys is the root
// file system (os.DirFS("/") in production).
func Read(fsys fs.FS) (Limits, error) {
	cgroups, err := readCgroupFile(fsys)
	if err != nil {
		return Limits{}, err
	}
	mounts, err := readMountinfo(fsys)
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	if dirs := controllerDirs(cgroups, mounts, "cpu"); dirs.len() > 0 {
		l.CPU = minPositive(dirs.v2, fsys, readV2CPU, dirs.v1, readV1CPU)
	}
	if dirs := controllerDirs(cgroups, mounts, "memory"); dirs.len() > 0 {
		l.Memory = int64(minPositive(dirs.v2, fsys, readV2Memory, dirs.v1, readV1Memory))
	}
	return l, nil
}

// GOMAXPROCS returns Go 1.25's choice for a CPU limit: ceil(limit), at least
// 2, at most numCPU; numCPU when there is no limit.
func GOMAXPROCS(cpuLimit float64, numCPU int) int {
	if cpuLimit <= 0 {
		return numCPU
	}
	n := int(math.Max(math.Ceil(cpuLimit), 2))
	return min(n, numCPU)
}

// MemoryLimit returns the soft memory limit for a cgroup memory limit (90 %),
// or 0 for no limit.
func MemoryLimit(limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	return limit / 10 * 9
}

// Apply sets GOMAXPROCS and the memory limit from the cgroup limits unless
// the environment sets them, and logs what it decided.
func Apply(logger *slog.Logger) {
	l, err := Read(os.DirFS("/"))
	if err != nil {
		logger.Debug("no cgroup limits read", "error", err.Error())
	}
	procs := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		procs = GOMAXPROCS(l.CPU, runtime.NumCPU())
		runtime.GOMAXPROCS(procs)
	}
	memLimit := debug.SetMemoryLimit(-1)
	if os.Getenv("GOMEMLIMIT") == "" {
		if m := MemoryLimit(l.Memory); m > 0 {
			debug.SetMemoryLimit(m)
			memLimit = m
		}
	}
	logger.Info("runtime sized to the container", "cgroup_cpu_limit", l.CPU, "cgroup_memory_limit_bytes", l.Memory,
		"gomaxprocs", procs, "gomemlimit_bytes", memLimit)
}

type cgroupLine struct {
	controllers []string // empty for the v2 line "0::/path"
	path        string
}

func readCgroupFile(fsys fs.FS) ([]cgroupLine, error) {
	b, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var out []cgroupLine
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
		}
		out = append(out, cgroupLine{controllers: ctrls, path: parts[2]})
	}
	return out, nil
}

type mount struct {
	root, point string
	v2          bool
	controllers []string // v1 super options naming controllers
}

func readMountinfo(fsys fs.FS) ([]mount, error) {
	f, err := fsys.Open("proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 > len(fields) {
			continue
		}
		switch fields[sep+1] {
		case "cgroup2":
			out = append(out, mount{root: unescape(fields[3]), point: unescape(fields[4]), v2: true})
		case "cgroup":
			out = append(out, mount{root: unescape(fields[3]), point: unescape(fields[4]), controllers: strings.Split(fields[sep+3], ",")})
		}
	}
	return out, sc.Err()
}

// unescape decodes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

type dirList struct{ v1, v2 []string }

func (d dirList) len() int { return len(d.v1) + len(d.v2) }

// controllerDirs returns, for a controller, the directories from the process's
// cgroup up to the mount's root (leaf first), for v2 and v1.
func controllerDirs(cgroups []cgroupLine, mounts []mount, controller string) dirList {
	var d dirList
	for _, m := range mounts {
		for _, c := range cgroups {
			switch {
			case m.v2 && len(c.controllers) == 0:
				d.v2 = append(d.v2, chain(m, c.path)...)
			case !m.v2 && contains(c.controllers, controller) && contains(m.controllers, controller):
				d.v1 = append(d.v1, chain(m, c.path)...)
			}
		}
	}
	return d
}

// chain maps a cgroup path to directories under the mount point, leaf first.
// In a cgroup namespace the path is relative to the mount root already ("/");
// otherwise the mount root is a prefix of it.
func chain(m mount, cgPath string) []string {
	rel := cgPath
	if m.root != "/" {
		if r, ok := strings.CutPrefix(cgPath, m.root); ok && (r == "" || r[0] == '/') {
			rel = r
		} else {
			rel = "/"
		}
	}
	var out []string
	for p := path.Clean("/" + rel); ; p = path.Dir(p) {
		out = append(out, strings.TrimPrefix(path.Join(m.point, p), "/"))
		if p == "/" {
			return out
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type reader func(fs.FS, string) (float64, bool)

// minPositive returns the smallest limit found along the v2 directories, or
// if none, along the v1 directories (0 when none is set).
func minPositive(v2 []string, fsys fs.FS, r2 reader, v1 []string, r1 reader) float64 {
	best := 0.0
	scan := func(dirs []string, r reader) {
		for _, d := range dirs {
			if v, ok := r(fsys, d); ok && v > 0 && (best == 0 || v < best) {
				best = v
			}
		}
	}
	scan(v2, r2)
	if best == 0 {
		scan(v1, r1)
	}
	return best
}

func readTrim(fsys fs.FS, name string) (string, bool) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", false
	}
	return string(bytes.TrimSpace(b)), true
}

// readV2CPU reads cpu.max: "max 100000" or "<quota> <period>".
func readV2CPU(fsys fs.FS, dir string) (float64, bool) {
	s, ok := readTrim(fsys, path.Join(dir, "cpu.max"))
	if !ok {
		return 0, false
	}
	f := strings.Fields(s)
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	q, err1 := strconv.ParseFloat(f[0], 64)
	p, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}

func readV1CPU(fsys fs.FS, dir string) (float64, bool) {
	qs, ok1 := readTrim(fsys, path.Join(dir, "cpu.cfs_quota_us"))
	ps, ok2 := readTrim(fsys, path.Join(dir, "cpu.cfs_period_us"))
	if !ok1 || !ok2 {
		return 0, false
	}
	q, err1 := strconv.ParseFloat(qs, 64)
	p, err2 := strconv.ParseFloat(ps, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}

func readV2Memory(fsys fs.FS, dir string) (float64, bool) {
	s, ok := readTrim(fsys, path.Join(dir, "memory.max"))
	if !ok || s == "max" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return float64(v), true
}

func readV1Memory(fsys fs.FS, dir string) (float64, bool) {
	s, ok := readTrim(fsys, path.Join(dir, "memory.limit_in_bytes"))
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v >= unlimitedMemory {
		return 0, false
	}
	return float64(v), true
}
