package probeapi

import (
	"bytes"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Requirement: the request travels as one argument and arrives unchanged.
func TestRequestRoundTripsAsOneArgument(t *testing.T) {
	want := Request{
		DNS:      []string{"layering-service:8001", "wash-trading-service:8002"},
		Writable: []string{"/app/output", "/app/logs"},
		ReadOnly: []string{"/app/input"},
		Keep:     &Marker{Name: "123", Dirs: []string{"/app/output"}},
	}
	arg, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode([]string{arg})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

// Requirement: a request the probe cannot read is refused with what is wrong,
// never run as an empty request that passes.
func TestDecodeRefusesBadRequests(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no argument":                {nil, "want one argument"},
		"the old argument language":  {[]string{"dns", "layering-service:8001"}, "want one argument"},
		"not JSON":                   {[]string{"writable /app/output"}, "not a JSON probe request"},
		"a check this probe lacks":   {[]string{`{"dns":["a:1"],"tls":["a:443"]}`}, `unknown field "tls"`},
		"a marker without a name":    {[]string{`{"keep":{"dirs":["/app/output"]}}`}, "marker has no name"},
		"an expect without its name": {[]string{`{"expect":{"name":"","dirs":["/x"]}}`}, "marker has no name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	if !(Request{}).Empty() {
		t.Error("the zero request is not empty")
	}
	if (Request{Expect: &Marker{Name: "1"}}).Empty() {
		t.Error("a request with only a marker to expect is empty")
	}
}

// Requirement: verify reads back exactly what the probe wrote, skipping lines
// that are no results, and an output without results is an error quoting it.
func TestResultsRoundTrip(t *testing.T) {
	want := []Result{
		{Check: CheckDNS, Target: "layering-service:8001", OK: true, Detail: "resolves to 10.96.0.20 and accepts connections"},
		{Check: CheckReadOnly, Target: "/app/input", Detail: "a write succeeded: the mount is writable"},
	}
	var out bytes.Buffer
	out.WriteString("some runtime noise\n")
	if err := WriteResults(&out, want); err != nil {
		t.Fatal(err)
	}
	out.WriteString("{\"unrelated\":1}\n")
	got, err := ReadResults(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, want %+v", got, want)
	}

	_, err = ReadResults([]byte("exec format error\n"))
	if err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Errorf("an output without results: %v, want an error quoting the output", err)
	}
}

// Requirement: the package the probe binary imports pulls in nothing but the
// standard library (no client-go in the probe image).
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: keep probeapi to the standard library", f, path)
			}
		}
	}
}
