package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
)

// LogGroup is where Fluent Bit ships a service's logs: the ECS deployment's
// group (ecs-baseline), so both platforms' logs sit side by side during the
// migration. The monitoring bundle's log_group_template names the same
// (pkg/verify's config test parses it).
func LogGroup(service string) string { return "/ecs/layering-detection/" + service }

// LogStreamPrefix starts the streams of one environment's pods: Fluent Bit
// names them ecs/<namespace>/<pod>, the ECS tasks' awslogs streams are
// ecs/<container>/<task id>.
func LogStreamPrefix(namespace string) string { return "ecs/" + namespace + "/" }

// Logging is what the logging check needs besides the cluster.
type Logging struct {
	DaemonSet, Namespace string        // Fluent Bit's, as the monitoring bundle renders it
	Logs                 LogsAPI       // nil when AWS cannot be reached: NoAWS says why
	NoAWS                string        // why the log groups are not read
	Window               time.Duration // how recent an event must be
	Now                  func() time.Time
}

// LogsAPI is the CloudWatch Logs call the check makes.
type LogsAPI = cloudwatchlogs.FilterLogEventsAPIClient

// maxFilterPages bounds the search of one group: FilterLogEvents may answer
// an empty page with a token while it has not searched every stream yet.
const maxFilterPages = 20

// logging: the Fluent Bit DaemonSet is ready on every node, and each service's
// log group holds events of this environment's pods from the last Window.
func (v *Verifier) logging(ctx context.Context) []Result {
	if v.Logging == nil {
		return []Result{{"logging", "log shipping", Fail, "the logging check was not configured", ""}}
	}
	out := []Result{v.loggingDaemonSet(ctx)}
	return append(out, v.logGroups(ctx)...)
}

func (v *Verifier) loggingDaemonSet(ctx context.Context) Result {
	l := v.Logging
	subject := "daemonset/" + l.DaemonSet
	ds, err := v.Kube.AppsV1().DaemonSets(l.Namespace).Get(ctx, l.DaemonSet, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Result{"logging", subject, Fail, fmt.Sprintf("no DaemonSet %s in namespace %s: nothing ships the pods' logs", l.DaemonSet, l.Namespace),
			"kubectl layering deploy --monitoring --env " + v.Env}
	}
	if err != nil {
		return Result{"logging", subject, Fail, err.Error(), ""}
	}
	nodes, err := v.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Result{"logging", subject, Fail, "listing nodes: " + err.Error(), ""}
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return Result{"logging", subject, Fail, "the DaemonSet's pod selector: " + err.Error(), ""}
	}
	pods, err := v.Kube.CoreV1().Pods(l.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return Result{"logging", subject, Fail, "listing its pods: " + err.Error(), ""}
	}
	return judgeDaemonSet(ds, nodes.Items, pods.Items)
}

// judgeDaemonSet wants a ready pod of ds on every node. Nodes that are
// themselves not Ready only warn: their pods run nothing to ship.
func judgeDaemonSet(ds *appsv1.DaemonSet, nodes []corev1.Node, pods []corev1.Pod) Result {
	subject := "daemonset/" + ds.Name
	hint := fmt.Sprintf("kubectl -n %s describe daemonset %s; kubectl -n %s logs daemonset/%s", ds.Namespace, ds.Name, ds.Namespace, ds.Name)
	onNode := map[string]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || !ownedBy(p, ds) {
			continue
		}
		if prev := onNode[p.Spec.NodeName]; prev == nil || podReady(p) {
			onNode[p.Spec.NodeName] = p
		}
	}
	var missing, missingOnDownNodes []string
	for _, n := range nodes {
		p := onNode[n.Name]
		if p != nil && podReady(p) {
			continue
		}
		why := "no pod"
		if p != nil {
			if why = deploy.PodProblem(p, false); why == "" {
				why = fmt.Sprintf("pod %s not ready (%s)", p.Name, p.Status.Phase)
			}
		}
		if nodeReady(&n) {
			missing = append(missing, n.Name+": "+why)
		} else {
			missingOnDownNodes = append(missingOnDownNodes, n.Name+" (node not Ready): "+why)
		}
	}
	ready := len(nodes) - len(missing) - len(missingOnDownNodes)
	switch {
	case len(missing) > 0:
		return Result{"logging", subject, Fail, fmt.Sprintf("ready on %d of %d nodes (namespace %s); not on %s", ready, len(nodes), ds.Namespace, strings.Join(append(missing, missingOnDownNodes...), "; ")), hint}
	case len(missingOnDownNodes) > 0:
		return Result{"logging", subject, Warn, fmt.Sprintf("ready on %d of %d nodes (namespace %s); not on %s", ready, len(nodes), ds.Namespace, strings.Join(missingOnDownNodes, "; ")), hint}
	}
	return Result{"logging", subject, Pass, fmt.Sprintf("ready on all %d nodes (namespace %s)", len(nodes), ds.Namespace), ""}
}

