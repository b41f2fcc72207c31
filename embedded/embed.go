// Package embedded carries the Kustomize tree the plugin deploys, compiled into
// the binary so that a krew-installed plugin needs no files beside it.
package embedded

import "embed"

// Manifests holds manifests/: base, services, components and one overlay per environment.
//
//go:embed manifests
var Manifests embed.FS
