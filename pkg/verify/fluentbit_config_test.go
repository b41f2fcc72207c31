package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	fluentbit "github.com/calyptia/go-fluentbit-config/v2"
	"github.com/calyptia/go-fluentbit-config/v2/property"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

// monitoringBundle renders the embedded log shipping: its DaemonSet and the
// Fluent Bit configuration the DaemonSet mounts.
func monitoringBundle(t *testing.T) (*appsv1.DaemonSet, string) {
	t.Helper()
	tree, err := manifests.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	m, err := deploy.RenderMonitoring(tree)
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	configMaps := map[string]corev1.ConfigMap{}
	for _, o := range m.Objects {
		switch o.GetKind() {
		case "DaemonSet":
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ds); err != nil {
				t.Fatal(err)
			}
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cm); err != nil {
				t.Fatal(err)
			}
			configMaps[cm.Name] = cm
		}
	}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			return &ds, configMaps[v.ConfigMap.Name].Data["fluent-bit.conf"]
		}
	}
	t.Fatal("the DaemonSet mounts no ConfigMap")
	return nil, ""
}

// fluentBitSchema is the library's Fluent Bit plugin schema plus the generic input
// property the configuration uses: Mem_Buf_Limit applies to every input
// (Fluent Bit's "Buffering and Memory" docs), so the per-plugin schema lacks it.
func fluentBitSchema() fluentbit.Schema {
	s := fluentbit.DefaultSchema
	s.Inputs = append([]fluentbit.SchemaSection{}, s.Inputs...)
	for i, in := range s.Inputs {
		if in.Name == "tail" {
			s.Inputs[i].Properties.Options = append(append([]fluentbit.SchemaOptions{}, in.Properties.Options...), fluentbit.SchemaOptions{Name: "mem_buf_limit", Type: "size"})
		}
	}
	return s
}

func parse(t *testing.T, conf string) fluentbit.Config {
	t.Helper()
	var c fluentbit.Config
	if err := c.UnmarshalClassic([]byte(conf)); err != nil {
		t.Fatalf("fluent-bit.conf does not parse: %v", err)
	}
	return c
}

