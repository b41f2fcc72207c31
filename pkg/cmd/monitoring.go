package cmd

import (
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
)

// monitoringKeys are the settings the cluster-level log shipping takes from an
// environment: the account of its IRSA role and the region it ships to.
var monitoringKeys = []string{"accountId", "region"}

// monitoringManifest renders the log shipping with env's accountId and region.
// strict (deploy) refuses values that are missing or placeholders; render
// prints what there is.
func monitoringManifest(tree *manifests.Tree, env string, r *resolved, strict bool) (*deploy.Manifest, error) {
	values := map[string]string{}
	for _, k := range monitoringKeys {
		if v, ok := r.values[k]; ok {
			values[k] = v
		}
	}
	if strict {
		if problems := settings.Require(env, r.values, monitoringKeys...); len(problems) > 0 {
			return nil, &settings.PlaceholderError{Env: env, What: "the log shipping (--monitoring)", Problems: problems}
		}
	}
	t, err := tree.WithMonitoringSettings(values)
	if err != nil {
		return nil, err
	}
	return deploy.RenderMonitoring(t)
}
