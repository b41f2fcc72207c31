package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/loadtest"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
)

const loadtestLong = `Drive load at one service of an environment from inside the cluster and
show its autoscaler scale out (and, with --observe-scale-in, back in).

Generator pods (a Job of layering-loadgen, Pod Security restricted, CPU
limited) send valid requests of the service's contract through its Service's
ClusterIP, as clients do: /detect with generated trade events (layering,
wash-trading), /aggregate with generated detections (aggregator), /orchestrate
on a file of the input volume (orchestrator). The generators read the
environment's API key from its Secret themselves; it is never printed.

The services allow each client RATE_LIMIT_PER_MINUTE requests a minute (read
from the environment's configuration) per replica. Every generator pod is one
client and stays below that limit, so a higher --rate takes more generator pods
(at most 20); to reach the autoscaling targets, make requests heavier with
--events-per-request rather than more frequent. 429s are counted on their own.

While it runs: asked and sent rate, latency p50/p95/p99, status codes, the
HPA's current and desired replicas, CPU and memory utilization against the
targets, ready pods. Then the report: time to the first scale-out and to each
new replica Ready, peak replicas against max, with --observe-scale-in the time
from the end of the load to back at min (no earlier than the scale-down
stabilization window), latency and errors per phase, the requests each replica
served (from its own /metrics), a chart, and verdicts. -o json|yaml adds the
full time series.

Load on the aggregator or the orchestrator writes the environment's output
files, as those requests do. Ctrl-C stops the load at once, removes the
generators and prints the report so far. --env prod needs --confirm-prod.

Exit codes: 0 every verdict passed, 1 one failed, 2 the test could not run
(input, not deployed, the generators cannot start), 130 interrupted.`

const loadtestExample = `  # CPU-heavy load on the layering service for 5 minutes
  kubectl layering loadtest --env local --service layering

  # Heavier requests, and watch the scale-in back to min
  kubectl layering loadtest --env staging --service wash-trading --rate 6 --events-per-request 100000 --observe-scale-in

  # Large requests many at once: memory
  kubectl layering loadtest --env local --service aggregator --profile memory --duration 3m -o json`

// LoadtestOptions runs a load test.
type LoadtestOptions struct {
	EnvFlags
	OutputFlags
	Load           loadtest.Load
	ObserveScaleIn bool
	ConfirmProd    bool
	Image          string

	env     manifests.Env
	tree    *manifests.Tree
	format  output.Format
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdLoadtest(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LoadtestOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "loadtest --env ENV --service SERVICE",
		Short:   "Load one service from inside the cluster and report how its autoscaler scales",
		Long:    loadtestLong,
		Example: loadtestExample,
		Args:    cobra.NoArgs,
		RunE:    runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Load.Service, "service", "", "the service to load: "+strings.Join(loadtest.Services, ", "))
	fl.StringVar(&o.Load.Profile, "profile", loadtest.ProfileCPU, "cpu: many medium requests (defaults --rate 4 --events-per-request 50000 --concurrency 8); memory: the largest requests, many at once (--rate 2 --events-per-request 100000, aggregator 50000, --concurrency 16)")
	fl.Float64Var(&o.Load.Rate, "rate", 0, fmt.Sprintf("requests per second, all generators together (at most %g; default from --profile)", loadtest.MaxRate))
	fl.IntVar(&o.Load.Concurrency, "concurrency", 0, fmt.Sprintf("most requests in flight, all generators together (at most %d; default from --profile)", loadtest.MaxConcurrency))
	fl.DurationVar(&o.Load.Duration, "duration", 5*time.Minute, fmt.Sprintf("how long to send (10s to %s)", loadtest.MaxDuration))
	fl.IntVar(&o.Load.EventsPerRequest, "events-per-request", 0, "trade events per /detect request, detections per /aggregate request (1 to 100000; default from --profile)")
	fl.StringVar(&o.Load.InputFile, "input-file", "", "orchestrator: the input file /orchestrate reads (default transactions.csv)")
	fl.BoolVar(&o.ObserveScaleIn, "observe-scale-in", false, "after the load, watch until the autoscaler is back at its minimum (the scale-down window and up to 5 minutes more)")
	fl.BoolVar(&o.ConfirmProd, "confirm-prod", false, "required with --env prod: this loads production")
	fl.StringVar(&o.Image, "loadgen-image", "", "image of the generator (default: layering-detection-loadgen beside the environment's service images, same registry and tag)")
	_ = cmd.RegisterFlagCompletionFunc("service", cobra.FixedCompletions(loadtest.Services, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("profile", cobra.FixedCompletions([]string{loadtest.ProfileCPU, loadtest.ProfileMemory}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *LoadtestOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	o.Load = o.Load.WithDefaults()
	o.tree, err = manifests.Embedded()
	return err
}

func (o *LoadtestOptions) Validate() (err error) {
	if o.Load.Service == "" {
		return usage("--service is required: one of %s", strings.Join(loadtest.Services, ", "))
	}
	if err := o.Load.Validate(); err != nil {
		return &UsageError{err}
	}
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	if o.env.Name == "prod" && !o.ConfirmProd {
		return usage("--env prod loads production: add --confirm-prod if that is what you mean")
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *LoadtestOptions) Run(ctx context.Context) error {
	m, err := deploy.Render(o.tree, o.env.Name, deploy.ImageOverrides{})
	if err != nil {
		return err
	}
	names, err := loadtest.NamesOf(m.Objects, o.Load.Service)
	if err != nil {
		return err
	}
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	target, err := loadtest.Discover(ctx, o.clients.Kube, o.env.Namespace, o.Load.Service, names)
	if err != nil {
		return err
	}
	plan, err := loadtest.PlanFor(o.Load, target.RateLimitPerMinute)
	if err != nil {
		return &UsageError{err}
	}
	if o.Image == "" {
		o.Image = imageBeside(m.Images, "layering-detection-loadgen")
	}
	fmt.Fprintf(o.ErrOut, "loadtest %s: %g requests/s to %s (%s%s) from %d generator pods for %s — %s\n",
		o.env.Name, o.Load.Rate, target.ServiceName, target.Address, target.Path, plan.Generators, o.Load.Duration, plan.Why)
	test := &loadtest.Test{
		Kube: o.clients.Kube, Env: o.env.Name, Target: target, Load: o.Load, Plan: plan, Image: o.Image,
		ObserveScaleIn: o.ObserveScaleIn, Live: o.ErrOut, Tick: 2 * time.Second, LiveEvery: 10 * time.Second,
	}
	report, runErr := test.Run(ctx)
	if report != nil {
		if err := o.print(report); err != nil {
			return err
		}
	}
	switch {
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: the load was stopped and its generators removed: %w", ctx.Err())
	case report.Failed():
		return errors.New("loadtest: a verdict failed (see above)")
	}
	return nil
}

func (o *LoadtestOptions) print(r *loadtest.Report) error {
	if o.format != output.Table {
		return output.Print(o.Out, o.format, r)
	}
	return r.Write(o.Out, colorful(o.Out))
}

// colorful tells whether w takes colours: a colour terminal, NO_COLOR unset
// (lipgloss's own detection, as the tables use).
func colorful(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return lipgloss.NewRenderer(f).ColorProfile() != termenv.Ascii
}
