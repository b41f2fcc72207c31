// Command layering-verify-probe runs inside a platform pod, as an ephemeral
// container of `kubectl layering verify`, and checks from the pod's own network
// namespace and mounts what only the inside can see. One JSON object per check
// on stdout; it always exits 0 so that verify reads every result.
//
//	layering-verify-probe dns HOST:PORT... writable DIR... readonly DIR...
//	layering-verify-probe keep MARKER DIR...     leave a marker file (verify --deep)
//	layering-verify-probe expect MARKER DIR...   find the marker after a restart, then remove it
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is one check's outcome, as verify parses it.
type Result struct {
	Check  string `json:"check"` // dns, writable or readonly
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// lookupsUntil bounds the retries of every lookup together: a fresh pod's
// first lookups can fail until the node's service rules settle, but a broken
// DNS must not keep verify waiting.
var lookupsUntil = time.Now().Add(10 * time.Second)

func main() {
	mode, marker := "", ""
	enc := json.NewEncoder(os.Stdout)
	for _, arg := range os.Args[1:] {
		switch arg {
		case "dns", "writable", "readonly", "keep", "expect":
			mode, marker = arg, ""
			continue
		}
		if (mode == "keep" || mode == "expect") && marker == "" {
			marker = arg
			continue
		}
		var r Result
		switch mode {
		case "dns":
			r = dns(arg)
		case "writable":
			r = writable(arg)
		case "readonly":
			r = readonly(arg)
		case "keep":
			r = keep(arg, marker)
		case "expect":
			r = expect(arg, marker)
		default:
			r = Result{Check: "usage", Target: arg, Detail: "want: dns HOST:PORT... writable DIR... readonly DIR..."}
		}
		_ = enc.Encode(r)
	}
}

// dns resolves the host through the pod's resolver and connects to the port.
func dns(target string) Result {
	r := Result{Check: "dns", Target: target}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	var addrs []string
	for {
		// Dropped queries would otherwise be retried per search domain for a minute.
		ctx, cancel := context.WithDeadline(context.Background(), later(lookupsUntil, time.Now().Add(2*time.Second)))
		addrs, err = net.DefaultResolver.LookupHost(ctx, host)
		cancel()
		if err == nil || time.Now().After(lookupsUntil) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		r.Detail = "does not resolve: " + err.Error()
		return r
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 5*time.Second)
	if err != nil {
		r.Detail = fmt.Sprintf("resolves to %s but refuses connections: %v", strings.Join(addrs, ","), err)
		return r
	}
	conn.Close()
	r.OK, r.Detail = true, fmt.Sprintf("resolves to %s and accepts connections", strings.Join(addrs, ","))
	return r
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// writable writes, reads back and removes a probe file as the container's user.
func writable(dir string) Result {
	r := Result{Check: "writable", Target: dir}
	name := filepath.Join(dir, fmt.Sprintf(".layering-verify-%d", time.Now().UnixNano()))
	want := []byte("layering-verify\n")
	if err := os.WriteFile(name, want, 0o644); err != nil {
		r.Detail = fmt.Sprintf("cannot write as uid %d: %v", os.Getuid(), err)
		return r
	}
	got, err := os.ReadFile(name)
	removeErr := os.Remove(name)
	switch {
	case err != nil || string(got) != string(want):
		r.Detail = fmt.Sprintf("wrote but could not read back: %v", err)
	case removeErr != nil:
		r.Detail = fmt.Sprintf("wrote and read, but cannot remove the probe file: %v", removeErr)
	default:
		r.OK, r.Detail = true, fmt.Sprintf("uid %d wrote, read back and removed a file", os.Getuid())
	}
	return r
}

// readonly expects a write to fail because the mount is read-only.
func readonly(dir string) Result {
	r := Result{Check: "readonly", Target: dir}
	name := filepath.Join(dir, fmt.Sprintf(".layering-verify-%d", time.Now().UnixNano()))
	err := os.WriteFile(name, []byte("x"), 0o644)
	if err == nil {
		os.Remove(name)
		r.Detail = "a write succeeded: the mount is writable"
		return r
	}
	if !strings.Contains(err.Error(), "read-only file system") {
		r.Detail = "a write failed, but not because the mount is read-only: " + err.Error()
		return r
	}
	if _, statErr := os.Stat(dir); statErr != nil {
		r.Detail = "not readable: " + statErr.Error()
		return r
	}
	r.OK, r.Detail = true, "readable, and a write fails: read-only file system"
	return r
}

func markerFile(dir, marker string) string { return filepath.Join(dir, ".layering-verify-"+marker) }

// keep leaves a marker file for the pod that replaces this one to find.
func keep(dir, marker string) Result {
	r := Result{Check: "keep", Target: dir}
	if err := os.WriteFile(markerFile(dir, marker), []byte(marker), 0o644); err != nil {
		r.Detail = "cannot leave a marker: " + err.Error()
		return r
	}
	r.OK, r.Detail = true, "left marker "+marker
	return r
}

// expect finds the marker a previous pod left, and removes it.
func expect(dir, marker string) Result {
	r := Result{Check: "persists", Target: dir}
	got, err := os.ReadFile(markerFile(dir, marker))
	if err != nil || string(got) != marker {
		r.Detail = fmt.Sprintf("the file written before the pod restart is gone: %v", err)
		return r
	}
	if err := os.Remove(markerFile(dir, marker)); err != nil {
		r.Detail = "found the marker but cannot remove it: " + err.Error()
		return r
	}
	r.OK, r.Detail = true, "a file written before the pod restart was there after it"
	return r
}
