package deploy

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/pkg/util"
	"sigs.k8s.io/kustomize/api/types"
)

// ImageOverrides are --image-tag (every service) and --image SERVICE=REF.
type ImageOverrides struct {
	Tag      string
	Services map[string]string
}

// ParseImageFlags parses repeated SERVICE=REF values.
func ParseImageFlags(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		service, ref, ok := strings.Cut(v, "=")
		if !ok || service == "" || ref == "" {
			return nil, fmt.Errorf("--image %q: want SERVICE=IMAGE, e.g. orchestrator=registry/layering-detection-orchestrator:1.2.3", v)
		}
		out[service] = ref
	}
	return out, nil
}

// ServiceImages maps each service (a Deployment's app.kubernetes.io/name) to its first container's image.
func ServiceImages(objs []*unstructured.Unstructured) map[string]string {
	images := map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(containers) == 0 {
			continue
		}
		if image, ok := containers[0].(map[string]any)["image"].(string); ok {
			images[o.GetLabels()["app.kubernetes.io/name"]] = image
		}
	}
	return images
}

// Resolve turns the overrides into Kustomize image replacements, given the
// images the overlay renders; an unknown service is an error naming the known ones.
func (o ImageOverrides) Resolve(rendered map[string]string) ([]types.Image, error) {
	var known []string
	for s := range rendered {
		known = append(known, s)
	}
	sort.Strings(known)
	for s := range o.Services {
		if _, ok := rendered[s]; !ok {
			return nil, fmt.Errorf("--image %s=…: unknown service %q: services are %s", s, s, strings.Join(known, ", "))
		}
	}
	var images []types.Image
	for _, s := range known {
		name, _, _ := util.SplitImageName(rendered[s])
		if ref, ok := o.Services[s]; ok {
			newName, tag, digest := util.SplitImageName(ref)
			images = append(images, types.Image{Name: name, NewName: newName, NewTag: tag, Digest: digest})
		} else if o.Tag != "" {
			images = append(images, types.Image{Name: name, NewTag: o.Tag})
		}
	}
	return images, nil
}

// CheckPinned refuses, for prod, any image without a tag or digest or tagged
// "latest": production must name exactly what it runs.
func CheckPinned(env string, images map[string]string) error {
	if env != "prod" {
		return nil
	}
	var bad []string
	for s, ref := range images {
		_, tag, digest := util.SplitImageName(ref)
		if digest == "" && (tag == "" || tag == "latest") {
			bad = append(bad, fmt.Sprintf("%s (%s)", s, ref))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("prod refuses untagged or latest images: %s; give a version tag or digest (--image-tag or --image SERVICE=IMAGE:TAG)", strings.Join(bad, ", "))
}
