//go:build e2e

// The runbooks (issue 14): every shell block of docs/migration.md and
// docs/rollback.md runs, in the documents' order, against the local cluster's
// `local` environment and the local AWS, so the documented commands are the
// ones that work. Where a document says prod, the test runs local; holds are
// seconds; `kubectl layering` is the plugin built for the test; the AWS CLI
// is Debian's, pointed at the local endpoint. A block's fence says the exit
// status it documents (```sh exit=1); otherwise it must succeed.
package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layering-detection/kubectl-layering/pkg/cutover"
)

// runbookLocal turns a documented command into the local one.
var runbookLocal = strings.NewReplacer(
	"--env prod", "--env local",
	"layering-detection-prod", "layering-detection-local",
	"--hold 5m", "--hold 2s",
	"--hold 30m", "--hold 2s",
)

type shellBlock struct {
	doc, script string
	line, exit  int
}

// shellBlocks reads the ```sh blocks of a Markdown file.
func shellBlocks(t *testing.T, path string) []shellBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []shellBlock
	var cur *shellBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(l, "```sh"):
			cur = &shellBlock{doc: filepath.Base(path), line: n}
			if v, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(l, "```sh")), "exit="); ok {
				cur.exit, _ = strconv.Atoi(v)
			}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.script += l + "\n"
		}
	}
	return out
}

func TestRunbooks(t *testing.T) {
	ctx := clusterCtx(t, 30*time.Minute)
	r := newCutoverRig(ctx, t)
	r.control(t, http.MethodPost, "reset", "")
	r.control(t, http.MethodDelete, "faults", "")
	r.control(t, http.MethodDelete, "target-health", "")
	mustDeployHealthy(ctx, t, "--wait-for-metrics")
	r.registerPods(ctx, t)
	if err := clusterClient(t).CoreV1().ConfigMaps(localNamespace).Delete(ctx, cutover.RecordName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	installTestCRDs(ctx, t, platformConfig(t)) // `kubectl get targetgroupbindings` is served here, with none in local
	retagImages(t, "1.2.0")                    // the release rollback.md rolls back

	awsCLI := "aws"
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		awsCLI = "/usr/bin/aws"
	}
	prelude := `set -euo pipefail
kubectl() { if [ "$1" = layering ]; then shift; "$PLUGIN" "$@" --kubeconfig "$KCFG"; else command kubectl --kubeconfig "$KCFG" "$@"; fi; }
aws() { "$AWSCLI" --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
`
	root := clusterRepoRoot(t)
	blocks := append(shellBlocks(t, filepath.Join(root, "docs", "migration.md")), shellBlocks(t, filepath.Join(root, "docs", "rollback.md"))...)
	if len(blocks) < 10 {
		t.Fatalf("only %d shell blocks in the runbooks", len(blocks))
	}
	for _, b := range blocks {
		script := runbookLocal.Replace(b.script)
		name := b.doc + ":" + strconv.Itoa(b.line)
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, "bash", "-c", prelude+script)
			cmd.Env = append(os.Environ(), "PLUGIN="+plugin(t), "KCFG="+clusterKubeconfigPath(t), "AWSCLI="+awsCLI)
			for k, v := range r.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			start := time.Now()
			out, err := cmd.CombinedOutput()
			code := exitCode(err)
			t.Logf("%s(%s, exit %d)\n%s", script, time.Since(start).Round(100*time.Millisecond), code, out)
			if code != b.exit {
				t.Fatalf("%s: exit %d, the runbook documents %d", name, code, b.exit)
			}
		})
	}
}
