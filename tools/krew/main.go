// Command krew packages a release of the plugin offline, the way krew and
// krew-release-bot will see it: one archive per platform (.tar.gz, .zip on
// Windows), checksums.txt, and .krew.yaml rendered with krew-release-bot's own
// template functions (addURIAndSha hashing the local archives) into
// layering.krew.yaml, which must pass krew's manifest validation.
//
//	go -C tools run ./krew -bin ../bin/dist -out ../dist -template ../.krew.yaml -tag v0.1.0 \
//	    -license ../LICENSE -completion ../completion/kubectl_complete-layering
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var o distOptions
	flag.StringVar(&o.BinDir, "bin", "", "directory of <os>_<arch>/kubectl-layering[.exe] builds (required)")
	flag.StringVar(&o.OutDir, "out", "", "release directory to write (required)")
	flag.StringVar(&o.Template, "template", "", "krew-release-bot template, .krew.yaml (required)")
	flag.StringVar(&o.Tag, "tag", "", "release tag, v<semver> (required)")
	flag.StringVar(&o.License, "license", "", "LICENSE file put in every archive (required)")
	flag.StringVar(&o.Completion, "completion", "", "kubectl completion script put in non-Windows archives (required)")
	flag.Parse()
	if o.BinDir == "" || o.OutDir == "" || o.Template == "" || o.Tag == "" || o.License == "" || o.Completion == "" {
		fmt.Fprintln(os.Stderr, "krew: -bin, -out, -template, -tag, -license and -completion are required")
		flag.Usage()
		os.Exit(2)
	}
	files, err := packageDist(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(filepath.Join(o.OutDir, f))
	}
}
