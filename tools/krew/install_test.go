package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// krewInstall installs one platform of a manifest from a local archive the
// way `kubectl krew install --manifest … --archive …` does (krew's
// internal/installation and internal/download): verify the sha256, extract
// into a staging directory by the archive's sniffed type, move each `files`
// entry into the version's install directory, and link bin into krew's bin
// directory as kubectl-<name> (.exe on Windows). It returns that bin
// directory, the one users put on PATH.
func krewInstall(root, name, version string, p platform, target osArch, archive string) (string, error) {
	data, err := os.ReadFile(archive)
	if err != nil {
		return "", err
	}
	if sum, _ := sha256File(archive); sum != p.Sha256 {
		return "", fmt.Errorf("sha256 of %s is %s, the manifest says %s", archive, sum, p.Sha256)
	}
	staging := filepath.Join(root, "staging")
	if err := extract(staging, data); err != nil {
		return "", err
	}
	installDir := filepath.Join(root, "store", name, version)
	for _, f := range p.Files {
		if err := moveFiles(staging, installDir, f); err != nil {
			return "", err
		}
	}
	binDir := filepath.Join(root, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(installDir, filepath.FromSlash(p.Bin))
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("bin %q is not in the installed files: %w", p.Bin, err)
	}
	link := "kubectl-" + strings.ReplaceAll(name, "-", "_")
	if target.OS == "windows" {
		link += ".exe"
	}
	return binDir, os.Symlink(bin, filepath.Join(binDir, link))
}

// extract is krew's: the format is sniffed, not taken from the file name.
func extract(dir string, data []byte) error {
	switch t := http.DetectContentType(data); {
	case strings.HasPrefix(t, "application/zip"):
		return extractZip(dir, data)
	case strings.HasPrefix(t, "application/x-gzip"):
		return extractTarGz(dir, data)
	default:
		return fmt.Errorf("archive type %q is not one krew installs", t)
	}
}

func extractTarGz(dir string, data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			if err := mkdirExtracted(dir, hdr.Name); err != nil {
				return err
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("tar entry %q has type %d, krew extracts only regular files and directories", hdr.Name, hdr.Typeflag)
		}
		if err := writeExtracted(dir, hdr.Name, os.FileMode(hdr.Mode), tr); err != nil {
			return err
		}
	}
}

func extractZip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			if err := mkdirExtracted(dir, f.Name); err != nil {
				return err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		err = writeExtracted(dir, f.Name, f.Mode(), rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// entryPath is where an archive entry is extracted; krew refuses entries
// that could leave the directory.
func entryPath(dir, name string) (string, error) {
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return "", fmt.Errorf("krew refuses the archive entry %q", name)
	}
	return filepath.Join(dir, filepath.FromSlash(name)), nil
}

func mkdirExtracted(dir, name string) error {
	path, err := entryPath(dir, name)
	if err != nil {
		return err
	}
	return os.MkdirAll(path, 0o755)
}

func writeExtracted(dir, name string, mode os.FileMode, r io.Reader) error {
	path, err := entryPath(dir, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// moveFiles is krew's file operation: a "from" naming one file goes to "to"
// (its base name kept for "."); otherwise "from" is a glob whose matches go
// into the "to" directory. Nothing may leave the staging or install directory.
func moveFiles(from, to string, op fileOperation) error {
	if src := filepath.Join(from, filepath.FromSlash(op.From)); fileExists(src) {
		dst := filepath.Join(to, filepath.FromSlash(op.To))
		if filepath.Clean(op.To) == "." {
			dst = filepath.Join(to, filepath.Base(src))
		}
		return move(from, to, src, dst)
	}
	matches, err := filepath.Glob(filepath.Join(from, filepath.FromSlash(op.From)))
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		return fmt.Errorf("no file in the archive matches files.from %q", op.From)
	}
	for _, m := range matches {
		if err := move(from, to, m, filepath.Join(to, filepath.FromSlash(op.To), filepath.Base(m))); err != nil {
			return err
		}
	}
	return nil
}

func move(fromBase, toBase, src, dst string) error {
	for base, p := range map[string]string{fromBase: src, toBase: dst} {
		if rel, err := filepath.Rel(base, p); err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("krew refuses to move %q to %q: outside its directory", src, dst)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Rename(src, dst)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
