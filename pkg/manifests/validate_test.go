package manifests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"
	"sigs.k8s.io/yaml"
)

// allTargets are every kustomization the plugin renders: the four environments and monitoring.
var allTargets = []string{"overlays/dev", "overlays/staging", "overlays/prod", "overlays/local", "monitoring"}

func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	tree, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tree.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(m)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

var (
	schemeOnce sync.Once
	scheme     *runtime.Scheme
)

// typedScheme knows every kind the manifests may contain: Kubernetes' own and ESO's.
func typedScheme(t *testing.T) *runtime.Scheme {
	schemeOnce.Do(func() {
		scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		if err := esv1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
	})
	return scheme
}

// Requirement: every object of every overlay decodes strictly into its typed Go
// struct (unknown or duplicate fields fail), the ESO objects included; kinds
// without Go types here (the TargetGroupBinding) have no field their CRD lacks.
func TestEveryObjectDecodesStrictlyIntoItsType(t *testing.T) {
	decoder := serializer.NewCodecFactory(typedScheme(t), serializer.EnableStrict).UniversalDeserializer()
	untyped := crdSchemas(t, testCRDs(t))
	for _, dir := range allTargets {
		t.Run(dir, func(t *testing.T) {
			for _, u := range render(t, dir) {
				if s, ok := untyped[u.GroupVersionKind()]; ok {
					for _, f := range unknownFields(u.Object, s, "") {
						t.Errorf("%s %s: unknown field %s", u.GetKind(), u.GetName(), f)
					}
					continue
				}
				data, err := json.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := decoder.Decode(data, nil, nil); err != nil {
					t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
		})
	}
}

// Requirement: no placeholder of the shared manifests survives into an environment.
func TestNoPlaceholderSurvivesRendering(t *testing.T) {
	placeholder := regexp.MustCompile(`\b(ACCOUNT|REGION|ENV|FILESYSTEM|ACCESSPOINT|CERTIFICATE|ALBNAME)\b`)
	for _, dir := range allTargets {
		for _, u := range render(t, dir) {
			data, _ := yaml.Marshal(u.Object)
			if m := placeholder.Find(data); m != nil {
				t.Errorf("%s: %s %s still holds placeholder %s", dir, u.GetKind(), u.GetName(), m)
			}
		}
	}
}

// goModuleDir returns where the Go module cache holds module, as required by
// the go.mod in dir. Offline: a test downloads nothing (GOPROXY=off answers from
// the cache only); `make deps` (run by make test) fills the cache beforehand.
func goModuleDir(t *testing.T, dir, module string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off")
	out, _ := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("%s is not in the Go module cache (%s %v): run `make deps` once, online", module, info.Error, err)
	}
	return info.Dir
}

// kubernetesOpenAPI loads the OpenAPI v2 schema of the Kubernetes version the
// project pins (the local cluster's tools module requires k8s.io/kubernetes).
func kubernetesOpenAPI(t *testing.T) kubectlopenapi.Resources {
	t.Helper()
	dir := goModuleDir(t, filepath.Join("..", "..", "local-cluster", "k8s-build"), "k8s.io/kubernetes")
	data, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	resources, err := kubectlopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	return resources
}

// esoSchemas loads the structural schemas of the ESO CRDs, per served
// version, and of the test CRDs of controllers without a Go module here.
func esoSchemas(t *testing.T) map[schema.GroupVersionKind]*spec.Schema {
	t.Helper()
	dir := goModuleDir(t, ".", "github.com/external-secrets/external-secrets")
	files, err := filepath.Glob(filepath.Join(dir, "config", "crds", "bases", "external-secrets.io_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ESO CRDs under %s: %v", dir, err)
	}
	return crdSchemas(t, append(files, testCRDs(t)...))
}

// testCRDs are test/crds/*.yaml: minimal CRDs of the AWS Load Balancer
// Controller, whose Go module is not a dependency.
func testCRDs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under test/crds: %v", err)
	}
	return files
}

// unknownFields lists the fields of obj that schema s does not define.
func unknownFields(obj any, s *spec.Schema, path string) []string {
	var out []string
	switch v := obj.(type) {
	case map[string]any:
		if len(s.Properties) == 0 {
			return nil // a free-form object (metadata, maps)
		}
		for k, child := range v {
			p, ok := s.Properties[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, unknownFields(child, &p, path+"."+k)...)
		}
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for _, child := range v {
				out = append(out, unknownFields(child, s.Items.Schema, path+"[]")...)
			}
		}
	}
	return out
}

