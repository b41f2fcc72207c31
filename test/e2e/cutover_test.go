//go:build e2e

// `kubectl layering cutover` and `rollback --to-ecs` (issue 14) against the
// local AWS (make aws: the ECS deployment with its load balancer) and the
// local cluster's `local` environment, which the verify gate checks.
//
// No AWS Load Balancer Controller can run here: the test registers the local
// pods' addresses in the Kubernetes side's target groups, as the controller
// would from the TargetGroupBindings, and sets target health itself through
// local-aws's control API. The local environment renders no
// TargetGroupBinding, so the cutover skips that check there (it says so); the
// check itself runs against the API server in TestCutoverBindingsPreflight.
// An independent client, Debian's AWS CLI, reads the weights back.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/layering-detection/kubectl-layering/pkg/cutover"
)

type cutoverReport struct {
	Outcome  string            `json:"outcome"`
	Plan     []int             `json:"plan"`
	Rules    []cutover.Rule    `json:"rules"`
	ScaledIn []cutover.Restore `json:"scaledIn"`
	Error    string            `json:"error"`
}

type rollbackReport struct {
	Outcome    string            `json:"outcome"`
	Restored   []cutover.Restore `json:"restored"`
	Rules      []cutover.Rule    `json:"rules"`
	StableAt   float64           `json:"stableAt"`
	AllOnECSAt float64           `json:"allOnEcsAt"`
	Error      string            `json:"error"`
}

// cutoverRig is the local AWS and the clients a test reads it with.
type cutoverRig struct {
	env  map[string]string
	elb  *elb.Client
	ecs  *ecs.Client
	cw   *cloudwatch.Client
	http string // the local AWS endpoint, for its control API
}

func newCutoverRig(ctx context.Context, t *testing.T) *cutoverRig {
	t.Helper()
	r := &cutoverRig{env: localAWS(t)}
	r.http = r.env["AWS_ENDPOINT_URL"]
	withEnv(r.env, func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.elb, r.ecs, r.cw = elb.NewFromConfig(cfg), ecs.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)
	})
	return r
}

// control calls local-aws's own API (not an AWS API).
func (r *cutoverRig) control(t *testing.T, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, r.http+"/_local-aws/"+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("local-aws %s %s %s: %v %v", method, path, body, resp, err)
	}
	resp.Body.Close()
}

// plugin runs the plugin with the local AWS's environment.
func (r *cutoverRig) plugin(ctx context.Context, t *testing.T, args ...string) pluginRun {
	t.Helper()
	var run pluginRun
	withEnv(r.env, func() { run = runPlugin(ctx, t, args...) })
	return run
}

func (r *cutoverRig) cutover(ctx context.Context, t *testing.T, args ...string) (cutoverReport, pluginRun) {
	t.Helper()
	run := r.plugin(ctx, t, append([]string{"cutover", "--env", "local", "-o", "json", "--gate-interval", "1s"}, args...)...)
	var rep cutoverReport
	if run.stdout != "" {
		if err := json.Unmarshal([]byte(run.stdout), &rep); err != nil {
			t.Fatalf("cutover -o json: %v\n%s\n%s", err, run.stdout, run.stderr)
		}
	}
	return rep, run
}

func (r *cutoverRig) rollback(ctx context.Context, t *testing.T, args ...string) (rollbackReport, pluginRun) {
	t.Helper()
	run := r.plugin(ctx, t, append([]string{"rollback", "--to-ecs", "--env", "local", "-o", "json"}, args...)...)
	var rep rollbackReport
	if run.stdout != "" {
		if err := json.Unmarshal([]byte(run.stdout), &rep); err != nil {
			t.Fatalf("rollback --to-ecs -o json: %v\n%s\n%s", err, run.stdout, run.stderr)
		}
	}
	return rep, run
}

// startCutover runs a cutover in the background; wait returns once its
// progress shows a line with want.
type bgPlugin struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	stdout bytes.Buffer
	lines  chan string
	done   chan struct{}
}

func (r *cutoverRig) start(ctx context.Context, t *testing.T, args ...string) *bgPlugin {
	t.Helper()
	cmd := exec.CommandContext(ctx, plugin(t), append(append([]string{"cutover", "--env", "local", "--gate-interval", "1s"}, args...), "--kubeconfig", clusterKubeconfigPath(t))...)
	cmd.Env = os.Environ()
	for k, v := range r.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	b := &bgPlugin{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	cmd.Stdout = &b.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			b.mu.Lock()
			b.stderr.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	return b
}

func (b *bgPlugin) waitFor(t *testing.T, want string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("the cutover ended before %q:\n%s", want, b.errText())
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within %s:\n%s", want, within, b.errText())
		}
	}
}

