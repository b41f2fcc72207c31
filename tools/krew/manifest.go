package main

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// The subset of krew's index types (sigs.k8s.io/krew/pkg/index) that its
// validation reads. krew itself is not available from the module proxy here.
type plugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              pluginSpec `json:"spec"`
}

type pluginSpec struct {
	Version          string     `json:"version,omitempty"`
	ShortDescription string     `json:"shortDescription,omitempty"`
	Description      string     `json:"description,omitempty"`
	Homepage         string     `json:"homepage,omitempty"`
	Platforms        []platform `json:"platforms,omitempty"`
}

type platform struct {
	URI      string                `json:"uri,omitempty"`
	Sha256   string                `json:"sha256,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	Files    []fileOperation       `json:"files"`
	Bin      string                `json:"bin"`
}

type fileOperation struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

type osArch struct{ OS, Arch string }

func (p osArch) String() string { return p.OS + "/" + p.Arch }

// krewPlatforms are the <os,arch> pairs krew runs on: the list krew-index's
// validate-krew-manifest checks selectors against.
var krewPlatforms = []osArch{
	{"windows", "386"}, {"windows", "amd64"}, {"windows", "arm64"},
	{"linux", "386"}, {"linux", "amd64"}, {"linux", "arm"}, {"linux", "arm64"}, {"linux", "ppc64le"},
	{"darwin", "386"}, {"darwin", "amd64"}, {"darwin", "arm64"},
}

var (
	safePluginName = regexp.MustCompile(`^[\w-]+$`)
	validSha256    = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// Windows reserved device names, refused as plugin names by krew.
	windowsForbidden = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
		"COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

func readPlugin(file string) (plugin, error) {
	var p plugin
	b, err := os.ReadFile(file)
	if err != nil {
		return p, err
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s is not a krew plugin manifest: %w", file, err)
	}
	return p, nil
}

// validatePlugin applies krew's rules for a manifest in the index named
// name.yaml: krew's ValidatePlugin, then the checks of krew-index's
// validate-krew-manifest (every selector matches a platform krew runs on, no
// platform is matched twice), and that each platform's bin is among the files
// it installs.
func validatePlugin(name string, p plugin) error {
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" {
		return fmt.Errorf("apiVersion is %q, krew reads krew.googlecontainertools.github.com/v1alpha2", p.APIVersion)
	}
	if p.Kind != "Plugin" {
		return fmt.Errorf("kind is %q, must be Plugin", p.Kind)
	}
	if !safePluginName.MatchString(name) || slices.ContainsFunc(windowsForbidden, func(f string) bool { return strings.EqualFold(f, name) }) {
		return fmt.Errorf("plugin name %q is not allowed, must match %s and not be a Windows device name", name, safePluginName)
	}
	if p.Name != name {
		return fmt.Errorf("metadata.name is %q, the manifest file says %q", p.Name, name)
	}
	if p.Spec.ShortDescription == "" {
		return fmt.Errorf("spec.shortDescription is empty")
	}
	if strings.ContainsAny(p.Spec.ShortDescription, "\r\n") {
		return fmt.Errorf("spec.shortDescription must be one line")
	}
	if len(p.Spec.Platforms) == 0 {
		return fmt.Errorf("spec.platforms is empty")
	}
	if err := validateVersion(p.Spec.Version); err != nil {
		return err
	}
	for i, pl := range p.Spec.Platforms {
		if err := validatePlatform(pl); err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
	}
	return validateSelectorsCover(p.Spec.Platforms)
}

// validateVersion is krew's semver rule: a leading v, then a full semantic version.
func validateVersion(v string) error {
	if !strings.HasPrefix(v, "v") {
		return fmt.Errorf("spec.version %q must start with v (e.g. v1.2.3)", v)
	}
	if _, err := version.ParseSemantic(v); err != nil {
		return fmt.Errorf("spec.version %q is not a semantic version: %w", v, err)
	}
	return nil
}

func validatePlatform(p platform) error {
	switch {
	case p.URI == "":
		return fmt.Errorf("uri is not set")
	case !validSha256.MatchString(p.Sha256):
		return fmt.Errorf("sha256 %q is not 64 lowercase hex digits", p.Sha256)
	case p.Bin == "":
		return fmt.Errorf("bin is not set")
	}
	if p.Files != nil && len(p.Files) == 0 {
		return fmt.Errorf("files must be left out or not empty")
	}
	for _, f := range p.Files {
		if f.From == "" || f.To == "" {
			return fmt.Errorf("files: from and to must both be set, got %+v", f)
		}
		if path.Clean(f.To) != f.To {
			return fmt.Errorf("files: to %q is not a clean path (%q)", f.To, path.Clean(f.To))
		}
	}
	if !binInstalled(p) {
		return fmt.Errorf("bin %q is not among the files the platform installs", p.Bin)
	}
	return validateSelector(p.Selector)
}

// binInstalled tells whether bin is a destination of the platform's file
// operations, as krew moves them: a file "to: ." keeps its base name, a file
// to another path is renamed, a glob's matches go into the "to" directory.
// Without files krew copies the whole archive, so any bin may be there.
func binInstalled(p platform) bool {
	if p.Files == nil {
		return true
	}
	bin := path.Clean(p.Bin)
	for _, f := range p.Files {
		if strings.ContainsAny(f.From, "*?[") {
			if ok, _ := path.Match(path.Base(f.From), path.Base(bin)); ok && path.Dir(bin) == path.Clean(f.To) {
				return true
			}
			continue
		}
		dest := path.Clean(f.To)
		if dest == "." {
			dest = path.Base(f.From)
		}
		if dest == bin {
			return true
		}
	}
	return false
}

// validateSelector is krew's rule: a selector is set, not empty, and uses only the keys os and arch.
func validateSelector(sel *metav1.LabelSelector) error {
	if sel == nil || (sel.MatchLabels == nil && len(sel.MatchExpressions) == 0) {
		return fmt.Errorf("selector is empty")
	}
	if sel.MatchLabels != nil && len(sel.MatchLabels) == 0 {
		return fmt.Errorf("selector: matchLabels is set but empty")
	}
	for k := range sel.MatchLabels {
		if k != "os" && k != "arch" {
			return fmt.Errorf("selector: key %q not supported, only os and arch", k)
		}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key != "os" && e.Key != "arch" {
			return fmt.Errorf("selector: key %q not supported, only os and arch", e.Key)
		}
	}
	return nil
}

// validateSelectorsCover checks that every platform is used (its selector
// matches an <os,arch> krew runs on) and that no <os,arch> is matched twice.
func validateSelectorsCover(platforms []platform) error {
	matchedBy := map[osArch][]int{}
	for i, pl := range platforms {
		matches, err := selectorMatches(pl.Selector)
		if err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
		if len(matches) == 0 {
			return fmt.Errorf("spec.platforms[%d]: selector matches no platform krew runs on", i)
		}
		for _, m := range matches {
			matchedBy[m] = append(matchedBy[m], i)
		}
	}
	for _, env := range krewPlatforms {
		if idx := matchedBy[env]; len(idx) > 1 {
			return fmt.Errorf("spec.platforms %v have overlapping selectors: all select %s", idx, env)
		}
	}
	return nil
}

// selectorMatches lists the platforms krew runs on that sel selects, by the
// same label-selector semantics krew uses to pick a platform at install time.
func selectorMatches(sel *metav1.LabelSelector) ([]osArch, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	var out []osArch
	for _, env := range krewPlatforms {
		if s.Matches(labels.Set{"os": env.OS, "arch": env.Arch}) {
			out = append(out, env)
		}
	}
	return out, nil
}
