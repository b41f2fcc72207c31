package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const repoRoot = "../.."

// Issue 16: the release's krew manifest, rendered offline from .krew.yaml by
// make dist's own code, passes krew's validation rules; every platform's uri
// is the GitHub release download URL of an archive of the release, with that
// archive's sha256 (also in checksums.txt); every platform installs as krew
// installs it (files, bin, LICENSE); and the plugin installed for this machine
// runs through kubectl's plugin discovery as `kubectl layering version`,
// reporting the manifest's version.
func TestReleaseManifestInstallsAsKrew(t *testing.T) {
	dist, real := releaseDist(t)
	p, err := readPlugin(filepath.Join(dist, manifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := validatePlugin(pluginName, p); err != nil {
		t.Fatalf("krew would refuse %s: %v", manifestFile, err)
	}
	sums := readChecksums(t, dist)
	host := osArch{runtime.GOOS, runtime.GOARCH}
	ran := false
	for i, pl := range p.Spec.Platforms {
		archive := path.Base(pl.URI)
		if want := p.Spec.Homepage + "/releases/download/" + p.Spec.Version + "/" + archive; pl.URI != want {
			t.Errorf("platforms[%d].uri = %s, want the release download URL %s", i, pl.URI, want)
		}
		if sum, err := sha256File(filepath.Join(dist, archive)); err != nil || sum != pl.Sha256 || sums[archive] != pl.Sha256 {
			t.Errorf("platforms[%d]: sha256 %s; archive %s hashes to %s (%v), checksums.txt says %s", i, pl.Sha256, archive, sum, err, sums[archive])
		}
		targets, _ := selectorMatches(pl.Selector)
		for _, target := range targets {
			binDir, err := krewInstall(t.TempDir(), pluginName, p.Spec.Version, pl, target, filepath.Join(dist, archive))
			if err != nil {
				t.Errorf("krew install of %s for %s: %v", archive, target, err)
				continue
			}
			assertLicense(t, filepath.Join(filepath.Dir(binDir), "store"), target)
			if target == host && real[target] {
				runVersion(t, binDir, strings.TrimPrefix(p.Spec.Version, "v"))
				ran = true
			}
		}
	}
	if !ran {
		t.Errorf("no platform of the manifest was built for this machine (%s): kubectl layering version never ran", host)
	}
}

// releaseDist is the release to check. KREW_DIST names one `make dist`
// wrote (every archive real). Otherwise, to keep `make test` fast, only this
// machine's plugin is built, with make dist's flags; the other platforms'
// archives hold a stand-in file where their plugin would be, enough to check
// the manifest's rules and file lists but never run.
func releaseDist(t *testing.T) (string, map[osArch]bool) {
	t.Helper()
	platforms := templatePlatforms(t)
	real := map[osArch]bool{}
	if dir := os.Getenv("KREW_DIST"); dir != "" {
		for _, p := range platforms {
			real[p] = true
		}
		return dir, real
	}
	version := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(repoRoot, "VERSION")))))
	bins := t.TempDir()
	for _, p := range platforms {
		exe := filepath.Join(bins, p.OS+"_"+p.Arch, binName)
		if p.OS == "windows" {
			exe += ".exe"
		}
		if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
			t.Fatal(err)
		}
		if p == (osArch{runtime.GOOS, runtime.GOARCH}) {
			buildPlugin(t, exe, version)
			real[p] = true
			continue
		}
		if err := os.WriteFile(exe, []byte("stand-in for "+p.String()+": KREW_DIST=dist checks the real one\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	_, err := packageDist(distOptions{BinDir: bins, OutDir: out, Template: filepath.Join(repoRoot, ".krew.yaml"),
		Tag: "v" + version, License: filepath.Join(repoRoot, "LICENSE"),
		Completion: filepath.Join(repoRoot, "completion", completion)})
	if err != nil {
		t.Fatalf("make dist's packaging: %v", err)
	}
	return out, real
}

// templatePlatforms reads the platforms .krew.yaml offers from its archive names.
func templatePlatforms(t *testing.T) []osArch {
	t.Helper()
	tmpl := must(os.ReadFile(filepath.Join(repoRoot, ".krew.yaml")))
	var out []osArch
	for _, m := range regexp.MustCompile(`/kubectl-layering_(\w+?)_(\w+?)\.(?:tar\.gz|zip)"`).FindAllStringSubmatch(string(tmpl), -1) {
		out = append(out, osArch{m[1], m[2]})
	}
	if len(out) == 0 {
		t.Fatal(".krew.yaml offers no kubectl-layering_<os>_<arch> archive")
	}
	return out
}

// buildPlugin builds the plugin for this machine as make dist does (same
// flags, so the Go build cache is shared with make build and make dist).
func buildPlugin(t *testing.T, out, version string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
		"-s -w -X github.com/layering-detection/kubectl-layering/pkg/version.Version="+version,
		"-o", out, "./cmd/kubectl-layering")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the plugin: %v\n%s", err, b)
	}
}

// runVersion runs `kubectl layering version` with only krew's bin directory
// and kubectl's own directory on PATH, so kubectl's plugin discovery finds
// the installed plugin or nothing.
func runVersion(t *testing.T, binDir, want string) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH: cannot run the installed plugin through kubectl's plugin discovery")
	}
	cmd := exec.Command(kubectl, "layering", "version", "-o", "json")
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+filepath.Dir(kubectl), "HOME="+t.TempDir())
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl layering version: %v\n%s", err, stderrOf(err))
	}
	var v struct{ Version string }
	if err := json.Unmarshal(b, &v); err != nil || v.Version != want {
		t.Fatalf("kubectl layering version printed %q (%v), want version %q", b, err, want)
	}
	t.Logf("kubectl layering version (installed from the manifest): %s", strings.TrimSpace(string(b)))
}

func assertLicense(t *testing.T, store string, target osArch) {
	t.Helper()
	found := false
	_ = filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		found = found || (err == nil && !d.IsDir() && strings.EqualFold(d.Name(), "LICENSE"))
		return nil
	})
	if !found {
		t.Errorf("%s: no LICENSE installed (krew-index requires one)", target)
	}
}

func readChecksums(t *testing.T, dist string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dist, checksumFile))))), "\n") {
		if sum, file, ok := strings.Cut(line, "  "); ok {
			sums[file] = sum
		}
	}
	return sums
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
