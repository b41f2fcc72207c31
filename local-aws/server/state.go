package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// stateVersion changes when the file's shape or the seed's identifiers
// change; an older file is reseeded.
const stateVersion = 2

// State is everything local-aws holds, persisted as one JSON file.
type State struct {
	Version   int       `json:"version"`
	Region    string    `json:"region"`
	AccountID string    `json:"accountId"`
	ECS       ecsState  `json:"ecs"`
	ELB       elbState  `json:"elb"`
	CW        cwState   `json:"cloudwatch"`
	Logs      logsState `json:"logs"`
	AAS       aasState  `json:"applicationAutoScaling"`
	EFS       efsState  `json:"efs"`
	SM        smState   `json:"secretsManager"`

	changed bool // advance changed something that must be saved
}

// loadState reads the state file; nil without error means there is none yet.
func loadState(path string) (*State, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s is not a local-aws state file (%v); remove it to start from the seed", path, err)
	}
	if st.Version != stateVersion {
		return nil, nil
	}
	return &st, nil
}

// save writes the state atomically (write, then rename).
func (st *State) save(path string) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// advance moves everything that changes with time up to now.
func (st *State) advance(now time.Time, step time.Duration) {
	if st.advanceECS(now, step) {
		st.changed = true
	}
	st.sampleECSMetrics(now)
	if st.evaluateAlarms(now) {
		st.changed = true
	}
}

// --- helpers shared by the services

// hexID is a stable id of n hex digits derived from a name, so ARNs are the
// same on every seed.
func hexID(name string, n int) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[:n]
}

// pageOf returns one page of items starting at the opaque token and the token
// of the next page ("" on the last). ok is false for a token this server did
// not issue.
func pageOf[T any](items []T, token string, size int) (page []T, next string, ok bool) {
	start := 0
	if token != "" {
		if start, ok = decodeOffset(token); !ok || start > len(items) {
			return nil, "", false
		}
	}
	end := start + size
	if end >= len(items) {
		return items[start:], "", true
	}
	return items[start:end], encodeOffset(end), true
}

// Tokens are opaque to clients; here they carry an offset.
func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("local-aws:" + strconv.Itoa(n)))
}

func decodeOffset(token string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(b), "local-aws:") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "local-aws:"))
	return n, err == nil && n >= 0
}

// pageSize picks the requested size within 1..max, or def when unset.
func pageSize(requested, def, max int) int {
	if requested <= 0 {
		return def
	}
	if requested > max {
		return max
	}
	return requested
}

func epochMillis(t time.Time) int64 { return t.UnixMilli() }
