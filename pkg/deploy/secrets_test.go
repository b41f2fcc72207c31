package deploy

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const apiKey = "s3cr3t-api-key-value"

func secret(data, stringData map[string]any) *unstructured.Unstructured {
	u := obj("v1", "Secret", "ns", "api")
	if data != nil {
		_ = unstructured.SetNestedMap(u.Object, data, "data")
	}
	if stringData != nil {
		_ = unstructured.SetNestedMap(u.Object, stringData, "stringData")
	}
	return u
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Requirement (issue 9, correctness 1): diff never shows a Secret value, plain
// or base64; changed values show as kubectl diff shows them.
func TestDiffMasksSecrets(t *testing.T) {
	live := secret(map[string]any{"API_KEY": b64(apiKey), "SAME": b64("unchanged-value")}, nil)
	live.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"API_KEY":"` + b64(apiKey) + `"}}`})
	merged := secret(map[string]any{"API_KEY": b64("new-key-value-2"), "SAME": b64("unchanged-value")}, nil)
	d, err := objectDiff("secret/api", live, merged)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{string(d.Live), string(d.Merged)} {
		for _, v := range []string{apiKey, b64(apiKey), "new-key-value-2", b64("new-key-value-2"), "unchanged-value", b64("unchanged-value")} {
			if strings.Contains(side, v) {
				t.Errorf("diff shows a secret value %q:\n%s", v, side)
			}
		}
	}
	if !strings.Contains(string(d.Live), "API_KEY: '*** (before)'") || !strings.Contains(string(d.Merged), "API_KEY: '*** (after)'") {
		t.Errorf("a changed value is not marked before/after:\n%s\n%s", d.Live, d.Merged)
	}
	if !strings.Contains(string(d.Merged), "SAME: '***'") {
		t.Errorf("an unchanged value is not masked as ***:\n%s", d.Merged)
	}
}

// Requirement: a rendered Secret (stringData, not yet merged by the server) and a pruned Secret are masked too.
func TestDiffMasksStringDataAndPrunedSecrets(t *testing.T) {
	d, err := objectDiff("secret/api", nil, secret(nil, map[string]any{"API_KEY": apiKey}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(d.Merged), apiKey) || !strings.Contains(string(d.Merged), "API_KEY: '***'") {
		t.Errorf("stringData not masked:\n%s", d.Merged)
	}
	d, err = objectDiff("secret/api", secret(map[string]any{"API_KEY": b64(apiKey)}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(d.Live), b64(apiKey)) || len(d.Merged) != 0 {
		t.Errorf("pruned secret: live shows the value or merged is not empty:\n%s\n%s", d.Live, d.Merged)
	}
}

// Requirement: no Secret value in any error, result or progress line, plain or base64.
func TestRedactor(t *testing.T) {
	r := NewRedactor(secret(map[string]any{"API_KEY": b64(apiKey)}, map[string]any{"OTHER": "other-plain-value"}), obj("v1", "ConfigMap", "ns", "c"))
	base := errors.New(`Secret "api" is invalid: data[API_KEY]: Invalid value: "` + b64(apiKey) + `" (` + apiKey + `), other-plain-value ` + b64("other-plain-value"))
	err := r.Error(&InputError{base})
	for _, v := range []string{apiKey, b64(apiKey), "other-plain-value", b64("other-plain-value")} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("redacted error still shows %q: %s", v, err)
		}
	}
	var input *InputError
	if !errors.As(err, &input) {
		t.Error("redaction lost the error's type (and so its exit code)")
	}
	res := &Result{Error: "x " + apiKey, Failures: []Failure{{"o", "reason " + b64(apiKey)}}}
	res.redact(r)
	if strings.Contains(res.Error+res.Failures[0].Reason, apiKey) || strings.Contains(res.Failures[0].Reason, b64(apiKey)) {
		t.Errorf("result not redacted: %+v", res)
	}
}
