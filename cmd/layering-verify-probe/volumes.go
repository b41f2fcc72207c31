package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

func probeFile(dir string) string {
	return filepath.Join(dir, fmt.Sprintf(".layering-verify-%d", time.Now().UnixNano()))
}

// writable writes, reads back and removes a probe file as the container's user.
func writable(dir string) probeapi.Result {
	r := probeapi.Result{Check: probeapi.CheckWritable, Target: dir}
	name := probeFile(dir)
	want := []byte("layering-verify\n")
	if err := os.WriteFile(name, want, 0o644); err != nil {
		r.Detail = fmt.Sprintf("cannot write as uid %d: %v", os.Getuid(), err)
		return r
	}
	got, err := os.ReadFile(name)
	removeErr := os.Remove(name)
	switch {
	case err != nil || string(got) != string(want):
		r.Detail = fmt.Sprintf("wrote but could not read back: %v", err)
	case removeErr != nil:
		r.Detail = fmt.Sprintf("wrote and read, but cannot remove the probe file: %v", removeErr)
	default:
		r.OK, r.Detail = true, fmt.Sprintf("uid %d wrote, read back and removed a file", os.Getuid())
	}
	return r
}

// readonly expects a write to fail because the mount is read-only, and the directory to be readable.
func readonly(dir string) probeapi.Result {
	r := probeapi.Result{Check: probeapi.CheckReadOnly, Target: dir}
	name := probeFile(dir)
	err := os.WriteFile(name, []byte("x"), 0o644)
	if err == nil {
		os.Remove(name)
	}
	if r.OK, r.Detail = readOnlyVerdict(err); !r.OK {
		return r
	}
	if _, err := os.Stat(dir); err != nil {
		r.OK, r.Detail = false, "not readable: "+err.Error()
	}
	return r
}

// readOnlyVerdict judges the outcome of a write to a mount that must be read-only.
func readOnlyVerdict(writeErr error) (ok bool, detail string) {
	switch {
	case writeErr == nil:
		return false, "a write succeeded: the mount is writable"
	case errors.Is(writeErr, syscall.EROFS):
		return true, "readable, and a write fails: read-only file system"
	default:
		return false, "a write failed, but not because the mount is read-only: " + writeErr.Error()
	}
}

func markerFile(dir, marker string) string { return filepath.Join(dir, ".layering-verify-"+marker) }

// keep leaves a marker file for the pod that replaces this one to find.
func keep(dir, marker string) probeapi.Result {
	r := probeapi.Result{Check: probeapi.CheckKeep, Target: dir}
	if err := os.WriteFile(markerFile(dir, marker), []byte(marker), 0o644); err != nil {
		r.Detail = "cannot leave a marker: " + err.Error()
		return r
	}
	r.OK, r.Detail = true, "left marker "+marker
	return r
}

// expect finds the marker a previous pod left, and removes it.
func expect(dir, marker string) probeapi.Result {
	r := probeapi.Result{Check: probeapi.CheckPersists, Target: dir}
	got, err := os.ReadFile(markerFile(dir, marker))
	if err != nil || string(got) != marker {
		r.Detail = fmt.Sprintf("the file written before the pod restart is gone: %v", err)
		return r
	}
	if err := os.Remove(markerFile(dir, marker)); err != nil {
		r.Detail = "found the marker but cannot remove it: " + err.Error()
		return r
	}
	r.OK, r.Detail = true, "a file written before the pod restart was there after it"
	return r
}
