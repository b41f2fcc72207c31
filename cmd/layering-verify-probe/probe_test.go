package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// loopback resolves every name to 127.0.0.1 and dials for real: no query leaves the machine.
func loopback(lookupErr error) network {
	return network{
		lookup: func(context.Context, string) ([]string, error) {
			if lookupErr != nil {
				return nil, lookupErr
			}
			return []string{"127.0.0.1"}, nil
		},
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, "127.0.0.1:"+port)
		},
	}
}

// Requirement (dns): a name that resolves and accepts connections passes; one
// that resolves but refuses connections, or does not resolve, fails saying which.
func TestDNS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shut := fmt.Sprint(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	for name, tc := range map[string]struct {
		n      network
		target string
		ok     bool
		detail string
	}{
		"resolves and accepts":  {loopback(nil), "layering-service:" + open, true, "resolves to 127.0.0.1 and accepts connections"},
		"refuses connections":   {loopback(nil), "layering-service:" + shut, false, "resolves to 127.0.0.1 but refuses connections"},
		"does not resolve":      {loopback(errors.New("no such host")), "layering-service:8001", false, "does not resolve: no such host"},
		"no port in the target": {loopback(nil), "layering-service", false, "missing port"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r := tc.n.dns(ctx, tc.target)
			if r.Check != probeapi.CheckDNS || r.Target != tc.target || r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("dns(%s) = %+v, want ok=%v and a detail containing %q", tc.target, r, tc.ok, tc.detail)
			}
		})
	}
}

// Requirement: a failing lookup is retried while the budget lasts (a fresh pod's
// first lookups can fail), and given up once it is spent.
func TestLookupRetriesWithinTheBudget(t *testing.T) {
	var calls atomic.Int32
	n := loopback(nil)
	n.lookup = func(context.Context, string) ([]string, error) {
		if calls.Add(1) < 2 {
			return nil, errors.New("i/o timeout")
		}
		return []string{"10.96.0.20"}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if addrs, err := n.resolve(ctx, "layering-service"); err != nil || addrs[0] != "10.96.0.20" {
		t.Errorf("resolve after one failure = %v, %v; want the second lookup's answer", addrs, err)
	}

	n.lookup = func(context.Context, string) ([]string, error) { return nil, errors.New("server misbehaving") }
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := n.resolve(ctx, "layering-service"); err == nil || time.Since(start) > 2*retryEvery {
		t.Errorf("resolve with a broken DNS = %v after %s; want the lookup's error once the budget is spent", err, time.Since(start))
	}
}

// Requirement (volumes): a writable directory is written, read back and left clean;
// one that cannot be written fails naming the uid.
func TestWritable(t *testing.T) {
	dir := t.TempDir()
	if r := writable(dir); !r.OK || r.Check != probeapi.CheckWritable || !strings.Contains(r.Detail, "wrote, read back and removed") {
		t.Errorf("writable(temp dir) = %+v", r)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("writable left %d files behind", len(left))
	}
	r := writable(filepath.Join(dir, "missing"))
	if r.OK || !strings.Contains(r.Detail, fmt.Sprintf("cannot write as uid %d", os.Getuid())) {
		t.Errorf("writable(missing dir) = %+v", r)
	}
}

// Requirement (volumes): a mount that accepts writes fails the read-only check,
// and leaves no file behind.
func TestReadonlyOfAWritableDirectory(t *testing.T) {
	dir := t.TempDir()
	r := readonly(dir)
	if r.OK || r.Check != probeapi.CheckReadOnly || r.Detail != "a write succeeded: the mount is writable" {
		t.Errorf("readonly(writable dir) = %+v", r)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("readonly left %d files behind", len(left))
	}
	if r := readonly(filepath.Join(dir, "missing")); r.OK || !strings.Contains(r.Detail, "not because the mount is read-only") {
		t.Errorf("readonly(missing dir) = %+v", r)
	}
}

// Requirement: only a read-only file system (EROFS, however wrapped) counts as
// read-only; permission errors do not (a root-owned writable mount is not read-only).
func TestReadOnlyVerdict(t *testing.T) {
	for name, tc := range map[string]struct {
		err error
		ok  bool
	}{
		"write succeeded":          {nil, false},
		"EROFS from open":          {&fs.PathError{Op: "open", Path: "/app/input/x", Err: syscall.EROFS}, true},
		"EROFS wrapped again":      {fmt.Errorf("writing: %w", &fs.PathError{Op: "open", Err: syscall.EROFS}), true},
		"permission denied":        {&fs.PathError{Op: "open", Err: syscall.EACCES}, false},
		"the message alone is not": {errors.New("read-only file system"), false},
	} {
		t.Run(name, func(t *testing.T) {
			if ok, detail := readOnlyVerdict(tc.err); ok != tc.ok || detail == "" {
				t.Errorf("readOnlyVerdict(%v) = %v %q, want %v", tc.err, ok, detail, tc.ok)
			}
		})
	}
}

// Requirement (verify --deep): a marker kept before a restart is found after it
// and removed; a missing marker fails.
func TestKeepThenExpect(t *testing.T) {
	dir := t.TempDir()
	if r := keep(dir, "42"); !r.OK || r.Check != probeapi.CheckKeep {
		t.Fatalf("keep = %+v", r)
	}
	if r := expect(dir, "42"); !r.OK || r.Check != probeapi.CheckPersists {
		t.Errorf("expect after keep = %+v", r)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("expect left %d files behind", len(left))
	}
	if r := expect(dir, "42"); r.OK || !strings.Contains(r.Detail, "gone") {
		t.Errorf("expect without a marker = %+v", r)
	}
}

// Requirement: one result per asked check, in the request's order.
func TestRunAnswersEveryCheck(t *testing.T) {
	rw, ro := t.TempDir(), t.TempDir()
	req := probeapi.Request{DNS: []string{"a:1", "b:2"}, Writable: []string{rw}, ReadOnly: []string{ro}, Keep: &probeapi.Marker{Name: "7", Dirs: []string{rw}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	var got []string
	for _, r := range run(ctx, req, loopback(errors.New("no such host"))) {
		got = append(got, r.Check+" "+r.Target)
	}
	want := []string{"dns a:1", "dns b:2", "writable " + rw, "readonly " + ro, "keep " + rw}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("run answered %q, want %q", got, want)
	}
}

// Requirement: the probe image holds no client-go (nor anything outside the standard library and probeapi).
func TestProbeDependsOnlyOnTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/layering-detection/kubectl-layering/") {
			t.Errorf("the probe depends on %s", p)
		}
	}
}
