package verify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ingress: the Ingress has an address, and /health through it answers when reachable.
func (v *Verifier) ingress(ctx context.Context) []Result {
	ingresses := rendered[networkingv1.Ingress](v, "Ingress")
	if len(ingresses) == 0 {
		return []Result{{"ingress", "-", Skip, "this environment has no Ingress", ""}}
	}
	client := v.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	var out []Result
	for _, want := range ingresses {
		subject := "ingress/" + want.Name
		ing, err := v.Kube.NetworkingV1().Ingresses(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Result{"ingress", subject, Fail, err.Error(), ""})
			continue
		}
		if len(ing.Status.LoadBalancer.Ingress) == 0 {
			out = append(out, Result{"ingress", subject, Fail, "no address yet", "is the AWS Load Balancer Controller running? kubectl -n kube-system logs deploy/aws-load-balancer-controller"})
			continue
		}
		addr := ing.Status.LoadBalancer.Ingress[0].Hostname
		if addr == "" {
			addr = ing.Status.LoadBalancer.Ingress[0].IP
		}
		scheme := "http"
		if len(ing.Spec.TLS) > 0 || ing.Annotations["alb.ingress.kubernetes.io/certificate-arn"] != "" {
			scheme = "https"
		}
		target := (&url.URL{Scheme: scheme, Host: addr, Path: "/health"}).String()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			out = append(out, Result{"ingress", subject, Fail, "address " + addr + " makes no URL: " + err.Error(), ""})
			continue
		}
		resp, err := client.Do(req)
		switch {
		case err != nil:
			out = append(out, Result{"ingress", subject, Skip, "address " + addr + ", but " + target + " is not reachable from here: " + err.Error(), ""})
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			out = append(out, Result{"ingress", subject, Fail, fmt.Sprintf("%s answered %d", target, resp.StatusCode), "check the ALB's target group health"})
		default:
			resp.Body.Close()
			out = append(out, Result{"ingress", subject, Pass, target + " answered 200", ""})
		}
	}
	return out
}
