// Command probe is a tiny helper image for the local cluster's smoke tests
// (test/e2e/cluster_test.go). The cluster has no registry and no busybox, so the
// tests run this static binary in a pod to look at the cluster from the inside.
//
//	probe resolve NAME [TIMEOUT]   resolve NAME through the pod's resolver (retrying
//	                               until TIMEOUT, default 30s) and print "NAME -> IPs"
//	probe write FILE TEXT          write TEXT to FILE and read it back
//	probe dial HOST:PORT [TIMEOUT] try a TCP connection (default timeout 3s); prints
//	                               "dial HOST:PORT: ok" or "dial HOST:PORT: failed: ..." and exits 0
//	probe sleep                    block until SIGTERM (a long-running pod)
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe resolve NAME [TIMEOUT] | write FILE TEXT | dial HOST:PORT [TIMEOUT] | sleep")
	}
	switch os.Args[1] {
	case "resolve":
		if len(os.Args) < 3 {
			fail("usage: probe resolve NAME [TIMEOUT]")
		}
		timeout := 30 * time.Second
		if len(os.Args) > 3 {
			d, err := time.ParseDuration(os.Args[3])
			if err != nil {
				fail(err.Error())
			}
			timeout = d
		}
		resolve(os.Args[2], timeout)
	case "write":
		if len(os.Args) != 4 {
			fail("usage: probe write FILE TEXT")
		}
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fail(err.Error())
		}
		got, err := os.ReadFile(os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		fmt.Printf("wrote %s: %s\n", os.Args[2], got)
	case "dial":
		if len(os.Args) < 3 {
			fail("usage: probe dial HOST:PORT [TIMEOUT]")
		}
		timeout := 3 * time.Second
		if len(os.Args) > 3 {
			d, err := time.ParseDuration(os.Args[3])
			if err != nil {
				fail(err.Error())
			}
			timeout = d
		}
		conn, err := net.DialTimeout("tcp", os.Args[2], timeout)
		if err != nil {
			fmt.Printf("dial %s: failed: %v\n", os.Args[2], err)
			return
		}
		conn.Close()
		fmt.Printf("dial %s: ok\n", os.Args[2])
	case "sleep":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		<-sigs
	default:
		fail("unknown command " + os.Args[1])
	}
}

// resolve retries because the first lookups right after CoreDNS turns Ready can
// time out until kube-proxy has written the kube-dns Service rules.
func resolve(name string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		addrs, err := net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		if err == nil {
			fmt.Printf("%s -> %v\n", name, addrs)
			return
		}
		if time.Now().After(deadline) {
			fail(fmt.Sprintf("resolve %s: %v", name, err))
		}
		fmt.Fprintf(os.Stderr, "resolve %s: %v (retrying)\n", name, err)
		time.Sleep(time.Second)
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "probe:", msg)
	os.Exit(1)
}
