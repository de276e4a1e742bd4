package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// journalKey is the inventory meta key of the renewal journal: the serials
// a renewal run set out to replace, written before it replaces any and
// removed when it ends. Finding it means a run was interrupted.
const journalKey = "lifecycle.renew"

type journal struct {
	Started time.Time `json:"started"`
	Serials []string  `json:"serials"`
}

// Selection says which active certificates Renew replaces. With no Names,
// no All and no Within, it selects those inside the renewal window
// (InWindow).
type Selection struct {
	Names  []string      // as issue.Find reads them: NAME, ROLE/NAME or SERIAL
	Role   string        // only this role; "" any
	Within time.Duration // only those expiring within this long
	All    bool          // every active certificate
}

// RenewOptions tune how certificates are re-issued.
type RenewOptions struct {
	ReuseKey bool          // keep each endpoint's key (its key file must hold it)
	Validity time.Duration // lifetime of the new certificates; zero: that of the old ones
	DryRun   bool          // only report what would be renewed; change nothing
}

// Action is what a renewal or a rotation phase did to one endpoint.
type Action string

// The actions.
const (
	Renewed    Action = "renewed"
	WouldRenew Action = "would renew" // RenewOptions.DryRun
	Completed  Action = "completed"   // the files of a renewal a crash interrupted were put in place
	Reissued   Action = "re-issued"   // under the other CA of a rotation
	Failed     Action = "failed"      // see Error
)

// Renewal is the outcome for one endpoint.
type Renewal struct {
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	OldSerial string    `json:"old_serial"`
	NewSerial string    `json:"new_serial,omitempty"`
	NotAfter  time.Time `json:"not_after"`
	Action    Action    `json:"action"`
	Error     string    `json:"error,omitempty"`
}

// Renew replaces the selected active certificates with new ones from m.CA:
// same role, names and addresses, new key unless ReuseKey, through issue's
// bulk pipeline (keys and signatures on every core, files staged, batches
// recorded in one transaction each that supersedes and links the old
// records, files renamed into place afterwards). It first finishes an
// interrupted run (Recover and the journal), so re-running after a crash
// completes the job without renewing anything twice. An endpoint the plan
// refuses (a lifetime that would outlive the CA, names the CA no longer
// permits) does not stop the others; the errors are joined.
func (m *Manager) Renew(ctx context.Context, sel Selection, opts RenewOptions) ([]Renewal, error) {
	var out []Renewal
	if !opts.DryRun {
		if err := m.needCA(); err != nil {
			return nil, err
		}
		m.decryptAhead(m.Layout.CADir())
		done, err := m.Recover()
		if err != nil {
			return nil, err
		}
		for _, r := range done {
			out = append(out, Renewal{Role: r.Role, Name: r.Name, OldSerial: r.Supersedes, NewSerial: r.Serial, NotAfter: r.NotAfter, Action: Completed})
		}
	}
	todo, err := m.plan(sel, out)
	if err != nil {
		return out, err
	}
	if opts.DryRun {
		for _, r := range todo {
			out = append(out, Renewal{Role: r.Role, Name: r.Name, OldSerial: r.Serial, NotAfter: r.NotAfter, Action: WouldRenew})
		}
		return out, nil
	}
	// The journal is written once the CA key is loaded and the first batch
	// is ready, so a run that cannot sign leaves the journal as it was.
	journaled := false
	b := issue.BulkOptions{
		Kind: store.EventRenew, Recovered: true, LoadCA: m.keysLater(),
		BeforeCommit: func() error {
			journaled = true
			return m.writeJournal(todo)
		},
	}
	done, err := m.replace(ctx, m.CA, todo, issue.ReissueOptions{ReuseKey: opts.ReuseKey, Validity: opts.Validity}, b, Renewed, false)
	out = append(out, done...)
	errs := []error{err}
	if journaled {
		if err := m.Store.Apply(store.Batch{Meta: map[string][]byte{journalKey: nil}}, m.Actor); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// plan returns the active records to renew: what an interrupted run left,
// then the fresh selection, each endpoint once, leaving out endpoints whose
// renewal was just completed.
func (m *Manager) plan(sel Selection, completed []Renewal) ([]store.Record, error) {
	done := map[string]bool{}
	for _, r := range completed {
		done[r.Role+"/"+r.Name] = true
	}
	var todo []store.Record
	add := func(r store.Record) {
		k := r.Role + "/" + r.Name
		if !done[k] {
			done[k] = true
			todo = append(todo, r)
		}
	}
	left, finished, err := m.readJournal()
	if err != nil {
		return nil, err
	}
	for _, r := range finished {
		done[r.Role+"/"+r.Name] = true
	}
	for _, r := range left {
		add(r)
	}
	fresh, err := m.selectRecords(sel)
	if err != nil {
		return nil, err
	}
	for _, r := range fresh {
		add(r)
	}
	return todo, nil
}

// selectRecords applies sel to the inventory.
func (m *Manager) selectRecords(sel Selection) ([]store.Record, error) {
	var out []store.Record
	if len(sel.Names) > 0 {
		for _, q := range sel.Names {
			r, err := issue.Find(m.Store, q)
			if err != nil {
				return nil, err
			}
			if r.Status != store.Active {
				return nil, fmt.Errorf("%s/%s (serial %s) is %s: %w", r.Role, r.Name, r.Serial, r.Status, ErrNotActive)
			}
			if r.Enrolled() {
				return nil, fmt.Errorf("%s/%s (serial %s) was enrolled: its key is on its host, which renews it with daskca enroll --renew: %w", r.Role, r.Name, r.Serial, ErrNotActive)
			}
			if sel.Role == "" || r.Role == sel.Role {
				out = append(out, r)
			}
		}
		return out, nil
	}
	all, err := m.active()
	if err != nil {
		return nil, err
	}
	now := m.now()
	var picked []int // sorted as indexes: a record is hundreds of bytes to move
	for i, r := range all {
		if (sel.Role != "" && r.Role != sel.Role) || r.Enrolled() { // enrolled hosts renew themselves
			continue
		}
		if sel.All || Due(r.NotBefore, r.NotAfter, now, sel.Within) {
			picked = append(picked, i)
		}
	}
	slices.SortStableFunc(picked, func(a, b int) int { return all[a].NotAfter.Compare(all[b].NotAfter) })
	out = make([]store.Record, len(picked))
	for k, i := range picked {
		out[k] = all[i]
	}
	return out, nil
}

// writeJournal records the serials about to be renewed.
func (m *Manager) writeJournal(todo []store.Record) error {
	j := journal{Started: m.now().UTC()}
	for _, r := range todo {
		j.Serials = append(j.Serials, r.Serial)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return m.Store.Apply(store.Batch{Meta: map[string][]byte{journalKey: b}}, m.Actor)
}

// readJournal splits the serials of an interrupted run into those still
// active (left to renew) and those already replaced.
func (m *Manager) readJournal() (left, finished []store.Record, err error) {
	b, err := m.Store.Meta(journalKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, nil, fmt.Errorf("renewal journal: %w", err)
	}
	for _, s := range j.Serials {
		r, err := m.Store.Cert(s)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, nil, err
		case r.Status == store.Active:
			left = append(left, r)
		default:
			finished = append(finished, r)
		}
	}
	return left, finished, nil
}
