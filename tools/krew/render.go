package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
)

// releaseValues are the fields krew-release-bot executes .krew.yaml with
// (its source.ReleaseRequest); templates use .TagName.
type releaseValues struct {
	TagName string
}

// renderTemplate executes a krew-release-bot template the way the bot does on
// a release, offline: addURIAndSha hashes the archive named by the URI's last
// path element in distDir instead of downloading it from the release.
func renderTemplate(templateFile, tag, distDir string) ([]byte, error) {
	t, err := template.New(filepath.Base(templateFile)).Funcs(template.FuncMap{
		"indent":       indent,
		"addURIAndSha": func(url, tag string) (string, error) { return addURIAndSha(url, tag, distDir) },
	}).ParseFiles(templateFile)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, releaseValues{TagName: tag}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addURIAndSha returns the bot's "uri: …" and "sha256: …" lines. url is itself
// a template over .TagName; its second line carries the bot's legacy 4-space
// indent, which indent re-aligns.
func addURIAndSha(url, tag, distDir string) (string, error) {
	t, err := template.New("url").Parse(url)
	if err != nil {
		return "", err
	}
	var uri strings.Builder
	if err := t.Execute(&uri, releaseValues{TagName: tag}); err != nil {
		return "", err
	}
	archive := filepath.Join(distDir, path.Base(uri.String()))
	sum, err := sha256File(archive)
	if err != nil {
		return "", fmt.Errorf("the release archive of %s: %w (make dist builds it)", uri.String(), err)
	}
	return fmt.Sprintf("uri: %s\n    sha256: %s", uri.String(), sum), nil
}

// indent is the bot's indent: drop the legacy 4-space sha256 indent, pad every
// line by spaces, and trim, so that "{{ … | indent 6 }}" written at column 6
// lines the sha256 up under the uri.
func indent(spaces int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", spaces)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}

func sha256File(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
