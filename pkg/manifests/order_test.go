package manifests

import "testing"

// Requirement (issue 18): render lists objects as `kubectl kustomize` does,
// what others depend on first, so `render | kubectl apply -f -` never creates
// a workload before the namespace, config, secrets, volumes and claims it uses.
// (Custom kinds, ExternalSecrets among them, go where kustomize puts them:
// after the workloads; the pods wait for the Secret they sync.)
func TestRenderOrderPutsDependenciesFirst(t *testing.T) {
	dependencies := map[string]bool{"Namespace": true, "ServiceAccount": true, "ConfigMap": true, "Secret": true,
		"StorageClass": true, "PersistentVolume": true, "PersistentVolumeClaim": true}
	for _, dir := range allTargets {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if objs[0].GetKind() != "Namespace" {
				t.Errorf("first object is a %s, want the Namespace", objs[0].GetKind())
			}
			firstWorkload := ""
			for _, o := range objs {
				switch k := o.GetKind(); {
				case k == "Deployment" || k == "DaemonSet":
					if firstWorkload == "" {
						firstWorkload = k + "/" + o.GetName()
					}
				case dependencies[k] && firstWorkload != "":
					t.Errorf("%s/%s comes after %s", k, o.GetName(), firstWorkload)
				}
			}
		})
	}
}
