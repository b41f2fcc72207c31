package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/cutover"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/loadtest"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/rollback"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
	"github.com/layering-detection/kubectl-layering/pkg/verify"
)

// Exit codes, documented in --help.
const (
	ExitOK          = 0
	ExitFailed      = 1   // the operation ran and failed (unhealthy, checks failed, diff found changes)
	ExitCannotRun   = 2   // bad input, unreachable cluster, missing prerequisite, environment busy
	ExitInterrupted = 130 // Ctrl-C, as the shell reports it
)

// UsageError is a command line the command cannot act on.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// errSilent ends a command with ExitFailed after it said everything itself
// (diff found changes: its output is the message).
var errSilent = errors.New("")

// ExitCode prints err (if any) to w and returns the exit code it means. It is
// the one place that decides exit codes and writes errors.
func ExitCode(ctx context.Context, err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errSilent) {
		return ExitFailed
	}
	fmt.Fprintln(w, "error:", err)
	switch {
	case ctx.Err() != nil:
		return ExitInterrupted
	case cannotRun(err):
		return ExitCannotRun
	}
	return ExitFailed
}

// cannotRun tells the errors that mean the command could not do its work at all.
func cannotRun(err error) bool {
	var (
		usageErr    *UsageError
		kubeconfig  *KubeconfigError
		unknown     *manifests.UnknownEnvError
		input       *deploy.InputError
		preflight   *deploy.PreflightError
		unreachable *kube.UnreachableError
		locked      *deploy.LockedError
		notDeployed *verify.NotDeployedError
		noEarlier   *rollback.NoEarlierRevisionError
		unknownRev  *rollback.UnknownRevisionError
		placeholder *settings.PlaceholderError
		awsSetup    *awsconfig.SetupError
		target      *loadtest.TargetError
		generator   *loadtest.GeneratorError
		missing     *cutover.MissingError
		badRules    *cutover.RulesProblemError
	)
	return errors.As(err, &usageErr) || errors.As(err, &kubeconfig) || errors.As(err, &unknown) ||
		errors.As(err, &input) || errors.As(err, &preflight) || errors.As(err, &unreachable) ||
		errors.As(err, &locked) || errors.As(err, &notDeployed) || errors.As(err, &noEarlier) || errors.As(err, &unknownRev) ||
		errors.As(err, &placeholder) || errors.As(err, &awsSetup) ||
		errors.As(err, &target) || errors.As(err, &generator) ||
		errors.As(err, &missing) || errors.As(err, &badRules)
}
