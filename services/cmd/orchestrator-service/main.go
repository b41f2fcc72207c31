// Command orchestrator-service is the orchestrator (port 8000): POST
// /orchestrate reads an input CSV from INPUT_DIR and runs it through the
// layering, wash-trading and aggregator services. See services/orchestrator.
package main

import (
	"os"

	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/orchestrator"
)

func main() {
	os.Exit(httpserver.Main(httpserver.Spec{
		Service:     "orchestrator-service",
		DefaultPort: 8000,
		EventsHelp:  "Events read from input files.",
		Setup: func(s *httpserver.Server, getenv func(string) string) error {
			cfg, err := orchestrator.ConfigFromEnv(getenv)
			if err != nil {
				return err
			}
			orchestrator.Register(s, cfg)
			return nil
		},
	}, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
