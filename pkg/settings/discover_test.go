package settings

import (
	"strings"
	"testing"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate/ecsstatetest"
)

// The prod overlay's embedded settings (placeholders).
var prodEmbedded = Settings{"accountId": "111122223333", "region": "us-east-1", "efsFileSystemId": "fs-0123456789abcdef0",
	"inputAccessPointId": "fsap-0000000000000001a", "outputAccessPointId": "fsap-0000000000000002b", "logsAccessPointId": "fsap-0000000000000003c",
	"albName": "layering-detection-alb", "certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000002"}

func prodUses() []string {
	var keys []string
	for k := range prodEmbedded {
		keys = append(keys, k)
	}
	return keys
}

// want is what a test expects of one key: action, and text the value and provenance contain.
type want struct{ action, value, from string }

func sources(s Settings, src string) map[string]string {
	out := map[string]string{}
	for k := range s {
		out[k] = src
	}
	return out
}

// Requirement (issue 13): settings init fills every setting the ECS deployment
// holds, says where each value came from, keeps what ECS cannot say, and
// lists what is missing with why.
func TestFromECS(t *testing.T) {
	baselineFound := map[string]want{
		"accountId":           {ActionSet, ecsstatetest.Account, "sts:GetCallerIdentity"},
		"region":              {ActionSet, "us-east-1", "ECS cluster layering-detection-cluster answered in"},
		"efsFileSystemId":     {ActionSet, ecsstatetest.FileSystem, "task definition layering-detection-orchestrator:2 volume input"},
		"inputAccessPointId":  {ActionSet, ecsstatetest.Input, "task definition layering-detection-orchestrator:2 volume input"},
		"outputAccessPointId": {ActionSet, ecsstatetest.Output, "task definition layering-detection-aggregator:2 volume output"},
		"logsAccessPointId":   {ActionSet, ecsstatetest.Logs, "task definition layering-detection-aggregator:2 volume logs"},
		"certificateArn":      {ActionSet, ecsstatetest.Certificate, "listener 443 (HTTPS) of ALB layering-detection-alb"},
		"albName":             {ActionSet, "layering-detection-prod-alb", "layering-detection-alb is the ECS ALB's name"},
		"clusterName":         {ActionMissing, "", "the EKS cluster is not part of the ECS deployment"},
		"alarmTopicArn":       {ActionMissing, "", "the 12 ECS alarms notify no SNS topic"},
	}
	withBaseline := func(over map[string]want) map[string]want {
		out := map[string]want{}
		for k, v := range baselineFound {
			out[k] = v
		}
		for k, v := range over {
			out[k] = v
		}
		return out
	}
	allStored := Settings{"accountId": ecsstatetest.Account, "region": "us-east-1", "efsFileSystemId": ecsstatetest.FileSystem,
		"inputAccessPointId": ecsstatetest.Input, "outputAccessPointId": ecsstatetest.Output, "logsAccessPointId": ecsstatetest.Logs,
		"certificateArn": ecsstatetest.Certificate, "albName": "layering-detection-prod-alb", "clusterName": "layering-detection"}
	orchestrator := func(d *ecsstate.Deployment) *ecsstate.Service {
		for i := range d.Services {
			if d.Services[i].Name == "layering-detection-orchestrator" {
				return &d.Services[i]
			}
		}
		t.Fatal("no orchestrator")
		return nil
	}
	tests := []struct {
		name   string
		env    string
		change func(*ecsstate.Deployment)
		stored Settings
		want   map[string]want
	}{
		{name: "the seed, nothing stored", env: "prod", want: baselineFound},
		{name: "a re-run: everything stored already", env: "prod", stored: allStored, want: map[string]want{
			"accountId": {ActionUnchanged, ecsstatetest.Account, "sts"}, "efsFileSystemId": {ActionUnchanged, ecsstatetest.FileSystem, "volume input"},
			"certificateArn": {ActionUnchanged, ecsstatetest.Certificate, "listener 443"},
			"albName":        {ActionKept, "layering-detection-prod-alb", "not an ECS fact"},
			"clusterName":    {ActionKept, "layering-detection", "not part of the ECS deployment"},
		}},
		{name: "an access point changed in the task definition", env: "prod", stored: allStored,
			change: func(d *ecsstate.Deployment) {
				orchestrator(d).TaskDefinition.Volumes[0].AccessPointID = "fsap-0aaaaaaaaaaaaaaa1"
				d.AccessPoints = append(d.AccessPoints, ecsstate.AccessPoint{ID: "fsap-0aaaaaaaaaaaaaaa1", FileSystemID: ecsstatetest.FileSystem, Name: "input2"})
			},
			want: map[string]want{"inputAccessPointId": {ActionSet, "fsap-0aaaaaaaaaaaaaaa1", "volume input"}, "outputAccessPointId": {ActionUnchanged, ecsstatetest.Output, ""}}},
		{name: "the orchestrator's task definition has no EFS volumes", env: "prod",
			change: func(d *ecsstate.Deployment) {
				o := orchestrator(d)
				o.TaskDefinition.Volumes, o.TaskDefinition.Containers[0].Mounts = nil, nil
			},
			want: withBaseline(map[string]want{
				"inputAccessPointId": {ActionMissing, "", "no task definition has an EFS volume input"},
				"efsFileSystemId":    {ActionSet, ecsstatetest.FileSystem, "task definition layering-detection-aggregator:2 volume output"},
			})},
		{name: "no task definition has EFS volumes", env: "prod",
			change: func(d *ecsstate.Deployment) {
				for i := range d.Services {
					d.Services[i].TaskDefinition.Volumes = nil
				}
			},
			want: withBaseline(map[string]want{
				"efsFileSystemId":     {ActionMissing, "", "no task definition of ECS cluster layering-detection-cluster has an EFS volume (read: layering-detection-orchestrator:2, layering-detection-layering:2"},
				"logsAccessPointId":   {ActionMissing, "", "has an EFS volume"},
				"outputAccessPointId": {ActionMissing, "", "has an EFS volume"},
				"inputAccessPointId":  {ActionMissing, "", "has an EFS volume"},
			})},
		{name: "a volume without an access point: EFS's access point of that name", env: "prod",
			change: func(d *ecsstate.Deployment) { orchestrator(d).TaskDefinition.Volumes[0].AccessPointID = "" },
			want:   withBaseline(map[string]want{"inputAccessPointId": {ActionSet, ecsstatetest.Input, "EFS access point input (root /input) of " + ecsstatetest.FileSystem}})},
		{name: "an access point EFS does not list", env: "prod",
			change: func(d *ecsstate.Deployment) { d.AccessPoints = d.AccessPoints[1:] },
			want:   withBaseline(map[string]want{"inputAccessPointId": {ActionMissing, "", "names " + ecsstatetest.Input + ", which EFS does not list"}})},
		{name: "a file system EFS does not know", env: "prod",
			change: func(d *ecsstate.Deployment) { d.FileSystems = nil },
			want:   withBaseline(map[string]want{"efsFileSystemId": {ActionMissing, "", "which EFS does not know"}})},
		{name: "two file systems", env: "prod",
			change: func(d *ecsstate.Deployment) {
				orchestrator(d).TaskDefinition.Volumes[0].FileSystemID = "fs-0bbbbbbbbbbbbbbbb"
			},
			want: withBaseline(map[string]want{"efsFileSystemId": {ActionMissing, "", "several EFS file systems: fs-0bbbbbbbbbbbbbbbb (task definition layering-detection-orchestrator:2 volume input), " + ecsstatetest.FileSystem},
				"inputAccessPointId": {ActionMissing, "", "which EFS does not list for fs-0bbbbbbbbbbbbbbbb"}})},
		{name: "no HTTPS listener", env: "prod",
			change: func(d *ecsstate.Deployment) { d.LoadBalancers[0].Listeners = d.LoadBalancers[0].Listeners[:1] },
			want:   withBaseline(map[string]want{"certificateArn": {ActionMissing, "", "no HTTPS listener"}})},
		{name: "the ECS alarms notify a topic", env: "prod",
			change: func(d *ecsstate.Deployment) {
				d.Alarms[0].Actions = []string{"arn:aws:sns:us-east-1:210987654321:layering-detection-alerts"}
			},
			want: withBaseline(map[string]want{"alarmTopicArn": {ActionSet, "arn:aws:sns:us-east-1:210987654321:layering-detection-alerts", "the action of ECS alarm layering-detection-orchestrator-high-cpu"}})},
		{name: "credentials of the placeholder account", env: "prod",
			change: func(d *ecsstate.Deployment) { d.Account = "111122223333" },
			want:   withBaseline(map[string]want{"accountId": {ActionMissing, "", `gives 111122223333, still the placeholder "111122223333"`}})},
		{name: "images from another account", env: "prod",
			change: func(d *ecsstate.Deployment) { d.Account = "444455556666" },
			want:   withBaseline(map[string]want{"accountId": {ActionSet, "444455556666", "note: the task definitions pull images from account " + ecsstatetest.Account}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ecsstatetest.Baseline()
			if tc.change != nil {
				tc.change(d)
			}
			effective := Settings{}
			for k, v := range prodEmbedded {
				effective[k] = v
			}
			for k, v := range tc.stored {
				effective[k] = v
			}
			got := map[string]Finding{}
			for _, f := range FromECS(tc.env, d, prodUses(), tc.stored, effective, sources(effective, "embedded")) {
				got[f.Key] = f
			}
			if len(got) != 10 {
				t.Errorf("%d findings, want one per key (10): %v", len(got), got)
			}
			for key, w := range tc.want {
				f := got[key]
				if f.Action != w.action || f.Value != w.value || !strings.Contains(f.From, w.from) {
					t.Errorf("%s = %s %q from %q; want %s %q from …%q…", key, f.Action, f.Value, f.From, w.action, w.value, w.from)
				}
				if f.Action == ActionMissing && !strings.Contains(f.Fix, "kubectl layering settings set --env prod "+key+"=") {
					t.Errorf("%s is missing without a fix: %q", key, f.Fix)
				}
			}
		})
	}
}

// Requirement: an environment without a certificate (dev: plain HTTP) is not
// given one, and its own ALB name is kept.
func TestFromECSDevUsesItsOwnKeys(t *testing.T) {
	uses := []string{"accountId", "region", "efsFileSystemId", "inputAccessPointId", "outputAccessPointId", "logsAccessPointId", "albName"}
	effective := Settings{"albName": "layering-detection-dev-alb"}
	for _, f := range FromECS("dev", ecsstatetest.Baseline(), uses, nil, effective, sources(effective, "embedded")) {
		switch f.Key {
		case "certificateArn":
			t.Errorf("dev was given a certificate: %+v", f)
		case "albName":
			if f.Action != ActionKept || f.Value != "layering-detection-dev-alb" || f.Source != "embedded" {
				t.Errorf("dev albName: %+v", f)
			}
		case "clusterName", "alarmTopicArn":
			if f.Needed {
				t.Errorf("%s is not needed by deploy", f.Key)
			}
		default:
			if !f.Needed || f.Action != ActionSet {
				t.Errorf("%s: %+v", f.Key, f)
			}
		}
	}
}