// crdSchemas loads the structural schemas of CRD files, per served version.
func crdSchemas(t *testing.T, files []string) map[schema.GroupVersionKind]*spec.Schema {
	t.Helper()
	schemas := map[schema.GroupVersionKind]*spec.Schema{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, v := range crd.Spec.Versions {
			raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
			if err != nil {
				t.Fatal(err)
			}
			s := new(spec.Schema)
			if err := json.Unmarshal(raw, s); err != nil {
				t.Fatal(err)
			}
			schemas[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = s
		}
	}
	return schemas
}

// Requirement: the rendered objects validate offline against the OpenAPI schema
// of the pinned Kubernetes version, and CRD-backed objects against the ESO CRDs.
func TestRenderedObjectsValidateAgainstOpenAPI(t *testing.T) {
	core := kubernetesOpenAPI(t)
	crds := esoSchemas(t)
	for _, dir := range allTargets {
		t.Run(dir, func(t *testing.T) {
			for _, u := range render(t, dir) {
				gvk := u.GroupVersionKind()
				what := gvk.Kind + " " + u.GetName()
				if s, ok := crds[gvk]; ok {
					if res := validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(u.Object); !res.IsValid() {
						t.Errorf("%s: %v", what, res.Errors)
					}
					continue
				}
				model := core.LookupResource(gvk)
				if model == nil {
					t.Errorf("%s: %s is neither in the Kubernetes %s schema nor a CRD (ESO's, test/crds)", what, gvk, "v1.32")
					continue
				}
				if errs := protovalidation.ValidateModel(u.Object, model, gvk.Kind); len(errs) > 0 {
					t.Errorf("%s: %v", what, errs)
				}
			}
		})
	}
}

// Requirement: the validators reject what they must, so a green run means something.
func TestValidatorsRejectInvalidObjects(t *testing.T) {
	tgb := crdSchemas(t, testCRDs(t))[schema.GroupVersionKind{Group: "elbv2.k8s.aws", Version: "v1beta1", Kind: "TargetGroupBinding"}]
	misspelt := map[string]any{"spec": map[string]any{"targetGroupNmae": "x", "serviceRef": map[string]any{"name": "s", "port": int64(1)}}}
	if got := unknownFields(misspelt, tgb, ""); len(got) != 1 || got[0] != ".spec.targetGroupNmae" {
		t.Errorf("a misspelt TargetGroupBinding field: %v", got)
	}
	core := kubernetesOpenAPI(t)
	bad := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"replicas": "two", "bogus": true,
			"selector": map[string]any{}, "template": map[string]any{}},
	}
	var model proto.Schema = core.LookupResource(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	errs := protovalidation.ValidateModel(bad, model, "Deployment")
	joined := ""
	for _, e := range errs {
		joined += e.Error() + "\n"
	}
	for _, want := range []string{"replicas", `unknown field "bogus"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("OpenAPI validation of a broken Deployment did not report %q; got:\n%s", want, joined)
		}
	}

	crds := esoSchemas(t)
	es := map[string]any{"spec": map[string]any{"refreshInterval": 5, "data": "not-a-list"}}
	s := crds[schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "ExternalSecret"}]
	if s == nil {
		t.Fatal("the ESO CRDs carry no external-secrets.io/v1 ExternalSecret")
	}
	if res := validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(es); res.IsValid() {
		t.Error("CRD validation accepted an ExternalSecret whose data is a string")
	}

	decoder := serializer.NewCodecFactory(typedScheme(t), serializer.EnableStrict).UniversalDeserializer()
	if _, _, err := decoder.Decode([]byte(`{"apiVersion":"external-secrets.io/v1","kind":"SecretStore","metadata":{"name":"x"},"spec":{"provder":{}}}`), nil, nil); err == nil {
		t.Error("strict decoding accepted a SecretStore with a misspelt field")
	}
}

// Requirement: rendered objects are usable as client-go objects (deep-copyable,
// JSON-typed values), as deploy and the dynamic client need them.
func TestObjectsAreDeepCopyable(t *testing.T) {
	for _, dir := range allTargets {
		for _, u := range render(t, dir) {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: %s %s cannot be deep-copied: %v", dir, u.GetKind(), u.GetName(), r)
					}
				}()
				_ = u.DeepCopy()
			}()
		}
	}
}
