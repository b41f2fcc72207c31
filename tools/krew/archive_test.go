package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Release archives are byte-reproducible (same inputs, same checksums), and
// only krew's two formats are written.
func TestWriteArchiveReproducible(t *testing.T) {
	src := writeFile(t, filepath.Join(t.TempDir(), "kubectl-layering"), "binary")
	entries := []archiveEntry{{Name: "kubectl-layering", Src: src, Mode: 0o755}}
	for _, ext := range []string{".tar.gz", ".zip"} {
		a, b := filepath.Join(t.TempDir(), "a"+ext), filepath.Join(t.TempDir(), "b"+ext)
		if err := writeArchive(a, entries); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(src, archiveTime.AddDate(1, 0, 0), archiveTime.AddDate(1, 0, 0)); err != nil {
			t.Fatal(err)
		}
		if err := writeArchive(b, entries); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(must(os.ReadFile(a)), must(os.ReadFile(b))) {
			t.Errorf("%s: two writes of the same files differ", ext)
		}
	}
	if err := writeArchive(filepath.Join(t.TempDir(), "a.tar.xz"), entries); err == nil || !strings.Contains(err.Error(), ".tar.gz and .zip") {
		t.Errorf("err = %v, want .tar.xz refused", err)
	}
}
