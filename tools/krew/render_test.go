package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The template functions behave as krew-release-bot's (its pkg/source
// template tests): indent re-aligns the legacy 4-space sha256 line.
func TestIndentAsKrewReleaseBot(t *testing.T) {
	for _, tc := range []struct {
		in     string
		spaces int
		want   string
	}{
		{"uri: some-secure-uri\nsha256: some-sha256", 4, "uri: some-secure-uri\n    sha256: some-sha256"},
		{"uri: some-secure-uri\n    sha256: some-sha256", 6, "uri: some-secure-uri\n      sha256: some-sha256"},
	} {
		if got := indent(tc.spaces, tc.in); got != tc.want {
			t.Errorf("indent(%d, %q) = %q, want %q", tc.spaces, tc.in, got, tc.want)
		}
	}
}

// Rendering offline gives what the bot renders from the published release:
// the bot's "needs 6 space indentation" case, whose download body
// "my-plugin-binary" is here the local archive (same sha256 as in the bot's
// expected output).
func TestRenderTemplateAsKrewReleaseBot(t *testing.T) {
	dist := t.TempDir()
	writeFile(t, filepath.Join(dist, "kubectl-whoami_v0.0.2_darwin_amd64.tar.gz"), "my-plugin-binary")
	tmpl := writeFile(t, filepath.Join(t.TempDir(), "t.yaml"), `spec:
  version: {{ .TagName }}
  platforms:
    - selector:
        matchLabels:
          os: darwin
      {{addURIAndSha "https://github.com/rajatjindal/kubectl-whoami/releases/download/{{ .TagName }}/kubectl-whoami_{{ .TagName }}_darwin_amd64.tar.gz" .TagName | indent 6 }}
      bin: kubectl-whoami
`)
	got, err := renderTemplate(tmpl, "v0.0.2", dist)
	if err != nil {
		t.Fatal(err)
	}
	want := `spec:
  version: v0.0.2
  platforms:
    - selector:
        matchLabels:
          os: darwin
      uri: https://github.com/rajatjindal/kubectl-whoami/releases/download/v0.0.2/kubectl-whoami_v0.0.2_darwin_amd64.tar.gz
      sha256: d9336538c1469e9ced64c5ee3f9c1bf7b7ef80ccc656c73bc244de35dfbf69d4
      bin: kubectl-whoami
`
	if string(got) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}

// A release whose archive is missing is not rendered: the error names the
// archive's URI and how to build it.
func TestRenderTemplateMissingArchive(t *testing.T) {
	tmpl := writeFile(t, filepath.Join(t.TempDir(), "t.yaml"), `{{ addURIAndSha "https://example.com/{{ .TagName }}/a.tar.gz" .TagName }}`)
	_, err := renderTemplate(tmpl, "v1.0.0", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "https://example.com/v1.0.0/a.tar.gz") || !strings.Contains(err.Error(), "make dist") {
		t.Fatalf("err = %v, want one naming the archive's URI and make dist", err)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
