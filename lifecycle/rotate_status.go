package lifecycle

import (
	"github.com/daskca/daskca/ca"
)

// RotationStatus is what `ca rotate status` shows.
type RotationStatus struct {
	Rotation
	OldCA *CAState `json:"old_ca,omitempty"`
	NewCA *CAState `json:"new_ca,omitempty"`
	// OnOld names the unexpired active certificates the old CA signed,
	// OnNew counts those the new CA signed.
	OnOld []string `json:"on_old"`
	OnNew int      `json:"on_new"`
	// Next is the command to run next.
	Next string `json:"next"`
}

// RotationStatus reads the rotation state and what is left to move,
// changing nothing. It needs no CA key.
func (m *Manager) RotationStatus() (RotationStatus, error) {
	st, err := m.State()
	if err != nil {
		return RotationStatus{}, err
	}
	rs := RotationStatus{Rotation: st, OnOld: []string{}}
	if st.Phase == PhaseNone {
		rs.Next = "daskca ca rotate begin (when the CA is to be replaced)"
		return rs, nil
	}
	old, okOld := m.describe(st.Old, "old root")
	neu, okNew := m.describe(st.New, "new root")
	rs.OldCA, rs.NewCA = old, neu
	if okOld == nil || okNew == nil {
		rs.Next = "re-run the last phase (daskca ca rotate " + map[Phase]string{PhaseBegun: "begin", PhaseIssued: "issue"}[st.Phase] + "): a CA directory is not where the phase puts it"
		return rs, nil
	}
	// One pass over the inventory for both counts.
	recs, err := m.active()
	if err != nil {
		return rs, err
	}
	now, byOld, byNew := m.now(), signedBy(okOld), signedBy(okNew)
	for _, r := range recs {
		switch {
		case now.After(r.NotAfter):
		case byOld(r):
			rs.OnOld = append(rs.OnOld, dependent(r))
		case byNew(r):
			rs.OnNew++
		}
	}
	switch {
	case st.Phase == PhaseBegun:
		rs.Next = "roll the new bundle out to every endpoint (restart real Dask), then: daskca ca rotate issue"
	case len(rs.OnOld) > 0:
		rs.Next = "daskca ca rotate issue (certificates still depend on the old CA)"
	default:
		rs.Next = "roll the new certificates out to every endpoint (restart real Dask), then: daskca ca rotate finish"
	}
	return rs, nil
}

// describe loads the CA with root fingerprint fp wherever it is.
func (m *Manager) describe(fp, kind string) (*CAState, *ca.Authority) {
	dir := m.locate(fp)
	if dir == "" {
		return &CAState{Kind: kind, Fingerprint: fp}, nil
	}
	a, err := ca.LoadPublic(dir)
	if err != nil {
		return &CAState{Kind: kind, Fingerprint: fp}, nil
	}
	return &CAState{Kind: kind, Subject: a.Root.Subject.String(), Fingerprint: fp, NotAfter: a.Root.NotAfter.UTC()}, a
}
