// Package rollback returns an environment to a recorded revision through the
// same release pipeline as deploy, and shows the history it chooses from.
package rollback

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// NoEarlierRevisionError means there is nothing to roll back to.
type NoEarlierRevisionError struct {
	Env  string
	Live int // 0: no revision at all
}

func (e *NoEarlierRevisionError) Error() string {
	if e.Live == 0 {
		return fmt.Sprintf("environment %s has no recorded revision: nothing to roll back to (deploy it first: kubectl layering deploy --env %s)", e.Env, e.Env)
	}
	return fmt.Sprintf("environment %s has no revision earlier than the one live now (%d) with other manifests: nothing to roll back to (see kubectl layering history --env %s)", e.Env, e.Live, e.Env)
}

// UnknownRevisionError names the revisions that exist.
type UnknownRevisionError struct {
	Want int
	Have []int
}

func (e *UnknownRevisionError) Error() string {
	have := make([]string, len(e.Have))
	for i, n := range e.Have {
		have[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("no revision %d: the recorded revisions are %s (the last %d are kept)", e.Want, strings.Join(have, ", "), revision.History)
}

// Target picks the revision to return to from revs (newest first; the newest
// is live). With to > 0 it is that revision. Otherwise rollback walks back:
// the newest revision older than the one the live state came from (for a
// live rollback, the revision it returned to) whose manifests differ from the
// live ones. So rolling back twice goes two steps back, never back and forth.
func Target(env string, revs []revision.Revision, to int) (revision.Revision, error) {
	if len(revs) == 0 {
		return revision.Revision{}, &NoEarlierRevisionError{Env: env}
	}
	live := revs[0]
	if to > 0 {
		for _, r := range revs {
			if r.Number == to {
				return r, nil
			}
		}
		have := make([]int, len(revs))
		for i, r := range revs {
			have[i] = r.Number
		}
		return revision.Revision{}, &UnknownRevisionError{Want: to, Have: have}
	}
	origin := live.Number
	if live.RollbackOf > 0 {
		origin = live.RollbackOf
	}
	for _, r := range revs {
		if r.Number < origin && r.Digest != live.Digest {
			return r, nil
		}
	}
	return revision.Revision{}, &NoEarlierRevisionError{Env: env, Live: live.Number}
}
