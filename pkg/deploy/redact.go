package deploy

import (
	"encoding/base64"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Redactor removes the values of an environment's Secrets, plain and base64,
// from any text the plugin shows: errors (the API server may quote a value it
// rejects), results and progress lines.
type Redactor struct{ values []string }

// minSecretLen keeps redaction from mangling ordinary text with short values.
const minSecretLen = 4

// NewRedactor collects the Secret values of objs.
func NewRedactor(objs ...*unstructured.Unstructured) *Redactor {
	r := &Redactor{}
	r.Add(objs...)
	return r
}

// Add collects the Secret values of objs.
func (r *Redactor) Add(objs ...*unstructured.Unstructured) {
	for _, o := range objs {
		if !isSecret(o) {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		for _, v := range data {
			r.add(v)
			if plain, err := base64.StdEncoding.DecodeString(v); err == nil {
				r.add(string(plain))
			}
		}
		stringData, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
		for _, v := range stringData {
			r.add(v)
			r.add(base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	// Longest first, so a value that contains another is removed whole.
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

func (r *Redactor) add(v string) {
	if len(v) >= minSecretLen {
		r.values = append(r.values, v)
	}
}

// String returns s with every known value replaced by "***".
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// Error returns err with its message redacted; errors.Is/As still see the original.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil {
		return err
	}
	if msg := r.String(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
