package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

const (
	pluginName   = "layering"
	binName      = "kubectl-layering"
	completion   = "kubectl_complete-layering"
	manifestFile = "layering.krew.yaml"
	checksumFile = "checksums.txt"
)

// distOptions says where the release's inputs are and where it goes.
type distOptions struct {
	BinDir     string // <os>_<arch>/kubectl-layering[.exe] per platform, as `make dist` builds them
	OutDir     string
	Template   string // .krew.yaml, a krew-release-bot template
	Tag        string // the release tag, v<VERSION>
	License    string
	Completion string // completion/kubectl_complete-layering
}

// packageDist writes the release: one archive per platform built into
// BinDir, checksums.txt, and the krew manifest rendered from the template
// with the archives' checksums, checked by krew's rules.
func packageDist(o distOptions) ([]string, error) {
	platforms, err := builtPlatforms(o.BinDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	var archives []string
	for _, p := range platforms {
		name := archiveName(p)
		if err := writeArchive(filepath.Join(o.OutDir, name), archiveEntries(o, p)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		archives = append(archives, name)
	}
	if err := writeChecksums(o.OutDir, archives); err != nil {
		return nil, err
	}
	manifest, err := renderTemplate(o.Template, o.Tag, o.OutDir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(o.OutDir, manifestFile)
	if err := os.WriteFile(out, manifest, 0o644); err != nil {
		return nil, err
	}
	p, err := readPlugin(out)
	if err != nil {
		return nil, err
	}
	if err := validatePlugin(pluginName, p); err != nil {
		return nil, fmt.Errorf("%s breaks krew's rules: %w", out, err)
	}
	if err := sameArchives(p, archives); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Template, err)
	}
	return append(archives, checksumFile, manifestFile), nil
}

// builtPlatforms lists the <os>_<arch> directories of binDir.
func builtPlatforms(binDir string) ([]osArch, error) {
	dirs, err := os.ReadDir(binDir)
	if err != nil {
		return nil, err
	}
	var out []osArch
	for _, d := range dirs {
		goos, arch, ok := strings.Cut(d.Name(), "_")
		if !d.IsDir() || !ok {
			continue
		}
		out = append(out, osArch{goos, arch})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no <os>_<arch> build directories (make dist builds them)", binDir)
	}
	return out, nil
}

// archiveName is the release asset of a platform: .zip for Windows, .tar.gz elsewhere.
func archiveName(p osArch) string {
	if p.OS == "windows" {
		return fmt.Sprintf("%s_%s_%s.zip", binName, p.OS, p.Arch)
	}
	return fmt.Sprintf("%s_%s_%s.tar.gz", binName, p.OS, p.Arch)
}

// archiveEntries is what a platform's archive holds: the plugin, its LICENSE
// (krew-index requires one), and outside Windows the completion script that
// kubectl runs for `kubectl layering <TAB>`.
func archiveEntries(o distOptions, p osArch) []archiveEntry {
	bin := binName
	if p.OS == "windows" {
		bin += ".exe"
	}
	entries := []archiveEntry{{Name: bin, Src: filepath.Join(o.BinDir, p.OS+"_"+p.Arch, bin), Mode: 0o755}}
	if p.OS != "windows" {
		entries = append(entries, archiveEntry{Name: completion, Src: o.Completion, Mode: 0o755})
	}
	return append(entries, archiveEntry{Name: "LICENSE", Src: o.License, Mode: 0o644})
}

// writeChecksums writes sha256sum's format, so `sha256sum -c checksums.txt` verifies a download.
func writeChecksums(dir string, files []string) error {
	var b strings.Builder
	for _, f := range files {
		sum, err := sha256File(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, f)
	}
	return os.WriteFile(filepath.Join(dir, checksumFile), []byte(b.String()), 0o644)
}

// sameArchives fails when an archive was built that the manifest does not
// offer (a platform missing from the template) or the reverse.
func sameArchives(p plugin, archives []string) error {
	var inManifest []string
	for _, pl := range p.Spec.Platforms {
		inManifest = append(inManifest, path.Base(pl.URI))
	}
	slices.Sort(inManifest)
	built := slices.Sorted(slices.Values(archives))
	if !slices.Equal(inManifest, built) {
		return fmt.Errorf("the manifest offers %v but the release has %v: add or remove platforms in both the Makefile's PLATFORMS and the template", inManifest, built)
	}
	return nil
}
