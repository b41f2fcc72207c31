package rollback

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Entry is one revision as history shows it.
type Entry struct {
	Number        int               `json:"number"`
	Time          time.Time         `json:"time"`
	User          string            `json:"user"`
	Description   string            `json:"description"`
	Digest        string            `json:"digest"`
	Images        map[string]string `json:"images"`
	Live          bool              `json:"live"`
	ImagesChanged []string          `json:"imagesChanged"` // services whose image differs from the revision before
	ConfigChanged bool              `json:"configChanged"` // anything but images differs from the revision before
}

// History is the revisions of an environment, newest first (-o json|yaml, or a table).
type History []Entry

// NewHistory describes revs (newest first, with manifests); the newest is live.
func NewHistory(revs []revision.Revision) History {
	h := make(History, len(revs))
	for i, r := range revs {
		e := Entry{Number: r.Number, Time: r.Time, User: r.User, Description: r.Description, Digest: r.Digest, Images: r.Images, Live: i == 0}
		if e.Description == "" {
			e.Description = "deploy"
		}
		if i+1 < len(revs) {
			before := revs[i+1]
			e.ImagesChanged = imagesChanged(before.Images, r.Images)
			e.ConfigChanged = configChanged(before.Manifest, r.Manifest)
		}
		h[i] = e
	}
	return h
}

func imagesChanged(before, after map[string]string) []string {
	var changed []string
	for s, img := range after {
		if before[s] != img {
			changed = append(changed, s)
		}
	}
	for s := range before {
		if _, ok := after[s]; !ok {
			changed = append(changed, s)
		}
	}
	sort.Strings(changed)
	return changed
}

// configChanged tells whether two manifests differ in anything but container
// images. Generated ConfigMap names carry a content hash, so a changed value
// shows as a changed name; unreadable manifests count as changed.
func configChanged(before, after []byte) bool {
	a, errA := withoutImages(before)
	b, errB := withoutImages(after)
	return errA != nil || errB != nil || a != b
}

func withoutImages(manifest []byte) (string, error) {
	objs, err := manifests.ObjectsFromYAML(manifest)
	if err != nil {
		return "", err
	}
	byKey := map[string]any{}
	for _, o := range objs {
		c := o.DeepCopy()
		for _, field := range []string{"containers", "initContainers"} {
			containers, _, _ := unstructured.NestedSlice(c.Object, "spec", "template", "spec", field)
			for _, x := range containers {
				if m, ok := x.(map[string]any); ok {
					delete(m, "image")
				}
			}
			if containers != nil {
				_ = unstructured.SetNestedSlice(c.Object, containers, "spec", "template", "spec", field)
			}
		}
		byKey[c.GetNamespace()+"/"+kube.Key(c)] = c.Object
	}
	data, err := json.Marshal(byKey) // map keys are sorted: a stable form
	return string(data), err
}

func (History) Header() []string {
	return []string{"REVISION", "LIVE", "TIME", "USER", "DESCRIPTION", "IMAGES CHANGED", "CONFIG CHANGED"}
}

func (h History) Rows() [][]string {
	rows := make([][]string, len(h))
	for i, e := range h {
		live, config, images := "", "no", strings.Join(e.ImagesChanged, ",")
		if e.Live {
			live = "*"
		}
		if e.ConfigChanged {
			config = "yes"
		}
		if i == len(h)-1 {
			config, images = "-", "-" // nothing recorded before it
		}
		rows[i] = []string{fmt.Sprint(e.Number), live, e.Time.Local().Format("2006-01-02 15:04:05"), e.User, e.Description, images, config}
	}
	return rows
}
