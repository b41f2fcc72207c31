// Package probeapi is the one definition of what `kubectl layering verify`
// asks the in-pod probe (cmd/layering-verify-probe) and what the probe answers:
// a Request as a single JSON argument, and one JSON Result per line on stdout.
//
// It imports only the standard library, so the probe binary stays small and
// free of client-go.
package probeapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Request is everything one probe run checks.
type Request struct {
	DNS      []string `json:"dns,omitempty"`      // HOST:PORT to resolve and connect to
	Writable []string `json:"writable,omitempty"` // directories to write, read back and clean up
	ReadOnly []string `json:"readOnly,omitempty"` // directories whose writes must fail: read-only file system
	Keep     *Marker  `json:"keep,omitempty"`     // leave a marker (verify --deep, before a pod restart)
	Expect   *Marker  `json:"expect,omitempty"`   // find and remove a marker (verify --deep, after it)
}

// Marker is a file named for Name left in each of Dirs.
type Marker struct {
	Name string   `json:"name"`
	Dirs []string `json:"dirs"`
}

// Empty tells whether the request asks for nothing.
func (r Request) Empty() bool {
	return len(r.DNS) == 0 && len(r.Writable) == 0 && len(r.ReadOnly) == 0 && r.Keep == nil && r.Expect == nil
}

// Result is one check's outcome: one line of the probe's output.
type Result struct {
	Check  string `json:"check"` // one of the Check* names
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// The checks a Result can name.
const (
	CheckDNS      = "dns"
	CheckWritable = "writable"
	CheckReadOnly = "readonly"
	CheckKeep     = "keep"
	CheckPersists = "persists" // the answer to Expect
	CheckRequest  = "request"  // the probe could not read its request
)

// Encode is the probe's single argument for r.
func Encode(r Request) (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

// Decode reads the probe's arguments: exactly one, a JSON Request.
func Decode(args []string) (Request, error) {
	var r Request
	if len(args) != 1 {
		return r, fmt.Errorf("want one argument, a JSON request such as '{\"dns\":[\"host:8001\"],\"writable\":[\"/app/output\"]}'; got %d", len(args))
	}
	dec := json.NewDecoder(strings.NewReader(args[0]))
	dec.DisallowUnknownFields() // a newer verify asking for checks this probe lacks must say so, not pass
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("the request is not a JSON probe request (is the probe image as new as the plugin?): %w", err)
	}
	for _, m := range []*Marker{r.Keep, r.Expect} {
		if m != nil && m.Name == "" {
			return r, errors.New("the request's marker has no name")
		}
	}
	return r, nil
}

// WriteResults writes one JSON line per result.
func WriteResults(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// ReadResults reads the probe's output. Lines that are not results (a Go
// runtime error, say) are skipped here; an output without any result is an error
// that quotes it.
func ReadResults(out []byte) ([]Result, error) {
	var results []Result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r Result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Check != "" {
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("no results in its output: %q", strings.TrimSpace(string(out)))
	}
	return results, nil
}
