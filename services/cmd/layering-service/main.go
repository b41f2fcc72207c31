// Command layering-service is the layering detection service (port 8001):
// POST /detect. See services/algorithmservice and services/detect/layering.
package main

import (
	"os"

	"github.com/layering-detection/kubectl-layering/services/algorithmservice"
	"github.com/layering-detection/kubectl-layering/services/detect/layering"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
)

func main() {
	os.Exit(httpserver.Main(httpserver.Spec{
		Service:     "layering-service",
		DefaultPort: 8001,
		EventsHelp:  "Events analysed for layering.",
		Setup: func(s *httpserver.Server, _ func(string) string) error {
			algorithmservice.Register(s, algorithmservice.Config{Name: layering.Name, Detect: layering.Detect})
			return nil
		},
	}, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
