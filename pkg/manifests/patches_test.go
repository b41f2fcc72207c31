package manifests

import (
	"io/fs"
	"path"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/embedded"
)

// Every patch in the embedded tree is a JSON patch (a list of operations):
// one strategic merge makes every render parse Kustomize's built-in OpenAPI
// schema, 0.2 s of CPU on each deploy (issue 9: a no-op deploy within 0.5 s).
func TestEveryPatchIsAJSONPatchSoRenderSkipsTheOpenAPISchema(t *testing.T) {
	err := fs.WalkDir(embedded.Manifests, "manifests", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "kustomization.yaml" {
			return err
		}
		data, err := fs.ReadFile(embedded.Manifests, p)
		if err != nil {
			return err
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, patch := range k.Patches {
			body := []byte(patch.Patch)
			if patch.Path != "" {
				if body, err = fs.ReadFile(embedded.Manifests, path.Join(path.Dir(p), patch.Path)); err != nil {
					t.Fatalf("%s patch %d: %v", p, i, err)
				}
			}
			var ops []map[string]any
			if err := yaml.Unmarshal(body, &ops); err != nil || len(ops) == 0 || ops[0]["op"] == nil {
				t.Errorf("%s patch %d is a strategic merge, not a JSON patch (- op: ...)", p, i)
			}
		}
		if len(k.PatchesStrategicMerge) > 0 {
			t.Errorf("%s: patchesStrategicMerge: use JSON patches", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
