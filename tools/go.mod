// Harness tools: image writer and the local cluster's pause and probe
// programs. A module of their own, so the plugin's module holds only the plugin.
module github.com/layering-detection/kubectl-layering/tools

go 1.24.2
