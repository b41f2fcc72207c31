// Package version reports the build's version, set at link time by the Makefile.
package version

// Set with -ldflags "-X github.com/layering-detection/kubectl-layering/pkg/version.Version=…".
var (
	Version = "dev"
	Commit  = "unknown"
)
