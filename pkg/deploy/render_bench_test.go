package deploy

import (
	"testing"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

// BenchmarkRender is the CPU a deploy spends before its first API call
// (issue 9: a no-op deploy within 0.5 s).
func BenchmarkRender(b *testing.B) {
	for i := 0; i < b.N; i++ {
		tree, err := manifests.Embedded()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(tree, "local", ImageOverrides{}); err != nil {
			b.Fatal(err)
		}
	}
}
