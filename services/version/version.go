// Package version reports the services' build version, set at link time by the Makefile.
package version

// Set with -ldflags "-X github.com/layering-detection/kubectl-layering/services/version.Version=…".
var (
	Version = "dev"
	Commit  = "unknown"
)
