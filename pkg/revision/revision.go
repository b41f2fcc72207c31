// Package revision records each successful deploy of an environment in the
// cluster, so that rollback can return to it: what was applied (the rendered
// manifests), from which images, when and by whom. History is bounded.
package revision

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// Label keys; revisions are never pruned (prune selects !LabelRevision).
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelEnvironment = "layering-detection.io/environment"
	LabelRevision    = "layering-detection.io/revision"
	ManagedBy        = "kubectl-layering"
	secretType       = corev1.SecretType("kubectl-layering.io/revision")
	// History keeps this many revisions per environment.
	History = 10
)

// Revision describes one successful deploy.
type Revision struct {
	Number int               `json:"number"`
	Env    string            `json:"env"`
	Digest string            `json:"digest"` // sha256 of the applied manifests
	Images map[string]string `json:"images"` // service -> image reference
	Time   time.Time         `json:"time"`
	User   string            `json:"user"`
	// What made it: "deploy", "rollback to 3", "atomic rollback after failed deploy of …".
	Description string `json:"description,omitempty"`
	// RollbackOf is the revision a rollback returned to (0: not a rollback).
	RollbackOf int    `json:"rollbackOf,omitempty"`
	Manifest   []byte `json:"-"` // the rendered YAML that was applied
}

// Digest is the manifest digest recorded with a revision.
func Digest(manifest []byte) string {
	sum := sha256.Sum256(manifest)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Store keeps revisions as Secrets in the environment's namespace.
type Store struct {
	Kube      kubernetes.Interface
	Namespace string
}

func name(n int) string { return fmt.Sprintf("kubectl-layering-revision-%d", n) }

// List returns the recorded revisions, newest first, with their manifests if asked.
func (s *Store) List(ctx context.Context, env string, withManifests bool) ([]Revision, error) {
	secrets, err := s.list(ctx, env)
	if err != nil {
		return nil, err
	}
	out := make([]Revision, 0, len(secrets))
	for i := range secrets {
		r, err := decode(&secrets[i], withManifests)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Get returns one revision with its manifests.
func (s *Store) Get(ctx context.Context, number int) (Revision, error) {
	secret, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, name(number), metav1.GetOptions{})
	if err != nil {
		return Revision{}, err
	}
	return decode(secret, true)
}

// Latest returns the newest revision of env with its manifests; ok is false
// when there is none.
func (s *Store) Latest(ctx context.Context, env string) (Revision, bool, error) {
	secrets, err := s.list(ctx, env)
	if err != nil || len(secrets) == 0 {
		return Revision{}, false, err
	}
	r, err := decode(&secrets[0], true)
	return r, err == nil, err
}

// Record stores r as the next revision and trims the history to History
// entries. Deploying what the latest revision holds again records nothing:
// repeated no-op deploys must not push real releases out of the history. A
// rollback is always recorded (Helm's semantics: 5 → 3 records 6).
func (s *Store) Record(ctx context.Context, r Revision) (Revision, error) {
	existing, err := s.list(ctx, r.Env)
	if err != nil {
		return r, err
	}
	r.Number = 1
	if len(existing) > 0 {
		latest, err := decode(&existing[0], false)
		if err != nil {
			return r, err
		}
		if latest.Digest == r.Digest && r.RollbackOf == 0 {
			return latest, nil
		}
		r.Number = latest.Number + 1
	}
	meta, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(r.Manifest); err != nil {
		return r, err
	}
	if err := zw.Close(); err != nil {
		return r, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name(r.Number),
			Namespace: s.Namespace,
			Labels:    map[string]string{LabelManagedBy: ManagedBy, LabelEnvironment: r.Env, LabelRevision: strconv.Itoa(r.Number)},
		},
		Type: secretType,
		Data: map[string][]byte{"revision.json": meta, "manifest.yaml.gz": gz.Bytes()},
	}
	if _, err := s.Kube.CoreV1().Secrets(s.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return r, fmt.Errorf("recording revision %d: %w", r.Number, err)
	}
	for _, old := range append([]corev1.Secret{*secret}, existing...)[min(History, len(existing)+1):] {
		if err := s.Kube.CoreV1().Secrets(s.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return r, fmt.Errorf("trimming revision history: %w", err)
		}
	}
	return r, nil
}

// list returns the revision Secrets of env, newest first.
func (s *Store) list(ctx context.Context, env string) ([]corev1.Secret, error) {
	secrets, err := s.Kube.CoreV1().Secrets(s.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: fmt.Sprintf("%s=%s,%s=%s,%s", LabelManagedBy, ManagedBy, LabelEnvironment, env, LabelRevision),
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	items := secrets.Items
	number := func(i int) int { n, _ := strconv.Atoi(items[i].Labels[LabelRevision]); return n }
	sort.Slice(items, func(i, j int) bool { return number(i) > number(j) })
	return items, nil
}

func decode(secret *corev1.Secret, withManifest bool) (Revision, error) {
	var r Revision
	if err := json.Unmarshal(secret.Data["revision.json"], &r); err != nil {
		return r, fmt.Errorf("revision %s: %w", secret.Name, err)
	}
	if withManifest {
		zr, err := gzip.NewReader(bytes.NewReader(secret.Data["manifest.yaml.gz"]))
		if err != nil {
			return r, fmt.Errorf("revision %s: %w", secret.Name, err)
		}
		if r.Manifest, err = io.ReadAll(zr); err != nil {
			return r, fmt.Errorf("revision %s: %w", secret.Name, err)
		}
	}
	return r, nil
}
