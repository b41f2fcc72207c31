// The four reference services: a module of their own, so the plugin's module
// holds only the plugin. `go 1.25` or later turns on the runtime's
// cgroup-aware GOMAXPROCS (GODEBUG containermaxprocs, updatemaxprocs).
module github.com/layering-detection/kubectl-layering/services

go 1.25.0

require (
	github.com/KimMachineGun/automemlimit v1.0.1
	github.com/prometheus/client_golang v1.22.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pbnjay/memory v0.0.0-20210728143218-7b4eea64cf58 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.63.0 // indirect
	github.com/prometheus/procfs v0.16.1 // indirect
	golang.org/x/sys v0.32.0 // indirect
	google.golang.org/protobuf v1.36.6 // indirect
)