func (b *bgPlugin) errText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stderr.String()
}

// follow calls onLine with each progress line and tick every interval, until
// the plugin closes its stderr (it exited) or within is over.
func (b *bgPlugin) follow(t *testing.T, within, interval time.Duration, onLine func(string), tick func()) {
	t.Helper()
	timeout := time.After(within)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				return
			}
			onLine(l)
		case <-ticker.C:
			tick()
		case <-timeout:
			t.Errorf("still running after %s", within)
			return
		}
	}
}

// wait returns the exit code; the progress keeps draining meanwhile.
func (b *bgPlugin) wait(within time.Duration) (int, time.Duration) {
	go func() {
		for range b.lines {
		}
	}()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- b.cmd.Wait() }()
	select {
	case err := <-errc:
		return exitCode(err), time.Since(start)
	case <-time.After(within):
		_ = b.cmd.Process.Kill()
		return -1, within
	}
}

// cliWeights reads, with Debian's AWS CLI, each rule of listener 80 as
// "priority:ecs/eks" (the seed's single-group rules as "priority:1/-").
func (r *cutoverRig) cliWeights(ctx context.Context, t *testing.T) string {
	t.Helper()
	w, err := r.readWeights(ctx, r.listener(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readWeights is cliWeights for a goroutine: it reports errors instead of failing.
func (r *cutoverRig) readWeights(ctx context.Context, listener string) (string, error) {
	out, err := r.cliErr(ctx, "elbv2", "describe-rules", "--listener-arn", listener,
		"--query", "Rules[].[Priority, Actions[0].ForwardConfig.TargetGroups[0].Weight, Actions[0].ForwardConfig.TargetGroups[1].Weight]", "--output", "json")
	if err != nil {
		return "", err
	}
	var rows [][]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return "", fmt.Errorf("aws elbv2 describe-rules: %v\n%s", err, out)
	}
	var parts []string
	for _, row := range rows {
		w := func(v any) string {
			if v == nil {
				return "-"
			}
			return fmt.Sprint(v)
		}
		parts = append(parts, fmt.Sprintf("%v:%s/%s", row[0], w(row[1]), w(row[2])))
	}
	return strings.Join(parts, " "), nil
}

// cliErr runs Debian's AWS CLI against the local AWS.
func (r *cutoverRig) cliErr(ctx context.Context, args ...string) (string, error) {
	bin := "aws"
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		bin = "/usr/bin/aws" // Debian's awscli, as CI installs it
	}
	// Debian's AWS CLI 2.9 does not read AWS_ENDPOINT_URL: name the endpoint.
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", r.http}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range r.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("aws %v: %v\n%s", args, err, out)
	}
	return string(out), nil
}

// listeners are the platform ALB's listeners.
func (r *cutoverRig) listeners(ctx context.Context, t *testing.T) []elbtypes.Listener {
	t.Helper()
	lbs, err := r.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"layering-detection-alb"}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := r.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	return ls.Listeners
}

func (r *cutoverRig) listener(ctx context.Context, t *testing.T) string {
	t.Helper()
	for _, l := range r.listeners(ctx, t) {
		if aws.ToInt32(l.Port) == 80 {
			return aws.ToString(l.ListenerArn)
		}
	}
	t.Fatal("no listener 80")
	return ""
}

func (r *cutoverRig) targetGroup(ctx context.Context, t *testing.T, name string) string {
	t.Helper()
	out, err := r.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn)
}

// registerPods puts each local Service's ready pod addresses into its
// Kubernetes target group, as the load balancer controller would.
func (r *cutoverRig) registerPods(ctx context.Context, t *testing.T) {
	t.Helper()
	cs := clusterClient(t)
	for _, svc := range services {
		eps, err := cs.CoreV1().Endpoints(localNamespace).Get(ctx, svc+"-service", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var targets []elbtypes.TargetDescription
		for _, s := range eps.Subsets {
			for _, a := range s.Addresses {
				targets = append(targets, elbtypes.TargetDescription{Id: aws.String(a.IP), Port: aws.Int32(s.Ports[0].Port)})
			}
		}
		if len(targets) == 0 {
			t.Fatalf("%s-service has no ready endpoints", svc)
		}
		if _, err := r.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(r.targetGroup(ctx, t, cutover.EKSTargetGroupName(svc))), Targets: targets}); err != nil {
			t.Fatal(err)
		}
	}
}

