// Command local-aws serves, on loopback, the AWS APIs the plugin and the
// platform use, seeded with the layering-detection ECS deployment
// (see the repository README, "Local AWS").
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/layering-detection/kubectl-layering/local-aws/server"
)

func main() {
	start := time.Now()
	listen := flag.String("listen", "127.0.0.1:4566", "loopback address to serve on")
	nodeListen := flag.String("node-listen", "", "also serve on this address of the local cluster's node (e.g. 10.250.0.1:4566), for pods")
	dir := flag.String("dir", ".local-aws", "directory of state.json, credentials and env")
	region := flag.String("region", "us-east-1", "the region served")
	account := flag.String("account", server.DefaultAccountID, "the account id")
	step := flag.Duration("rollout-step", time.Second, "time an ECS deployment takes per task started or stopped")
	quiet := flag.Bool("quiet", false, "do not log each request")
	flag.Parse()

	if err := run(start, *listen, *nodeListen, *dir, *region, *account, *step, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "local-aws:", err)
		os.Exit(2)
	}
}

func run(start time.Time, listen, nodeListen, dir, region, account string, step time.Duration, quiet bool) error {
	if err := requireLoopback(listen); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, secret, err := credentials(filepath.Join(dir, "credentials"))
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "local-aws ", log.LstdFlags|log.Lmicroseconds)
	cfg := server.Config{AccessKeyID: key, SecretAccessKey: secret, Region: region, AccountID: account,
		StatePath: filepath.Join(dir, "state.json"), RolloutStep: step}
	if !quiet {
		cfg.Logger = logger
	}
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	var listeners []net.Listener
	for _, addr := range []string{listen, nodeListen} {
		if addr == "" {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%v (is another local-aws running? make aws-down)", err)
		}
		listeners = append(listeners, l)
	}
	endpoint := "http://" + listeners[0].Addr().String()
	env := fmt.Sprintf("export AWS_ENDPOINT_URL=%s\nexport AWS_REGION=%s\nexport AWS_DEFAULT_REGION=%s\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n",
		endpoint, region, region, key, secret)
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o600); err != nil {
		return err
	}

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	logger.Printf("serving %s (region %s, account %s), state %s, ready in %s",
		endpoint, region, account, cfg.StatePath, time.Since(start).Round(time.Millisecond))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// requireLoopback keeps the main address on this machine.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q must be a loopback address such as 127.0.0.1:4566", addr)
	}
	return nil
}

// credentials reads the access key pair, or makes and keeps one, so a
// restart accepts the same keys.
func credentials(path string) (key, secret string, err error) {
	if b, err := os.ReadFile(path); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			return f[0], f[1], nil
		}
		return "", "", fmt.Errorf("%s must hold an access key id and a secret access key; remove it to make new ones", path)
	}
	buf := make([]byte, 28)
	if _, err := rand.Read(buf); err != nil {
		return "", "", err
	}
	key = "AKIALOCAL" + strings.ToUpper(hex.EncodeToString(buf[:6]))[:11]
	secret = hex.EncodeToString(buf[6:])
	return key, secret, os.WriteFile(path, []byte(key+" "+secret+"\n"), 0o600)
}
