//go:build linux

// Command pause is the local cluster's pod sandbox ("pause") process.
//
// No container registry is reachable from the project's machines, so
// registry.k8s.io/pause cannot be pulled: local-cluster/cluster.sh builds this
// program, packs it with tools/mkimage and tags it as containerd's sandbox_image.
// Like the upstream pause it holds the pod's namespaces open until it is told to
// stop, and, being PID 1 of pods that share their PID namespace, reaps orphaned
// children so that they do not stay zombies.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
