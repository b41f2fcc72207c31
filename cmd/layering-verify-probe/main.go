// Command layering-verify-probe runs inside a platform pod, as an ephemeral
// container of `kubectl layering verify`, and checks from the pod's own network
// namespace and mounts what only the inside can see. One JSON object per check
// on stdout; it always exits 0 so that verify reads every result.
//
//	layering-verify-probe dns HOST:PORT... writable DIR... readonly DIR...
package main

import (
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

func main() {
	mode := ""
	enc := json.NewEncoder(os.Stdout)
	for _, arg := range os.Args[1:] {
		switch arg {
		case "dns", "writable", "readonly":
			mode = arg
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
		default:
			r = Result{Check: "usage", Target: arg, Detail: "want: dns HOST:PORT... writable DIR... readonly DIR..."}
		}
		_ = enc.Encode(r)
	}
}

// dns resolves the host through the pod's resolver and connects to the port;
// a fresh pod's first lookups can time out until the node's service rules settle.
func dns(target string) Result {
	r := Result{Check: "dns", Target: target}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	deadline := time.Now().Add(15 * time.Second)
	var addrs []string
	for {
		addrs, err = net.LookupHost(host)
		if err == nil || time.Now().After(deadline) {
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
