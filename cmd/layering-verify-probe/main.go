// Command layering-verify-probe runs inside a platform pod, as an ephemeral
// container of `kubectl layering verify`, and checks from the pod's own network
// namespace and mounts what only the inside can see. Its one argument is a JSON
// request (pkg/verify/probeapi); it prints one JSON result per check and always
// exits 0 so that verify reads every result.
//
//	layering-verify-probe '{"dns":["layering-service:8001"],"writable":["/app/output"],"readOnly":["/app/input"]}'
//	layering-verify-probe '{"keep":{"name":"MARKER","dirs":["/app/output"]}}'     verify --deep, before a pod restart
//	layering-verify-probe '{"expect":{"name":"MARKER","dirs":["/app/output"]}}'   after it: find the marker, remove it
package main

import (
	"context"
	"net"
	"os"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// lookupBudget bounds the retries of all lookups together: a fresh pod's first
// lookups can fail until the node's service rules settle, but a broken DNS must
// not keep verify waiting.
const lookupBudget = 10 * time.Second

func main() {
	req, err := probeapi.Decode(os.Args[1:])
	if err != nil {
		_ = probeapi.WriteResults(os.Stdout, []probeapi.Result{{Check: probeapi.CheckRequest, Detail: err.Error()}})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupBudget)
	defer cancel()
	pod := network{lookup: net.DefaultResolver.LookupHost, dial: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	_ = probeapi.WriteResults(os.Stdout, run(ctx, req, pod))
}

// run performs every check the request asks for, in the request's order.
func run(ctx context.Context, req probeapi.Request, n network) []probeapi.Result {
	out := n.resolveAll(ctx, req.DNS)
	for _, dir := range req.Writable {
		out = append(out, writable(dir))
	}
	for _, dir := range req.ReadOnly {
		out = append(out, readonly(dir))
	}
	if m := req.Keep; m != nil {
		for _, dir := range m.Dirs {
			out = append(out, keep(dir, m.Name))
		}
	}
	if m := req.Expect; m != nil {
		for _, dir := range m.Dirs {
			out = append(out, expect(dir, m.Name))
		}
	}
	return out
}