// desired reads the ECS services' desired counts, by service.
func (r *cutoverRig) desired(ctx context.Context, t *testing.T) map[string]int32 {
	t.Helper()
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = cutover.ECSServiceName(s)
	}
	out, err := r.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("layering-detection-cluster"), Services: names})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	for _, s := range out.Services {
		got[strings.TrimPrefix(aws.ToString(s.ServiceName), "layering-detection-")] = s.DesiredCount
	}
	return got
}

// setAll writes every rule's weights directly, as a test-made starting point.
func (r *cutoverRig) setAll(ctx context.Context, t *testing.T, ecsW, eksW int32) {
	t.Helper()
	for _, l := range r.listeners(ctx, t) {
		rules, err := r.elb.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: l.ListenerArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range rules.Rules {
			tgs := x.Actions[0].ForwardConfig.TargetGroups
			ecsTG, eksTG := aws.ToString(tgs[0].TargetGroupArn), ""
			if len(tgs) > 1 {
				eksTG = aws.ToString(tgs[1].TargetGroupArn)
			} else {
				name := strings.Split(ecsTG, "/")[1]
				eksTG = r.targetGroup(ctx, t, strings.TrimSuffix(name, "-tg")+"-eks-tg")
			}
			actions := []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(ecsTG), Weight: aws.Int32(ecsW)}, {TargetGroupArn: aws.String(eksTG), Weight: aws.Int32(eksW)}}}}}
			if aws.ToBool(x.IsDefault) {
				_, err = r.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: actions})
			} else {
				_, err = r.elb.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: x.RuleArn, Actions: actions})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (r *cutoverRig) waitStable(ctx context.Context, t *testing.T) {
	t.Helper()
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = cutover.ECSServiceName(s)
	}
	if err := ecs.NewServicesStableWaiter(r.ecs, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay = 200 * time.Millisecond }).Wait(ctx,
		&ecs.DescribeServicesInput{Cluster: aws.String("layering-detection-cluster"), Services: names}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func allAt(rules []cutover.Rule, ecsW, eksW int32) bool {
	for _, r := range rules {
		if r.ECSWeight != ecsW || r.EKSWeight != eksW {
			return false
		}
	}
	return len(rules) == 10
}

// Requirement (issue 14): the gated, weighted cutover and the way back to
// ECS, against the local AWS and the local environment.
func TestCutoverLocal(t *testing.T) {
	ctx := clusterCtx(t, 25*time.Minute)
	r := newCutoverRig(ctx, t)
	r.control(t, http.MethodPost, "reset", "")
	r.control(t, http.MethodDelete, "faults", "")
	mustDeployHealthy(ctx, t, "--wait-for-metrics")
	r.registerPods(ctx, t)
	// A fresh start: no record of earlier runs (the local AWS was reseeded).
	if err := clusterClient(t).CoreV1().ConfigMaps(localNamespace).Delete(ctx, cutover.RecordName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	seed := r.cliWeights(ctx, t)

	t.Run("DryRunEvaluatesTheGatesAndChangesNothing", func(t *testing.T) {
		rep, run := r.cutover(ctx, t, "--to", "eks", "--dry-run")
		if run.code != 0 || rep.Outcome != "dry run" || len(rep.Plan) != 4 {
			t.Fatalf("dry run: exit %d, %+v\n%s", run.code, rep, run.stderr)
		}
		for _, want := range []string{"✓ verify  ✓ alarms  ✓ targets  ✓ ecs", "bindings: skipped: environment local has no TargetGroupBinding"} {
			if !strings.Contains(run.stderr, want) {
				t.Errorf("progress lacks %q:\n%s", want, run.stderr)
			}
		}
		if now := r.cliWeights(ctx, t); now != seed {
			t.Errorf("a dry run changed the rules: %s, was %s", now, seed)
		}
	})

	t.Run("ZeroToHundredInStepsTheAWSCLIReadsEachStep", func(t *testing.T) {
		seen := []string{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		listener := r.listener(ctx, t)
		go func() { // an independent client watches rule 200 (layering) move
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w, err := r.readWeights(ctx, listener)
				if err != nil {
					t.Error(err)
					return
				}
				for _, f := range strings.Fields(w) {
					if strings.HasPrefix(f, "200:") && (len(seen) == 0 || seen[len(seen)-1] != f) {
						seen = append(seen, f)
					}
				}
			}
		}()
		rep, run := r.cutover(ctx, t, "--to", "eks", "--steps", "10,25,50,100", "--hold", "3s")
		close(stop)
		wg.Wait()
		if run.code != 0 || rep.Outcome != "completed" || !allAt(rep.Rules, 0, 100) {
			t.Fatalf("cutover: exit %d, %+v\n%s", run.code, rep, run.stderr)
		}
		want := []string{"200:1/-", "200:90/10", "200:75/25", "200:50/50", "200:0/100"}
		if strings.Join(seen, " ") != strings.Join(want, " ") {
			t.Errorf("the AWS CLI read rule 200 as %v, want %v", seen, want)
		}
		if got := r.cliWeights(ctx, t); got != "100:0/100 200:0/100 300:0/100 400:0/100 default:0/100" {
			t.Errorf("after the cutover: %s", got)
		}
		for _, want := range []string{"step 1/4: 10 % to EKS", "step 4/4: 100 % to EKS", "listener 443 default action  orchestrator  ECS 0 / EKS 100", "holding 3s at 50 % on EKS"} {
			if !strings.Contains(run.stderr, want) {
				t.Errorf("progress lacks %q", want)
			}
		}
	})

	t.Run("RulesChangedBySomeoneElseAreRefusedWithTheDifference", func(t *testing.T) {
		rules, err := r.elb.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(r.listener(ctx, t))})
		if err != nil {
			t.Fatal(err)
		}
		var rule300 elbtypes.Rule
		for _, x := range rules.Rules {
			if aws.ToString(x.Priority) == "300" {
				rule300 = x
			}
		}
		set := func(ecsW, eksW int32) {
			tgs := rule300.Actions[0].ForwardConfig.TargetGroups
			if len(tgs) != 2 {
				t.Fatalf("rule 300 forwards to %d target groups: the cutover before this one did not run", len(tgs))
			}
			tgs[0].Weight, tgs[1].Weight = aws.Int32(ecsW), aws.Int32(eksW)
			if _, err := r.elb.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: rule300.RuleArn, Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward,
				ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: tgs}}}}); err != nil {
				t.Fatal(err)
			}
		}
		set(40, 60) // by hand, in the console, at 2 a.m.
		_, run := r.cutover(ctx, t, "--to", "ecs", "--steps", "100", "--hold", "0s")
		if run.code != 1 || !strings.Contains(run.stderr, "listener 80 rule 300 (wash-trading): weights ECS 40 / EKS 60, expected ECS 0 / EKS 100") ||
			!strings.Contains(run.stderr, "--accept-live-rules") {
			t.Errorf("refusal: exit %d\n%s", run.code, run.stderr)
		}
		if got := r.cliWeights(ctx, t); !strings.Contains(got, "300:40/60") || !strings.Contains(got, "200:0/100") {
			t.Errorf("a refused cutover changed the rules: %s", got)
		}
		set(0, 100)
	})

	t.Run("CtrlCStopsAtTheCurrentWeightsAndTheCutoverResumes", func(t *testing.T) {
		b := r.start(ctx, t, "--to", "ecs", "--steps", "50,100", "--hold", "2m")
		b.waitFor(t, "holding 2m0s at 50 % on ECS", 2*time.Minute)
		_ = b.cmd.Process.Signal(syscall.SIGINT)
		code, took := b.wait(30 * time.Second)
		text := b.errText()
		if code != 130 || took > 15*time.Second {
			t.Errorf("Ctrl-C: exit %d after %s, want 130 within seconds\n%s", code, took, text)
		}
		for _, want := range []string{"interrupted: the rules stay at 50 % on ECS", "Continue with: kubectl layering cutover --env local --to ecs",
			"kubectl layering cutover --env local --to eks", "kubectl layering rollback --to-ecs --env local"} {
			if !strings.Contains(text, want) {
				t.Errorf("the interrupt message lacks %q:\n%s", want, text)
			}
		}
		if got := r.cliWeights(ctx, t); got != "100:50/50 200:50/50 300:50/50 400:50/50 default:50/50" {
			t.Errorf("after Ctrl-C: %s", got)
		}
		rep, run := r.cutover(ctx, t, "--to", "ecs", "--steps", "50,100", "--hold", "1s")
		if run.code != 0 || len(rep.Plan) != 1 || rep.Plan[0] != 100 || !allAt(rep.Rules, 100, 0) {
			t.Errorf("resumed: exit %d, plan %v\n%s", run.code, rep.Plan, run.stderr)
		}
	})

	t.Run("UnhealthyEKSTargetGroupNeverReceivesTraffic", func(t *testing.T) {
		r.control(t, http.MethodPost, "target-health", `{"targetGroup":"layering-detection-layering-eks-tg","state":"unhealthy"}`)
		defer r.control(t, http.MethodDelete, "target-health", "")
		_, run := r.cutover(ctx, t, "--to", "eks", "--steps", "100", "--hold", "0s", "--red-for", "5s")
		if run.code != 1 || !strings.Contains(run.stderr, "gate targets is red: layering-detection-layering-eks-tg: 0 of") ||
			!strings.Contains(run.stderr, "unhealthy Target.FailedHealthChecks") || !strings.Contains(run.stderr, "nothing was changed") {
			t.Errorf("exit %d\n%s", run.code, run.stderr)
		}
		if got := r.cliWeights(ctx, t); got != "100:100/0 200:100/0 300:100/0 400:100/0 default:100/0" {
			t.Errorf("traffic moved onto an unhealthy group: %s", got)
		}
	})

	t.Run("AlarmMidCutoverRevertsToTheLastGoodStep", func(t *testing.T) {
		settingsFile := filepath.Join(t.TempDir(), "local.yaml")
		if err := os.WriteFile(settingsFile, []byte("clusterName: "+localCluster+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		publishFromMetricsServer(ctx, t, r.cw, 0)
		if run := r.plugin(ctx, t, "alarms", "sync", "--env", "local", "--settings", settingsFile); run.code != 0 {
			t.Fatalf("alarms sync: exit %d\n%s", run.code, run.stderr)
		}
		defer func() {
			if run := r.plugin(ctx, t, "alarms", "delete", "--env", "local", "--settings", settingsFile); run.code != 0 {
				t.Errorf("alarms delete: exit %d\n%s", run.code, run.stderr)
			}
		}()
		// Start from 10 %: the step the cutover must come back to.
		if _, run := r.cutover(ctx, t, "--to", "eks", "--steps", "10", "--hold", "0s"); run.code != 0 {
			t.Fatalf("to 10 %%: exit %d\n%s", run.code, run.stderr)
		}
		b := r.start(ctx, t, "--to", "eks", "--steps", "10,25", "--hold", "4m", "--gate-interval", "2s")
		// The CloudWatch agent publishes all the time; here the test does, or
		// the low-task-count alarms (missing data is breaching) fire on their own.
		cpu := 0.0
		b.follow(t, 6*time.Minute, 20*time.Second, func(line string) {
			if strings.Contains(line, "holding 4m0s at 25 % on EKS") {
				cpu = 150 // the pods' CPU far above the high-cpu alarms' 80 %
				publishFromMetricsServer(ctx, t, r.cw, cpu)
			}
		}, func() { publishFromMetricsServer(ctx, t, r.cw, cpu) })
		code, _ := b.wait(time.Minute)
		text := b.errText()
		if cpu == 0 {
			t.Fatalf("the cutover never held at 25 %%:\n%s", text)
		}
		if code != 1 || !strings.Contains(text, "gate alarms turned red at 25 % on EKS") || !strings.Contains(text, "high-cpu") ||
			!strings.Contains(text, "the weights are back at 10 % on EKS") {
			t.Errorf("a red alarm mid-cutover: exit %d\n%s", code, text)
		}
		if got := r.cliWeights(ctx, t); got != "100:90/10 200:90/10 300:90/10 400:90/10 default:90/10" {
			t.Errorf("after the revert: %s", got)
		}
		publishFromMetricsServer(ctx, t, r.cw, 0)
	})

	t.Run("ThrottledModifyRuleIsRetried", func(t *testing.T) {
		r.control(t, http.MethodPost, "faults", `{"service":"elbv2","operation":"ModifyRule","kind":"throttle","count":3}`)
		defer r.control(t, http.MethodDelete, "faults", "")
		rep, run := r.cutover(ctx, t, "--to", "eks", "--steps", "100", "--hold", "0s", "--scale-in-ecs")
		if run.code != 0 || !allAt(rep.Rules, 0, 100) || len(rep.ScaledIn) != 4 {
			t.Fatalf("under throttling: exit %d %+v\n%s", run.code, rep, run.stderr)
		}
		if d := r.desired(ctx, t); d["layering"] != 0 || d["orchestrator"] != 0 {
			t.Errorf("--scale-in-ecs: desired %v", d)
		}
		r.waitStable(ctx, t) // every ECS task stopped
	})

	t.Run("RollbackFromFullEKSWithECSScaledIn", func(t *testing.T) {
		rep, run := r.rollback(ctx, t)
		if run.code != 0 || rep.Outcome != "all traffic on ECS" || !allAt(rep.Rules, 100, 0) {
			t.Fatalf("rollback --to-ecs: exit %d %+v\n%s", run.code, rep, run.stderr)
		}
		if len(rep.Restored) != 4 || rep.Restored[1].Service != "layering" || rep.Restored[1].To.Desired != 2 || rep.Restored[1].Source != "recorded" {
			t.Errorf("restored %+v", rep.Restored)
		}
		if d := r.desired(ctx, t); d["orchestrator"] != 1 || d["layering"] != 2 || d["wash-trading"] != 2 || d["aggregator"] != 1 {
			t.Errorf("desired counts after the rollback: %v", d)
		}
		if got := r.cliWeights(ctx, t); got != "100:100/0 200:100/0 300:100/0 400:100/0 default:100/0" {
			t.Errorf("after the rollback: %s", got)
		}
		if rep.AllOnECSAt < rep.StableAt || rep.StableAt < 0.5 {
			t.Errorf("traffic moved at %.2fs, ECS stable at %.2fs: it must wait for stable tasks", rep.AllOnECSAt, rep.StableAt)
		}
		for _, want := range []string{"restore orchestrator 0 → 1, range 1–5 (recorded)", "ECS services stable", "ECS targets healthy", "every rule sends 100 % to ECS", "all traffic on ECS"} {
			if !strings.Contains(run.stderr, want) {
				t.Errorf("the timeline lacks %q:\n%s", want, run.stderr)
			}
		}
		svcs, err := r.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("layering-detection-cluster"), Services: []string{"layering-detection-layering"}})
		if err != nil {
			t.Fatal(err)
		}
		tags, err := r.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: svcs.Services[0].ServiceArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags.Tags {
			if aws.ToString(tag.Key) == cutover.CapacityTag {
				t.Errorf("the recorded capacity is still tagged after the rollback: %s", aws.ToString(tag.Value))
			}
		}
		t.Logf("rollback --to-ecs: ECS stable at %.2fs, all traffic on ECS at %.2fs", rep.StableAt, rep.AllOnECSAt)
	})

	t.Run("UnhealthyECSTargetGroupBlocksTheRollback", func(t *testing.T) {
		r.setAll(ctx, t, 0, 100) // all traffic on EKS, as a cutover leaves it
		r.control(t, http.MethodPost, "target-health", `{"targetGroup":"layering-detection-aggregator-tg","state":"unhealthy"}`)
		_, run := r.rollback(ctx, t, "--timeout", "5s")
		if run.code != 1 || !strings.Contains(run.stderr, "the ECS target groups are not healthy, so no traffic was moved") ||
			!strings.Contains(run.stderr, "layering-detection-aggregator-tg: 0 of 1 targets healthy (1 unhealthy Target.FailedHealthChecks), need 1") {
			t.Errorf("exit %d\n%s", run.code, run.stderr)
		}
		if got := r.cliWeights(ctx, t); got != "100:0/100 200:0/100 300:0/100 400:0/100 default:0/100" {
			t.Errorf("traffic moved onto an unhealthy ECS side: %s", got)
		}
		r.control(t, http.MethodDelete, "target-health", "")
		if _, run := r.rollback(ctx, t); run.code != 0 {
			t.Errorf("rollback once healthy: exit %d\n%s", run.code, run.stderr)
		}
	})

	t.Run("AccessDeniedNamesTheAction", func(t *testing.T) {
		r.control(t, http.MethodPost, "faults", `{"service":"elbv2","operation":"DescribeLoadBalancers","kind":"deny"}`)
		defer r.control(t, http.MethodDelete, "faults", "")
		_, run := r.rollback(ctx, t)
		if run.code != 2 || !strings.Contains(run.stderr, "grant the IAM action elasticloadbalancing:DescribeLoadBalancers") {
			t.Errorf("exit %d\n%s", run.code, run.stderr)
		}
	})

	t.Run("MissingLoadBalancerIsNamed", func(t *testing.T) {
		_, run := r.cutover(ctx, t, "--to", "eks", "--alb", "no-such-alb", "--dry-run")
		if run.code != 2 || !strings.Contains(run.stderr, "load balancer no-such-alb") {
			t.Errorf("exit %d\n%s", run.code, run.stderr)
		}
	})

	t.Run("MissingTargetGroupIsNamed", func(t *testing.T) {
		// The seed, where no rule forwards to the Kubernetes side yet (ELBv2
		// refuses to delete a target group in use); it comes back with the seed.
		r.control(t, http.MethodPost, "reset", "")
		defer r.control(t, http.MethodPost, "reset", "")
		if _, err := r.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(r.targetGroup(ctx, t, "layering-detection-aggregator-eks-tg"))}); err != nil {
			t.Fatal(err)
		}
		_, run := r.cutover(ctx, t, "--to", "eks", "--dry-run")
		if run.code != 2 || !strings.Contains(run.stderr, "target group layering-detection-aggregator-eks-tg (the Kubernetes side's") {
			t.Errorf("exit %d\n%s", run.code, run.stderr)
		}
	})
}