func ownedBy(p *corev1.Pod, ds *appsv1.DaemonSet) bool {
	for _, ref := range p.OwnerReferences {
		if ref.Kind == "DaemonSet" && ref.Name == ds.Name && (ds.UID == "" || ref.UID == ds.UID) {
			return true
		}
	}
	return false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// logGroups reads each service's log group concurrently.
func (v *Verifier) logGroups(ctx context.Context) []Result {
	l := v.Logging
	services := v.services()
	out := make([]Result, len(services))
	if l.Logs == nil {
		for i, s := range services {
			out[i] = Result{"logging", "log group " + LogGroup(s), Skip, "AWS cannot be reached from here: " + l.NoAWS,
				"set AWS_PROFILE or AWS credentials and AWS_REGION (AWS_ENDPOINT_URL for another endpoint)"}
		}
		return out
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	since := now.Add(-l.Window)
	prefix := LogStreamPrefix(v.Namespace)
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := firstEventSince(ctx, l.Logs, LogGroup(s), prefix, since)
			out[i] = judgeLogGroup(LogGroup(s), prefix, l.Window, now, ev, err)
		}()
	}
	wg.Wait()
	return out
}

// services are the environment's services, by their Deployments' app.kubernetes.io/name.
func (v *Verifier) services() []string {
	var out []string
	for _, d := range rendered[appsv1.Deployment](v, "Deployment") {
		if s := d.Labels["app.kubernetes.io/name"]; s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// firstEventSince returns the oldest event since start in the group's streams
// of that prefix, or nil. FilterLogEvents, not DescribeLogStreams: it reads
// events by their time within one environment's streams (DescribeLogStreams
// cannot order by time under a prefix, and its lastEventTimestamp lags by up
// to an hour), and it does not count the ECS tasks logging into the same groups.
func firstEventSince(ctx context.Context, api LogsAPI, group, prefix string, start time.Time) (*logstypes.FilteredLogEvent, error) {
	p := cloudwatchlogs.NewFilterLogEventsPaginator(api, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(group), LogStreamNamePrefix: aws.String(prefix),
		StartTime: aws.Int64(start.UnixMilli()), Limit: aws.Int32(1),
	})
	for pages := 0; p.HasMorePages() && pages < maxFilterPages; pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		if len(out.Events) > 0 {
			return &out.Events[0], nil
		}
	}
	return nil, nil
}

// judgeLogGroup turns what FilterLogEvents found into the group's result.
func judgeLogGroup(group, prefix string, window time.Duration, now time.Time, ev *logstypes.FilteredLogEvent, err error) Result {
	subject := "log group " + group
	var notFound *logstypes.ResourceNotFoundException
	var setup *awsconfig.SetupError
	var netErr *net.OpError
	switch {
	case errors.As(err, &notFound):
		return Result{"logging", subject, Fail, "the log group does not exist", "Fluent Bit creates it (auto_create_group) with its first line: is it running? Or is this the account and region of the cluster?"}
	case errors.As(err, &netErr):
		return Result{"logging", subject, Skip, awsconfig.Explain(err).Error(), "check AWS_ENDPOINT_URL, AWS_REGION and the network"}
	case err != nil && errors.As(awsconfig.Explain(err), &setup):
		return Result{"logging", subject, Fail, awsconfig.Explain(err).Error(), "the verify policy: docs/iam/verify-logging-policy.json"}
	case err != nil:
		return Result{"logging", subject, Fail, awsconfig.Explain(err).Error(), ""}
	case ev == nil:
		return Result{"logging", subject, Fail, fmt.Sprintf("no events from this environment's pods (streams %s…) in the last %s", prefix, window),
			"is Fluent Bit shipping from their nodes (its logs)? An idle service may log nothing: send it a request, or widen --log-window"}
	}
	at := time.UnixMilli(aws.ToInt64(ev.Timestamp)).UTC()
	return Result{"logging", subject, Pass, fmt.Sprintf("events in the last %s: one at %s (%s ago) in stream %s",
		window, at.Format(time.RFC3339), now.Sub(at).Round(time.Second), aws.ToString(ev.LogStreamName)), ""}
}
