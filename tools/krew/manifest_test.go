package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validTestPlugin() plugin {
	pl := func(os, arch, bin string) platform {
		return platform{
			URI:      "https://example.com/" + os + "_" + arch + ".tar.gz",
			Sha256:   strings.Repeat("ab", 32),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"os": os, "arch": arch}},
			Files:    []fileOperation{{From: bin, To: "."}, {From: "LICENSE", To: "."}},
			Bin:      bin,
		}
	}
	return plugin{
		TypeMeta:   metav1.TypeMeta{APIVersion: "krew.googlecontainertools.github.com/v1alpha2", Kind: "Plugin"},
		ObjectMeta: metav1.ObjectMeta{Name: "layering"},
		Spec: pluginSpec{Version: "v1.2.3", ShortDescription: "Operate the platform",
			Platforms: []platform{pl("linux", "amd64", "kubectl-layering"), pl("windows", "amd64", "kubectl-layering.exe")}},
	}
}

// Issue 16: krew's manifest rules (krew's ValidatePlugin and krew-index's
// validate-krew-manifest), each broken once; the error says what is wrong.
func TestValidatePluginKrewRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *plugin)
		want   string // "" = valid
	}{
		{"valid", func(*plugin) {}, ""},
		{"os-only selector by expression", func(p *plugin) {
			p.Spec.Platforms = p.Spec.Platforms[:1]
			p.Spec.Platforms[0].Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "os", Operator: metav1.LabelSelectorOpIn, Values: []string{"linux", "darwin"}}}}
		}, ""},
		{"glob files with bin in a directory", func(p *plugin) {
			p.Spec.Platforms[0].Files = []fileOperation{{From: "dist/*", To: "bin"}}
			p.Spec.Platforms[0].Bin = "bin/kubectl-layering"
		}, ""},
		{"apiVersion", func(p *plugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, "apiVersion"},
		{"kind", func(p *plugin) { p.Kind = "Plugins" }, "kind"},
		{"name differs from file", func(p *plugin) { p.Name = "layer" }, "metadata.name"},
		{"short description empty", func(p *plugin) { p.Spec.ShortDescription = "" }, "shortDescription is empty"},
		{"short description two lines", func(p *plugin) { p.Spec.ShortDescription = "a\nb" }, "one line"},
		{"version without v", func(p *plugin) { p.Spec.Version = "1.2.3" }, "must start with v"},
		{"version not semver", func(p *plugin) { p.Spec.Version = "v1.2" }, "not a semantic version"},
		{"no platforms", func(p *plugin) { p.Spec.Platforms = nil }, "platforms is empty"},
		{"uri missing", func(p *plugin) { p.Spec.Platforms[0].URI = "" }, "uri is not set"},
		{"sha256 uppercase", func(p *plugin) { p.Spec.Platforms[0].Sha256 = strings.Repeat("AB", 32) }, "sha256"},
		{"sha256 short", func(p *plugin) { p.Spec.Platforms[0].Sha256 = strings.Repeat("a", 63) }, "sha256"},
		{"bin missing", func(p *plugin) { p.Spec.Platforms[0].Bin = "" }, "bin is not set"},
		{"bin not installed", func(p *plugin) { p.Spec.Platforms[1].Bin = "kubectl-layering" }, `bin "kubectl-layering" is not among the files`},
		{"files empty", func(p *plugin) { p.Spec.Platforms[0].Files = []fileOperation{} }, "files must be left out or not empty"},
		{"files from missing", func(p *plugin) { p.Spec.Platforms[0].Files[1].From = "" }, "from and to"},
		{"files to unclean", func(p *plugin) { p.Spec.Platforms[0].Files[1].To = "./doc/" }, "not a clean path"},
		{"selector missing", func(p *plugin) { p.Spec.Platforms[0].Selector = nil }, "selector is empty"},
		{"selector empty labels", func(p *plugin) { p.Spec.Platforms[0].Selector.MatchLabels = map[string]string{} }, "matchLabels is set but empty"},
		{"selector other key", func(p *plugin) { p.Spec.Platforms[0].Selector.MatchLabels["distro"] = "debian" }, `key "distro" not supported`},
		{"selector matches nothing krew runs on", func(p *plugin) { p.Spec.Platforms[0].Selector.MatchLabels["os"] = "plan9" }, "matches no platform"},
		{"selectors overlap", func(p *plugin) {
			p.Spec.Platforms[1].Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"os": "linux"}}
			p.Spec.Platforms[1].Files[0].From = "kubectl-layering.exe"
		}, "overlapping selectors: all select linux/amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validTestPlugin()
			tc.mutate(&p)
			err := validatePlugin("layering", p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// krew refuses Windows device names as plugin names.
func TestValidatePluginName(t *testing.T) {
	p := validTestPlugin()
	p.Name = "con"
	if err := validatePlugin("con", p); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("err = %v, want the name refused", err)
	}
}
