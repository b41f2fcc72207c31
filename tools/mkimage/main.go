// Command mkimage writes a container image FROM scratch as a docker-archive
// (the `docker save` layout) that `ctr images import` and `docker load` accept.
// No Docker engine runs on the project's machines, so images are assembled here
// from static binaries.
//
//	mkimage -tag layering-detection-orchestrator:0.1.0 -out bin/images/orchestrator.tar \
//	    -file bin/orchestrator-service=/orchestrator-service -entrypoint /orchestrator-service -user 1000:1000
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var files, args, env, labels, ports listFlag
	tag := flag.String("tag", "", "image reference, name:tag (required)")
	out := flag.String("out", "", "output archive path (required)")
	user := flag.String("user", "1000:1000", "uid:gid the image runs as")
	entrypoint := flag.String("entrypoint", "", "entrypoint path inside the image (default: the first -file)")
	flag.Var(&files, "file", "host=image path of a file to include, mode 0755 (repeatable)")
	flag.Var(&args, "arg", "argument appended to the entrypoint (repeatable)")
	flag.Var(&env, "env", "KEY=VALUE in the image config (repeatable)")
	flag.Var(&labels, "label", "KEY=VALUE image label (repeatable)")
	flag.Var(&ports, "port", "exposed port, e.g. 8000/tcp (repeatable)")
	flag.Parse()
	if *tag == "" || *out == "" || len(files) == 0 {
		fmt.Fprintln(os.Stderr, "mkimage: -tag, -out and at least one -file are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*tag, *out, *user, *entrypoint, files, args, env, labels, ports); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func write(tag, out, user, entrypoint string, files, args, env, labels, ports []string) error {
	// A fixed timestamp keeps archives byte-reproducible for the same inputs.
	epoch := time.Unix(0, 0).UTC()
	layer, first, err := buildLayer(files, epoch)
	if err != nil {
		return err
	}
	if entrypoint == "" {
		entrypoint = first
	}
	config := map[string]any{
		"Entrypoint": append([]string{entrypoint}, args...),
		"User":       user,
		"Env":        append([]string{"PATH=/"}, env...),
		"WorkingDir": "/",
	}
	if len(labels) > 0 {
		config["Labels"] = keyValues(labels)
	}
	if len(ports) > 0 {
		exposed := map[string]struct{}{}
		for _, p := range ports {
			exposed[p] = struct{}{}
		}
		config["ExposedPorts"] = exposed
	}
	imageConfig, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config":       config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", sha256.Sum256(layer))}},
	})
	if err != nil {
		return err
	}
	configName := fmt.Sprintf("%x.json", sha256.Sum256(imageConfig))
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{"layer.tar"}}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(path.Dir(out), 0o755); err != nil {
		return err
	}
	// Write to a temporary name and rename, so an interrupted build never leaves a truncated archive.
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{configName, imageConfig}, {"layer.tar", layer}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// buildLayer returns the single filesystem layer: a world-writable /tmp (pods
// mount an emptyDir over it when the root filesystem is read-only) and the files.
func buildLayer(files []string, epoch time.Time) ([]byte, string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch}); err != nil {
		return nil, "", err
	}
	dirs := map[string]bool{"tmp": true}
	var first string
	for _, spec := range files {
		host, inImage, ok := strings.Cut(spec, "=")
		if !ok || !strings.HasPrefix(inImage, "/") {
			return nil, "", fmt.Errorf("-file %q: want HOST=/ABSOLUTE/PATH", spec)
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return nil, "", err
		}
		if first == "" {
			first = inImage
		}
		name := strings.TrimPrefix(path.Clean(inImage), "/")
		// Parent directories must precede their files in the tar.
		var parents []string
		for d := path.Dir(name); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		sort.Strings(parents)
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, "", err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), first, nil
}

func keyValues(pairs []string) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return m
}
