package lifecycle

import (
	"context"
	"errors"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// issuer returns the issue.Issuer that signs with a into m's home: renewal
// and the re-issue of a rotation go through issue's one pipeline (plan,
// sign, stage, record in batches, place, recover).
func (m *Manager) issuer(a *ca.Authority) *issue.Issuer {
	return &issue.Issuer{CA: a, Store: m.Store, Layout: m.Layout, Now: m.Now, Actor: m.Actor, Logf: m.Logf}
}

// Recover finishes what an interrupted run left in the home (see
// issue.Issuer.Recover) and returns the records whose files it put in
// place.
func (m *Manager) Recover() ([]store.Record, error) { return m.issuer(m.CA).Recover() }

// replace replaces recs with certificates signed by a (with its keys, or
// loaded by b.LoadCA while the first keys are generated), through issue's
// bulk pipeline run with b (its event kind and detail, ...). It
// returns an outcome per record, in the order of recs: action for those
// replaced, "failed" with the reason for the others: those the plan
// refuses (see issue.Issuer.PlanReissue) and, if the run stops, those it
// did not reach. The reasons are joined into the error. With all, one
// refusal stops the run before anything is signed; otherwise the others
// go on.
func (m *Manager) replace(ctx context.Context, a *ca.Authority, recs []store.Record, o issue.ReissueOptions, b issue.BulkOptions, action Action, all bool) ([]Renewal, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	is := m.issuer(a)
	p := is.PlanReissue(recs, o)
	out := make([]Renewal, len(recs))
	at := make(map[string]int, len(recs))
	planned := make([]bool, len(recs)) // signed unless the run stops first
	var errs []error
	todo := issue.Plan{Items: make([]issue.PlanItem, 0, len(p.Items))}
	for i, it := range p.Items {
		old := it.Current
		out[i] = Renewal{Role: old.Role, Name: old.Name, OldSerial: old.Serial, NotAfter: old.NotAfter, Action: Failed, Error: it.Reason}
		at[old.Serial] = i
		if it.Action == issue.ActionIssue {
			planned[i], out[i].Error = true, ""
			todo.Items = append(todo.Items, it)
			continue
		}
		errs = append(errs, it.Err)
	}
	if all && len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	b.OnIssued = func(r store.Record) {
		i := at[r.Supersedes]
		planned[i] = false
		o := &out[i]
		o.NewSerial, o.NotAfter, o.Action, o.Error = r.Serial, r.NotAfter, action, ""
	}
	_, err := is.IssueBulk(ctx, todo, b)
	if err != nil {
		for i := range out {
			if planned[i] { // not reached: the run stopped before its batch
				out[i].Error = err.Error()
			}
		}
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
