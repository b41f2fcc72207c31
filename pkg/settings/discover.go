package settings

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// OptionalKeys are settings deploy does not need but other commands do
// (alarms: the EKS cluster Container Insights publishes under, the SNS topic).
var OptionalKeys = []string{"clusterName", "alarmTopicArn"}

// Finding is one setting as `settings init --from-ecs` decided it.
type Finding struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Was    string `json:"was,omitempty"`    // the value it replaces
	Action string `json:"action"`           // set, unchanged, kept, missing
	From   string `json:"from"`             // where the value came from, or why none was found
	Fix    string `json:"fix,omitempty"`    // for missing: how to fill it
	Needed bool   `json:"neededByDeploy"`   // the environment's manifests use it
	Source string `json:"source,omitempty"` // of a kept value: embedded or cluster
}

// Actions of a Finding.
const (
	ActionSet       = "set"       // found, and differs from what is stored
	ActionUnchanged = "unchanged" // found, and already stored
	ActionKept      = "kept"      // not an ECS fact; the value in effect is fine
	ActionMissing   = "missing"   // not found, and nothing usable in effect
)

// found is a value and where it came from.
type found struct{ value, from string }

// FromECS decides every setting env uses from the ECS deployment d: what to
// set (with where each value came from), what is already stored, what stays,
// and what is missing. uses are the keys of the environment's embedded
// settings; stored the cluster's; effective stored over embedded, with the
// source of each.
func FromECS(env string, d *ecsstate.Deployment, uses []string, stored Settings, effective Settings, sources map[string]string) []Finding {
	keys := slices.Clone(uses)
	for _, k := range OptionalKeys {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var out []Finding
	for _, k := range Keys {
		if !slices.Contains(keys, k.Name) {
			continue
		}
		f := Finding{Key: k.Name, Needed: slices.Contains(uses, k.Name)}
		v, why := discover(env, k.Name, d, effective[k.Name])
		if p := Check(env, Settings{k.Name: v.value}); v.value != "" && len(p) > 0 {
			v, why = found{}, fmt.Sprintf("%s gives %s, %s", v.from, v.value, p[0].Problem)
		}
		switch {
		case v.value != "" && stored[k.Name] == v.value:
			f.Value, f.Action, f.From = v.value, ActionUnchanged, v.from
		case v.value != "":
			f.Value, f.Action, f.From = v.value, ActionSet, v.from
			if effective[k.Name] != v.value {
				f.Was = effective[k.Name]
			}
		case effective[k.Name] != "" && len(Check(env, Settings{k.Name: effective[k.Name]})) == 0:
			f.Value, f.Action, f.From, f.Source = effective[k.Name], ActionKept, why, sources[k.Name]
		default:
			f.Action, f.From, f.Fix = ActionMissing, why, fixFor(env, k)
		}
		out = append(out, f)
	}
	return out
}

func fixFor(env string, k Key) string {
	return fmt.Sprintf("kubectl layering settings set --env %s %s=… (%s: %s)", env, k.Name, k.What, k.Where)
}

// discover finds one key's value in d, or says why it cannot.
func discover(env, key string, d *ecsstate.Deployment, current string) (found, string) {
	switch key {
	case "accountId":
		from := "sts:GetCallerIdentity (the account of these credentials)"
		if other := imageAccounts(d, d.Account); len(other) > 0 {
			from += "; note: the task definitions pull images from account " + strings.Join(other, ", ")
		}
		return found{d.Account, from}, ""
	case "region":
		return found{d.Region, fmt.Sprintf("the region ECS cluster %s answered in (AWS_REGION or the profile)", d.Cluster)}, ""
	case "efsFileSystemId":
		return fileSystem(d)
	case "inputAccessPointId", "outputAccessPointId", "logsAccessPointId":
		return accessPoint(d, strings.TrimSuffix(key, "AccessPointId"))
	case "certificateArn":
		return certificate(d)
	case "albName":
		return albName(env, d, current)
	case "alarmTopicArn":
		return alarmTopic(d)
	case "clusterName":
		return found{}, "the EKS cluster is not part of the ECS deployment (aws eks list-clusters)"
	}
	return found{}, "not read from ECS"
}

// imageAccounts are ECR accounts of the task definitions' images other than account.
func imageAccounts(d *ecsstate.Deployment, account string) []string {
	var out []string
	for _, s := range d.Services {
		for _, c := range s.TaskDefinition.Containers {
			if a := ecsstate.ParseImage(c.Image).Account; a != "" && a != account && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// efsVolume is one EFS volume of one task definition.
type efsVolume struct {
	td    string // family:revision
	vol   ecsstate.Volume
	mount string // where a container mounts it
}

func efsVolumes(d *ecsstate.Deployment) []efsVolume {
	var out []efsVolume
	for _, s := range d.Services {
		for _, v := range s.TaskDefinition.Volumes {
			if v.FileSystemID == "" {
				continue
			}
			ev := efsVolume{td: s.TaskDefinition.Ref(), vol: v}
			for _, c := range s.TaskDefinition.Containers {
				for _, m := range c.Mounts {
					if m.Volume == v.Name {
						ev.mount = m.Path
					}
				}
			}
			out = append(out, ev)
		}
	}
	return out
}

// noEFS says which task definitions were read when none has an EFS volume.
func noEFS(d *ecsstate.Deployment) string {
	var refs []string
	for _, s := range d.Services {
		refs = append(refs, s.TaskDefinition.Ref())
	}
	return fmt.Sprintf("no task definition of ECS cluster %s has an EFS volume (read: %s)", d.Cluster, strings.Join(refs, ", "))
}

func fileSystem(d *ecsstate.Deployment) (found, string) {
	vols := efsVolumes(d)
	if len(vols) == 0 {
		return found{}, noEFS(d)
	}
	ids := map[string]string{} // file system → first volume naming it
	var order []string
	for _, v := range vols {
		if _, ok := ids[v.vol.FileSystemID]; !ok {
			ids[v.vol.FileSystemID] = fmt.Sprintf("task definition %s volume %s", v.td, v.vol.Name)
			order = append(order, v.vol.FileSystemID)
		}
	}
	if len(order) > 1 {
		var named []string
		for _, id := range order {
			named = append(named, id+" ("+ids[id]+")")
		}
		return found{}, "the task definitions name several EFS file systems: " + strings.Join(named, ", ")
	}
	id := order[0]
	if !slices.ContainsFunc(d.FileSystems, func(f ecsstate.FileSystem) bool { return f.ID == id }) {
		return found{}, fmt.Sprintf("%s names %s, which EFS does not know (aws efs describe-file-systems)", ids[id], id)
	}
	return found{id, ids[id]}, ""
}

// accessPoint finds the access point of the volume named role (or mounted at
// …/role); a volume without one falls back to the access point EFS names role.
func accessPoint(d *ecsstate.Deployment, role string) (found, string) {
	vols := efsVolumes(d)
	if len(vols) == 0 {
		return found{}, noEFS(d)
	}
	for _, v := range vols {
		if v.vol.Name != role && (v.mount == "" || path.Base(v.mount) != role) {
			continue
		}
		where := fmt.Sprintf("task definition %s volume %s", v.td, v.vol.Name)
		if v.vol.AccessPointID == "" {
			for _, ap := range d.AccessPoints {
				if ap.FileSystemID == v.vol.FileSystemID && (ap.Name == role || ap.RootDirectory == "/"+role) {
					return found{ap.ID, fmt.Sprintf("EFS access point %s (root %s) of %s; %s mounts the file system without one", ap.Name, ap.RootDirectory, ap.FileSystemID, where)}, ""
				}
			}
			return found{}, fmt.Sprintf("%s uses no access point, and EFS has none named %s on %s", where, role, v.vol.FileSystemID)
		}
		if !slices.ContainsFunc(d.AccessPoints, func(a ecsstate.AccessPoint) bool {
			return a.ID == v.vol.AccessPointID && a.FileSystemID == v.vol.FileSystemID
		}) {
			return found{}, fmt.Sprintf("%s names %s, which EFS does not list for %s (aws efs describe-access-points)", where, v.vol.AccessPointID, v.vol.FileSystemID)
		}
		return found{v.vol.AccessPointID, where}, ""
	}
	return found{}, fmt.Sprintf("no task definition has an EFS volume %s (or one mounted at …/%s)", role, role)
}

func certificate(d *ecsstate.Deployment) (found, string) {
	if len(d.LoadBalancers) == 0 {
		return found{}, "the ECS services are behind no load balancer"
	}
	var certs []found
	for _, lb := range d.LoadBalancers {
		for _, l := range lb.Listeners {
			if l.Protocol == "HTTPS" && len(l.Certificates) > 0 &&
				!slices.ContainsFunc(certs, func(f found) bool { return f.value == l.Certificates[0] }) {
				certs = append(certs, found{l.Certificates[0], fmt.Sprintf("listener %d (HTTPS) of ALB %s", l.Port, lb.Name)})
			}
		}
	}
	switch len(certs) {
	case 0:
		return found{}, "the services' load balancers have no HTTPS listener"
	case 1:
		return certs[0], ""
	}
	var named []string
	for _, c := range certs {
		named = append(named, c.value+" ("+c.from+")")
	}
	return found{}, "the HTTPS listeners use different certificates: " + strings.Join(named, ", ")
}

// albName is not an ECS fact: the Ingress makes an ALB of its own. Only a
// name that is the ECS ALB's must change — ALB names are unique per account
// and region, so the AWS Load Balancer Controller could not create it.
func albName(env string, d *ecsstate.Deployment, current string) (found, string) {
	for _, lb := range d.LoadBalancers {
		if lb.Name == current {
			return found{fmt.Sprintf("layering-detection-%s-alb", env), fmt.Sprintf("%s is the ECS ALB's name (ALB names are unique per account and region); the Ingress's ALB is named like the other environments'", lb.Name)}, ""
		}
	}
	return found{}, "not an ECS fact: the Ingress makes its own ALB"
}

func alarmTopic(d *ecsstate.Deployment) (found, string) {
	var topics []found
	ecsAlarms := 0
	for _, a := range d.Alarms {
		if a.Namespace != "AWS/ECS" {
			continue
		}
		ecsAlarms++
		for _, act := range a.Actions {
			if strings.Contains(act, ":sns:") && !slices.ContainsFunc(topics, func(f found) bool { return f.value == act }) {
				topics = append(topics, found{act, "the action of ECS alarm " + a.Name})
			}
		}
	}
	switch {
	case ecsAlarms == 0:
		return found{}, "no ECS alarms found (layering-detection-<service>-high-cpu, …)"
	case len(topics) == 0:
		return found{}, fmt.Sprintf("the %d ECS alarms notify no SNS topic", ecsAlarms)
	case len(topics) > 1:
		var named []string
		for _, t := range topics {
			named = append(named, t.value)
		}
		return found{}, "the ECS alarms notify several SNS topics: " + strings.Join(named, ", ")
	}
	return topics[0], ""
}
