package verify

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// claimsBound: every claim of the manifests exists, is Bound and is not being deleted.
func (v *Verifier) claimsBound(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[corev1.PersistentVolumeClaim](v, "PersistentVolumeClaim") {
		pvc, err := v.Kube.CoreV1().PersistentVolumeClaims(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		out = append(out, judgeClaim(want.Name, pvc, err, v.Env, v.Namespace))
	}
	return out
}

func judgeClaim(name string, pvc *corev1.PersistentVolumeClaim, err error, env, namespace string) Result {
	subject := "pvc/" + name
	switch {
	case err != nil:
		return Result{"volumes", subject, Fail, err.Error(), "kubectl layering deploy --env " + env + " recreates it"}
	case pvc.DeletionTimestamp != nil:
		return Result{"volumes", subject, Fail, "being deleted (kept only while pods still use it)", "kubectl layering deploy --env " + env + " recreates it once the pods let go"}
	case pvc.Status.Phase != corev1.ClaimBound:
		return Result{"volumes", subject, Fail, fmt.Sprintf("%s, not Bound", pvc.Status.Phase), "kubectl -n " + namespace + " describe pvc " + name}
	default:
		return Result{"volumes", subject, Pass, "Bound to " + pvc.Spec.VolumeName, ""}
	}
}