func prop(pp property.Properties, key string) string {
	v, ok := pp.Get(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

func on(pp property.Properties, key string) bool {
	switch strings.ToLower(prop(pp, key)) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

// Requirement (issue 12): the Fluent Bit configuration parses and validates
// against Fluent Bit's plugin schema (calyptia/go-fluentbit-config), and
// ships exactly what verify --check logging reads: tail of the platform's
// containers → kubernetes metadata with labels → cloudwatch_logs into
// /ecs/layering-detection/<service>, streams ecs/<namespace>/<pod>, 7 days,
// in the DaemonSet's AWS_REGION.
func TestFluentBitConfigShipsToTheGroupsVerifyReads(t *testing.T) {
	ds, conf := monitoringBundle(t)
	c := parse(t, conf)
	if err := c.ValidateWithSchema(fluentBitSchema()); err != nil {
		t.Fatalf("fluent-bit.conf does not validate: %v", err)
	}
	if len(c.Pipeline.Inputs) != 1 || len(c.Pipeline.Filters) != 1 || len(c.Pipeline.Outputs) != 1 {
		t.Fatalf("want one input, one filter, one output: %v", c.IDs(true))
	}
	in, filter, out := c.Pipeline.Inputs[0], c.Pipeline.Filters[0], c.Pipeline.Outputs[0]
	container := ds.Spec.Template.Spec.Containers[0]

	// Input: the CRI log files of the layering-detection-* namespaces' pods.
	if in.Name != "tail" || prop(in.Properties, "multiline.parser") != "cri" || prop(in.Properties, "Tag") != "kube.*" {
		t.Errorf("input %s: %v", in.Name, in.Properties)
	}
	if p := prop(in.Properties, "Path"); p != "/var/log/containers/*_layering-detection-*_*.log" || !mounted(container, p, true) {
		t.Errorf("input path %q: not the platform's containers under a /var/log mount", p)
	}
	if db := prop(in.Properties, "DB"); !mounted(container, db, false) {
		t.Errorf("tail DB %q is not on a writable mount: offsets would be lost with each pod", db)
	}
	// Filter: pod labels, which name the log group.
	if filter.Name != "kubernetes" || prop(filter.Properties, "Match") != "kube.*" || !on(filter.Properties, "Labels") || !on(filter.Properties, "Merge_Log") {
		t.Errorf("filter %s: %v", filter.Name, filter.Properties)
	}
	// Output: the groups and streams verify reads, in the DaemonSet's region.
	if out.Name != "cloudwatch_logs" || prop(out.Properties, "Match") != "kube.*" {
		t.Errorf("output %s: %v", out.Name, out.Properties)
	}
	if r := prop(out.Properties, "region"); r != "${AWS_REGION}" || container.Env[0].Name != "AWS_REGION" || container.Env[0].Value == "" {
		t.Errorf("region %q, container env %v: the output must take the DaemonSet's AWS_REGION", r, container.Env)
	}
	for _, service := range []string{"orchestrator", "layering", "wash-trading", "aggregator"} {
		got := strings.ReplaceAll(prop(out.Properties, "log_group_template"), "$kubernetes['labels']['app.kubernetes.io/name']", service)
		if got != LogGroup(service) {
			t.Errorf("log group of %s: the config ships to %q, verify reads %q", service, got, LogGroup(service))
		}
	}
	stream := strings.ReplaceAll(prop(out.Properties, "log_stream_template"), "$kubernetes['namespace_name']", "layering-detection-prod")
	if !strings.HasPrefix(stream, LogStreamPrefix("layering-detection-prod")) || !strings.HasSuffix(stream, "$kubernetes['pod_name']") {
		t.Errorf("stream template gives %q; verify reads streams under %q", stream, LogStreamPrefix("layering-detection-prod"))
	}
	if !strings.HasPrefix(prop(out.Properties, "log_group_name"), "/ecs/layering-detection/") || prop(out.Properties, "log_stream_prefix") != "ecs/" {
		t.Errorf("fallback group or stream prefix outside the ECS naming: %v", out.Properties)
	}
	if prop(out.Properties, "log_retention_days") != "7" || !on(out.Properties, "auto_create_group") {
		t.Errorf("retention %q (ECS: 7 days), auto_create_group %q", prop(out.Properties, "log_retention_days"), prop(out.Properties, "auto_create_group"))
	}
	// Service: the health endpoint the DaemonSet's probes call.
	if !on(c.Service, "HTTP_Server") || !on(c.Service, "Health_Check") || prop(c.Service, "HTTP_Port") != fmt.Sprint(container.Ports[0].ContainerPort) ||
		container.ReadinessProbe.HTTPGet.Path != "/api/v1/health" {
		t.Errorf("service %v; container port %d, readiness %s", c.Service, container.Ports[0].ContainerPort, container.ReadinessProbe.HTTPGet.Path)
	}
}

// Requirement (issue 12): the validation above can fail: a wrong value, an
// unknown property and an unknown plugin are each refused.
func TestFluentBitConfigValidationRefusesMistakes(t *testing.T) {
	_, conf := monitoringBundle(t)
	for _, c := range []struct{ from, to, want string }{
		{"auto_create_group   On", "auto_create_group   Maybe", "auto_create_group"},
		{"log_retention_days  7", "log_retention_day   7", "unknown property"},
		{"Name                cloudwatch_logs", "Name                cloudwatch_log", "cloudwatch_log"},
	} {
		if !strings.Contains(conf, c.from) {
			t.Fatalf("fluent-bit.conf lacks %q", c.from)
		}
		err := parse(t, strings.Replace(conf, c.from, c.to, 1)).ValidateWithSchema(fluentBitSchema())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: validation %v, want an error naming %q", c.to, err, c.want)
		}
	}
}

// mounted tells whether file lies under one of container's mounts (writable unless readOnly is allowed).
func mounted(container corev1.Container, file string, readOnly bool) bool {
	for _, m := range container.VolumeMounts {
		if strings.HasPrefix(path.Clean(file), strings.TrimSuffix(m.MountPath, "/")+"/") && (readOnly || !m.ReadOnly) {
			return true
		}
	}
	return false
}

// policy reads one of docs/iam's policies: action → resource patterns.
func policy(t *testing.T, name string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect   string
			Action   any
			Resource any
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	list := func(v any) []string {
		if s, ok := v.(string); ok {
			return []string{s}
		}
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	grants := map[string][]string{}
	for _, s := range doc.Statement {
		for _, a := range list(s.Action) {
			if s.Effect == "Allow" {
				grants[a] = append(grants[a], list(s.Resource)...)
			}
		}
	}
	return grants
}

// allows tells whether one of patterns (IAM wildcards) matches arn.
func allows(patterns []string, arn string) bool {
	for _, p := range patterns {
		if regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$").MatchString(arn) {
			return true
		}
	}
	return false
}

// Requirement (issue 12): least privilege: the Fluent Bit role may write the
// services' log groups (creating them and their retention, as the
// configuration asks) and nothing else; verify's policy reads exactly what
// the logging check calls on exactly those groups.
func TestIAMPoliciesCoverLogShipping(t *testing.T) {
	const account, region = "111122223333", "us-east-1"
	group := func(name string) string { return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name }
	shipping := policy(t, "fluent-bit-policy.json")
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:PutRetentionPolicy"} {
		for _, s := range []string{"orchestrator", "layering", "wash-trading", "aggregator"} {
			if !allows(shipping[a], group(LogGroup(s))+":log-stream:ecs/layering-detection-prod/pod") || !allows(shipping[a], group(LogGroup(s))) {
				t.Errorf("fluent-bit-policy.json does not grant %s on %s", a, LogGroup(s))
			}
		}
		if allows(shipping[a], group("/aws/lambda/someone-else")) {
			t.Errorf("fluent-bit-policy.json grants %s beyond the services' groups", a)
		}
	}
	read := policy(t, "verify-logging-policy.json")
	if len(read) != 1 || !allows(read["logs:FilterLogEvents"], group(LogGroup("layering"))) || allows(read["logs:FilterLogEvents"], group("/other")) {
		t.Errorf("verify-logging-policy.json: %v; want logs:FilterLogEvents on the services' groups only", read)
	}
}
