package cutover

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// RecordName is the ConfigMap, in the environment's namespace, that holds
// the listener rules as this plugin last wrote them: a later run compares
// the live rules with it to notice changes made by someone else.
const RecordName = "kubectl-layering-cutover"

// Record is the rules as last written, by what and when.
type Record struct {
	Rules []Rule    `json:"rules"`
	By    string    `json:"by"` // e.g. "cutover --to eks: 25 %"
	At    time.Time `json:"at"`
}

// RecordStore keeps the record.
type RecordStore interface {
	Load(ctx context.Context) (*Record, error) // nil when there is none
	Save(ctx context.Context, r *Record) error
}

// ConfigMapStore keeps the record in a ConfigMap the plugin owns.
type ConfigMapStore struct {
	Kube      kubernetes.Interface
	Namespace string
	Env       string
}

func (s *ConfigMapStore) Load(ctx context.Context) (*Record, error) {
	cm, err := s.Kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, RecordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cutover record (ConfigMap %s/%s): %w", s.Namespace, RecordName, err)
	}
	var r Record
	if err := json.Unmarshal([]byte(cm.Data["record.json"]), &r); err != nil {
		return nil, fmt.Errorf("the cutover record (ConfigMap %s/%s) is not readable (%v): delete it, then re-run with --accept-live-rules", s.Namespace, RecordName, err)
	}
	return &r, nil
}

func (s *ConfigMapStore) Save(ctx context.Context, r *Record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RecordName, Namespace: s.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-layering", "layering-detection.io/environment": s.Env}},
		Data: map[string]string{"record.json": string(data)},
	}
	cms := s.Kube.CoreV1().ConfigMaps(s.Namespace)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("writing the cutover record (ConfigMap %s/%s): %w", s.Namespace, RecordName, err)
		}
	} else if err != nil {
		return fmt.Errorf("writing the cutover record (ConfigMap %s/%s): %w", s.Namespace, RecordName, err)
	}
	return nil
}
