package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

const (
	// minLookup is the least time one lookup gets even when the budget is spent:
	// dropped queries would otherwise be retried per search domain for a minute.
	minLookup  = 2 * time.Second
	retryEvery = time.Second
)

// network is the pod's resolver and dialer (replaced in tests).
type network struct {
	lookup func(ctx context.Context, host string) ([]string, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// resolveAll checks every target concurrently, so that they share the lookup
// budget of ctx instead of queueing for it.
func (n network) resolveAll(ctx context.Context, targets []string) []probeapi.Result {
	out := make([]probeapi.Result, len(targets))
	var wg sync.WaitGroup
	for i, target := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = n.dns(ctx, target)
		}()
	}
	wg.Wait()
	return out
}

// dns resolves the host through the pod's resolver and connects to the port.
func (n network) dns(ctx context.Context, target string) probeapi.Result {
	r := probeapi.Result{Check: probeapi.CheckDNS, Target: target}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	addrs, err := n.resolve(ctx, host)
	if err != nil {
		r.Detail = "does not resolve: " + err.Error()
		return r
	}
	conn, err := n.dial(context.WithoutCancel(ctx), "tcp", net.JoinHostPort(host, port))
	if err != nil {
		r.Detail = fmt.Sprintf("resolves to %s but refuses connections: %v", strings.Join(addrs, ","), err)
		return r
	}
	conn.Close()
	r.OK, r.Detail = true, fmt.Sprintf("resolves to %s and accepts connections", strings.Join(addrs, ","))
	return r
}

// resolve retries a failing lookup until the budget of ctx is spent.
func (n network) resolve(ctx context.Context, host string) ([]string, error) {
	for {
		addrs, err := n.lookupOnce(ctx, host)
		if err == nil {
			return addrs, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(retryEvery):
		}
	}
}

func (n network) lookupOnce(budget context.Context, host string) ([]string, error) {
	deadline := time.Now().Add(minLookup)
	if d, ok := budget.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(budget), deadline)
	defer cancel()
	return n.lookup(ctx, host)
}
