package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

func fluentBit() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "fluent-bit", Namespace: "amazon-cloudwatch", UID: "ds-uid"}}
}

func node(name string, ready bool) corev1.Node {
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
}

func fluentBitPod(name, nodeName string, ready bool, waiting string) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "amazon-cloudwatch",
			OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "fluent-bit", UID: k8stypes.UID("ds-uid")}}},
		Spec:   corev1.PodSpec{NodeName: nodeName},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
	if waiting != "" {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "fluent-bit", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting, Message: "back-off pulling image"}}}}
	}
	return p
}

// Requirement (issue 12): verify --check logging wants a ready Fluent Bit pod
// on every node and names each node without one, with the pod's reason.
func TestJudgeDaemonSet(t *testing.T) {
	for _, c := range []struct {
		name   string
		nodes  []corev1.Node
		pods   []corev1.Pod
		status Status
		want   []string
	}{
		{"ready everywhere", []corev1.Node{node("a", true), node("b", true)},
			[]corev1.Pod{fluentBitPod("fb-1", "a", true, ""), fluentBitPod("fb-2", "b", true, "")}, Pass, []string{"ready on all 2 nodes"}},
		{"one node without a pod", []corev1.Node{node("a", true), node("b", true)},
			[]corev1.Pod{fluentBitPod("fb-1", "a", true, "")}, Fail, []string{"ready on 1 of 2 nodes", "b: no pod"}},
		{"image cannot be pulled", []corev1.Node{node("a", true)},
			[]corev1.Pod{fluentBitPod("fb-1", "a", false, "ImagePullBackOff")}, Fail, []string{"ready on 0 of 1 nodes", "a: pod fb-1 container fluent-bit: ImagePullBackOff"}},
		{"a replaced pod beside a ready one", []corev1.Node{node("a", true)},
			[]corev1.Pod{fluentBitPod("fb-new", "a", true, ""), fluentBitPod("fb-old", "a", false, "")}, Pass, []string{"ready on all 1 nodes"}},
		{"only a node that is down", []corev1.Node{node("a", true), node("b", false)},
			[]corev1.Pod{fluentBitPod("fb-1", "a", true, "")}, Warn, []string{"b (node not Ready): no pod"}},
		{"someone else's pod does not count", []corev1.Node{node("a", true)},
			[]corev1.Pod{func() corev1.Pod {
				p := fluentBitPod("other", "a", true, "")
				p.OwnerReferences[0].UID = "other"
				return p
			}()}, Fail, []string{"a: no pod"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := judgeDaemonSet(fluentBit(), c.nodes, c.pods)
			if r.Status != c.status || r.Subject != "daemonset/fluent-bit" {
				t.Errorf("status %s subject %s, want %s: %s", r.Status, r.Subject, c.status, r.Reason)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Reason, w) {
					t.Errorf("reason %q lacks %q", r.Reason, w)
				}
			}
		})
	}
}

// pages answers FilterLogEvents from a script of pages, recording the requests.
type pages struct {
	script []cloudwatchlogs.FilterLogEventsOutput
	err    error
	seen   []*cloudwatchlogs.FilterLogEventsInput
}

func (p *pages) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	p.seen = append(p.seen, in)
	if p.err != nil {
		return nil, p.err
	}
	out := p.script[len(p.seen)-1]
	return &out, nil
}

// Requirement (issue 12): an empty page with a token is not "no events":
// FilterLogEvents may answer so before it has searched every stream. The
// search asks for this environment's streams since the window's start.
func TestFirstEventSinceFollowsEmptyPages(t *testing.T) {
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	api := &pages{script: []cloudwatchlogs.FilterLogEventsOutput{
		{NextToken: aws.String("1")},
		{NextToken: aws.String("2")},
		{Events: []logstypes.FilteredLogEvent{{LogStreamName: aws.String("ecs/ns/pod"), Timestamp: aws.Int64(start.UnixMilli() + 1000)}}, NextToken: aws.String("3")},
	}}
	ev, err := firstEventSince(context.Background(), api, "/ecs/layering-detection/layering", "ecs/ns/", start)
	if err != nil || ev == nil || aws.ToString(ev.LogStreamName) != "ecs/ns/pod" {
		t.Fatalf("event %v, err %v", ev, err)
	}
	if len(api.seen) != 3 {
		t.Errorf("%d calls, want 3 (stop at the first event)", len(api.seen))
	}
	in := api.seen[0]
	if aws.ToString(in.LogGroupName) != "/ecs/layering-detection/layering" || aws.ToString(in.LogStreamNamePrefix) != "ecs/ns/" || aws.ToInt64(in.StartTime) != start.UnixMilli() {
		t.Errorf("request %+v", in)
	}
	none := &pages{script: []cloudwatchlogs.FilterLogEventsOutput{{}}}
	if ev, err := firstEventSince(context.Background(), none, "g", "p", start); ev != nil || err != nil || len(none.seen) != 1 {
		t.Errorf("no events: %v %v after %d calls", ev, err, len(none.seen))
	}
}

// Requirement (issue 12): each log group passes with a fresh event, fails
// naming the group when it has none or does not exist, and says which IAM
// action is missing when access is denied.
func TestJudgeLogGroup(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)
	op := func(err error) error {
		return &smithy.OperationError{ServiceID: "CloudWatch Logs", OperationName: "FilterLogEvents", Err: err}
	}
	fresh := &logstypes.FilteredLogEvent{LogStreamName: aws.String("ecs/layering-detection-prod/layering-abc"), Timestamp: aws.Int64(now.Add(-90 * time.Second).UnixMilli())}
	for _, c := range []struct {
		name   string
		ev     *logstypes.FilteredLogEvent
		err    error
		status Status
		want   string
	}{
		{"fresh events", fresh, nil, Pass, "one at 2026-11-23T12:08:30Z (1m30s ago) in stream ecs/layering-detection-prod/layering-abc"},
		{"none", nil, nil, Fail, "no events from this environment's pods (streams ecs/layering-detection-prod/…) in the last 10m0s"},
		{"no such group", nil, op(&logstypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}), Fail, "the log group does not exist"},
		{"access denied", nil, op(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}), Fail, "grant the IAM action logs:FilterLogEvents"},
		{"other", nil, op(errors.New("boom")), Fail, "boom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := judgeLogGroup("/ecs/layering-detection/layering", "ecs/layering-detection-prod/", 10*time.Minute, now, c.ev, c.err)
			if r.Status != c.status || !strings.Contains(r.Reason, c.want) || r.Subject != "log group /ecs/layering-detection/layering" {
				t.Errorf("got %s %q (%s), want %s with %q", r.Status, r.Reason, r.Subject, c.status, c.want)
			}
		})
	}
}
