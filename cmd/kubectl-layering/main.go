// Command kubectl-layering is the kubectl plugin for day-2 operation of the
// layering-detection platform. Installed on PATH it runs as `kubectl layering`.
// The commands live in pkg/cmd; this is only the process around them.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/layering-detection/kubectl-layering/pkg/cmd"
)

func main() {
	// client-go's own log lines (a watch ended by Ctrl-C, say) are not for
	// users: commands report what matters, errors through pkg/cmd.ExitCode.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	// Ctrl-C cancels the context: commands stop cleanly and report what they did.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, streams, os.Args[1:])
	stop()
	os.Exit(code)
}
