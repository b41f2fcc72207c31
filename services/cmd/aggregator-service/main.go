// Command aggregator-service is the aggregator (port 8003): POST /aggregate
// validates and merges the algorithm services' results and writes
// OUTPUT_DIR/suspicious_accounts.csv and LOGS_DIR/detections.csv. See
// services/aggregator.
package main

import (
	"os"

	"github.com/layering-detection/kubectl-layering/services/aggregator"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
)

func main() {
	os.Exit(httpserver.Main(httpserver.Spec{
		Service:     "aggregator-service",
		DefaultPort: 8003,
		EventsHelp:  "Detections merged and written.",
		Setup: func(s *httpserver.Server, getenv func(string) string) error {
			aggregator.Register(s, aggregator.ConfigFromEnv(getenv))
			return nil
		},
	}, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