// installTestCRDs applies test/crds (the TargetGroupBinding API, served with
// no controller behind it) and waits until the API server serves them.
func installTestCRDs(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(clusterRepoRoot(t), "test", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test CRDs: %v", err)
	}
	installCRDs(ctx, t, cfg, files, schema.GroupVersionKind{Group: "elbv2.k8s.aws", Version: "v1beta1", Kind: "TargetGroupBinding"})
}

// Requirement (issue 14): before a cutover to EKS, every service's Kubernetes
// target group must be filled by a TargetGroupBinding; the check names each
// one missing, against the API server with the binding API installed.
func TestCutoverBindingsPreflight(t *testing.T) {
	ctx := clusterCtx(t, 3*time.Minute)
	cfg := platformConfig(t)
	installTestCRDs(ctx, t, cfg)
	ns := clusterRestrictedNamespace(ctx, t, clusterClient(t), "cutover-bindings")
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []cutover.Pair
	for _, svc := range services {
		pairs = append(pairs, cutover.Pair{Service: svc, EKS: cutover.TargetGroup{Name: cutover.EKSTargetGroupName(svc), ARN: "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/" + cutover.EKSTargetGroupName(svc) + "/0123456789abcdef"}})
	}
	gate := &cutover.BindingsGate{Dynamic: dyn, Namespace: ns, Pairs: pairs}
	// The prod overlay's bindings, as deploy would apply them.
	var bindings []*unstructured.Unstructured
	for _, u := range renderEnv(t, "prod") {
		if u.GetKind() == "TargetGroupBinding" {
			u.SetNamespace(ns)
			bindings = append(bindings, u)
		}
	}
	if len(bindings) != 4 {
		t.Fatalf("prod renders %d TargetGroupBindings, want 4", len(bindings))
	}
	// The aggregator's is held back, whatever order the render lists them in.
	sort.SliceStable(bindings, func(i, j int) bool {
		return !strings.Contains(bindings[i].GetName(), "aggregator") && strings.Contains(bindings[j].GetName(), "aggregator")
	})
	for _, b := range bindings[:3] {
		if _, err := dyn.Resource(cutover.BindingGVR).Namespace(ns).Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res := gate.Check(ctx, true)
	if res.State != cutover.Red || !strings.Contains(res.Detail, "no TargetGroupBinding binds aggregator-service to layering-detection-aggregator-eks-tg") {
		t.Errorf("three of four bindings: %+v", res)
	}
	if _, err := dyn.Resource(cutover.BindingGVR).Namespace(ns).Create(ctx, bindings[3], metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := gate.Check(ctx, true); res.State != cutover.Green {
		t.Errorf("all four bindings: %+v", res)
	}
}
