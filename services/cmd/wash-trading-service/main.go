// Command wash-trading-service is the wash-trading detection service (port
// 8002): POST /detect. See services/algorithmservice and
// services/detect/washtrading.
package main

import (
	"os"

	"github.com/layering-detection/kubectl-layering/services/algorithmservice"
	"github.com/layering-detection/kubectl-layering/services/detect/washtrading"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
)

func main() {
	os.Exit(httpserver.Main(httpserver.Spec{
		Service:     "wash-trading-service",
		DefaultPort: 8002,
		EventsHelp:  "Events analysed for wash trading.",
		Setup: func(s *httpserver.Server, _ func(string) string) error {
			algorithmservice.Register(s, algorithmservice.Config{Name: washtrading.Name, Detect: washtrading.Detect})
			return nil
		},
	}, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
