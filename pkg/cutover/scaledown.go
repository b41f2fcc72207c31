package cutover

import (
	"context"
	"fmt"
	"sort"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ScaleDown returns what rollback --to-ecs --scale-down runs once no traffic
// reaches the environment: every Deployment of the namespace to 0 replicas.
// An HPA leaves a target at 0 alone ("scaling is disabled since the replica
// count of the target is zero"); kubectl scale brings it back.
func ScaleDown(kube kubernetes.Interface, ns string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		var done []string
		for _, d := range list.Items {
			scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: ns, ResourceVersion: ""}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
			if _, err := kube.AppsV1().Deployments(ns).UpdateScale(ctx, d.Name, scale, metav1.UpdateOptions{}); err != nil {
				return strings.Join(done, ", "), fmt.Errorf("scaling deployment %s/%s to 0: %w", ns, d.Name, err)
			}
			from := int32(1)
			if d.Spec.Replicas != nil {
				from = *d.Spec.Replicas
			}
			done = append(done, fmt.Sprintf("%s %d → 0", d.Name, from))
		}
		sort.Strings(done)
		return strings.Join(done, ", ") + fmt.Sprintf(" (back: kubectl scale deployment --all --replicas=1 -n %s)", ns), nil
	}
}
