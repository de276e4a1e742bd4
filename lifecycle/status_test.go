package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// srec is a record of a certificate issued in the home (with its files
// there); erec one recorded by an enrolment server (no files in the home).
func srec(serial, role, name string, st store.Status, nb time.Time, life time.Duration, issued time.Time) store.Record {
	r := erec(serial, role, name, st, nb, life, issued)
	r.CertFile, r.KeyFile = "cert.pem", "key.pem"
	return r
}

func erec(serial, role, name string, st store.Status, nb time.Time, life time.Duration, issued time.Time) store.Record {
	return store.Record{Serial: serial, Role: role, Name: name, Status: st, NotBefore: nb, NotAfter: nb.Add(life), IssuedAt: issued}
}

func TestEvaluateLevels(t *testing.T) {
	day := 24 * time.Hour
	ok := srec("1", "worker", "w1", store.Active, t0, 90*day, t0)
	inWindow := srec("2", "worker", "w2", store.Active, t0.Add(-70*day), 90*day, t0.Add(-70*day))
	expired := srec("3", "client", "c1", store.Active, t0.Add(-100*day), 90*day, t0.Add(-100*day))
	revoked := srec("4", "worker", "w4", store.Revoked, t0.Add(-day), 90*day, t0.Add(-day))
	retired := revoked
	retired.Serial, retired.RevocationReason = "5", string(CessationOfOperation)
	revokedExpired := srec("6", "worker", "w6", store.Revoked, t0.Add(-100*day), 90*day, t0.Add(-100*day))
	oldOfRenewed := srec("7", "worker", "w1", store.Superseded, t0.Add(-80*day), 90*day, t0.Add(-80*day))
	revokedOld := srec("8", "worker", "w1", store.Revoked, t0.Add(-20*day), 90*day, t0.Add(-20*day))
	tests := []struct {
		name   string
		recs   []store.Record
		within time.Duration
		inUse  func(store.Record) bool
		want   Level
		state  State // state of the first endpoint
	}{
		{"empty inventory", nil, 0, nil, OK, ""},
		{"fresh certificate", []store.Record{ok}, 0, nil, OK, StateOK},
		{"inside the renewal window", []store.Record{inWindow}, 0, nil, Warning, StateRenew},
		{"--within wider than the window", []store.Record{ok}, 91 * day, nil, Warning, StateRenew},
		{"--within narrower than the window", []store.Record{inWindow}, 10 * day, nil, OK, StateOK},
		{"expired", []store.Record{expired}, 0, nil, Critical, StateExpired},
		{"revoked and in use", []store.Record{revoked}, 0, nil, Critical, StateRevoked},
		{"revoked, files gone", []store.Record{revoked}, 0, func(store.Record) bool { return false }, OK, StateRetired},
		{"revoked for cessationOfOperation", []store.Record{retired}, 0, nil, OK, StateRetired},
		{"revoked and expired", []store.Record{revokedExpired}, 0, nil, OK, StateRetired},
		{"renewed: the superseded one does not count", []store.Record{oldOfRenewed, ok}, 0, nil, OK, StateOK},
		{"an older revoked one beside an active one", []store.Record{revokedOld, ok}, 0, nil, OK, StateOK},
		{"worst wins", []store.Record{ok, inWindow, expired}, 0, nil, Critical, StateExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(tt.recs, t0, tt.within, tt.inUse)
			if rep.Level != tt.want {
				t.Errorf("level = %d, want %d (%+v)", rep.Level, tt.want, rep.Endpoints)
			}
			if tt.state != "" && rep.Endpoints[0].State != tt.state {
				t.Errorf("state of %s/%s = %s, want %s", rep.Endpoints[0].Role, rep.Endpoints[0].Name, rep.Endpoints[0].State, tt.state)
			}
		})
	}
}

func TestEvaluateOneEndpointPerName(t *testing.T) {
	day := 24 * time.Hour
	recs := []store.Record{
		srec("a", "worker", "w1", store.Superseded, t0.Add(-80*day), 90*day, t0.Add(-80*day)),
		srec("b", "worker", "w1", store.Active, t0, 90*day, t0),
		srec("c", "client", "w1", store.Active, t0, 90*day, t0),
	}
	rep := Evaluate(recs, t0, 0, nil)
	if len(rep.Endpoints) != 2 || rep.Endpoints[0].Serial != "c" || rep.Endpoints[1].Serial != "b" {
		t.Errorf("endpoints = %+v, want client/w1 (c) then worker/w1 (b)", rep.Endpoints)
	}
	if c := rep.Counts(); c["worker"][StateOK] != 1 || c["client"][StateOK] != 1 {
		t.Errorf("counts = %v", c)
	}
}

// TestEvaluateEnrolled: a short-lived enrolled certificate is judged by
// its host's renewal schedule: fine until its renewal by daskca enroll
// --watch is overdue (three quarters of its lifetime), whatever --within
// says; then a warning, and critical once expired, each with a line naming
// what to do on the host. Longer enrolled certificates, and the home's,
// keep the renewal window; a longer enrolled one due or expired gets the
// line naming what to do on its host (daskca renew leaves it alone).
func TestEvaluateEnrolled(t *testing.T) {
	day := 24 * time.Hour
	life := 4 * time.Hour
	issued := t0
	nb := issued.Add(-issue.Backdate)
	// at is a time a fraction into the 4-hour lifetime counted from issue.
	at := func(frac float64) time.Time { return issued.Add(time.Duration(frac * float64(life))) }
	short := erec("a1", "worker", "node01", store.Active, nb, life+issue.Backdate, issued)
	renewed := erec("a2", "worker", "node01", store.Active, at(0.68).Add(-issue.Backdate), life+issue.Backdate, at(0.68))
	old := short
	old.Status, old.SupersededBy = store.Superseded, renewed.Serial
	week := erec("b1", "worker", "node02", store.Active, nb, 7*day+issue.Backdate, issued)
	eightDays := erec("c1", "worker", "node03", store.Active, nb, 8*day+issue.Backdate, issued)
	month := erec("d1", "worker", "node04", store.Active, nb, 30*day+issue.Backdate, issued)
	home := srec("e1", "worker", "w1", store.Active, nb, life+issue.Backdate, issued)
	revoked := short
	revoked.Status = store.Revoked
	tests := []struct {
		name    string
		recs    []store.Record
		now     time.Time
		within  time.Duration
		level   Level
		state   State
		byHost  bool   // judged by its host's schedule
		problem string // in the one problem line; "": no problem
	}{
		{"fresh", []store.Record{short}, at(0.1), 0, OK, StateOK, true, ""},
		{"past two thirds: --watch may not have renewed yet", []store.Record{short}, at(0.7), 0, OK, StateOK, true, ""},
		{"just before overdue", []store.Record{short}, at(0.75).Add(-time.Second), 0, OK, StateOK, true, ""},
		{"overdue", []store.Record{short}, at(0.75), 0, Warning, StateOverdue, true, "check daskca enroll --renew --watch on node01"},
		{"overdue, near expiry", []store.Record{short}, at(0.99), 0, Warning, StateOverdue, true, "was not renewed by its host by " + stamp(at(0.75))},
		{"expired", []store.Record{short}, at(1.01), 0, Critical, StateExpired, true, "enrol node01 again with a new token"},
		{"--within longer than its lifetime", []store.Record{short}, at(0.1), 30 * day, OK, StateOK, true, ""},
		{"renewed by its host", []store.Record{old, renewed}, at(0.9), 0, OK, StateOK, true, ""},
		{"a week is short-lived", []store.Record{week}, issued.Add(5 * day), 0, OK, StateOK, true, ""},
		{"eight days: the renewal window", []store.Record{eightDays}, issued.Add(6 * day), 0, Warning, StateRenew, false, "run daskca enroll --renew on node03"},
		{"eight days, fresh", []store.Record{eightDays}, issued.Add(day), 0, OK, StateOK, false, ""},
		{"a month: the renewal window", []store.Record{month}, issued.Add(21 * day), 0, Warning, StateRenew, false, "daskca renew does not"},
		{"a month, expired", []store.Record{month}, issued.Add(31 * day), 0, Critical, StateExpired, false, "enrol node04 again with a new token"},
		{"a month, --within a month: by its host", []store.Record{month}, issued.Add(21 * day), 30 * day, OK, StateOK, true, ""},
		{"a month, --within a month, overdue", []store.Record{month}, issued.Add(23 * day), 30 * day, Warning, StateOverdue, true, "daskca enroll --renew --watch on node04"},
		{"issued in the home: the renewal window", []store.Record{home}, at(0.7), 0, Warning, StateRenew, false, ""},
		{"revoked and in use", []store.Record{revoked}, at(0.1), 0, Critical, StateRevoked, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(tt.recs, tt.now, tt.within, nil)
			if len(rep.Endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(rep.Endpoints))
			}
			e := rep.Endpoints[0]
			cur := tt.recs[len(tt.recs)-1]
			if rep.Level != tt.level || e.State != tt.state || e.Enrolled != cur.Enrolled() {
				t.Errorf("level %d, state %s, enrolled %v; want %d, %s, %v", rep.Level, e.State, e.Enrolled, tt.level, tt.state, cur.Enrolled())
			}
			want := RenewAt(cur.NotBefore, cur.NotAfter)
			if tt.byHost {
				want = WatchRenewAt(cur.NotBefore, cur.NotAfter, 0) // when --watch renews
			}
			if !e.RenewAt.Equal(want) {
				t.Errorf("renew_at %s, want %s", e.RenewAt, want)
			}
			switch {
			case tt.problem == "" && len(rep.Problems) != 0:
				t.Errorf("problems %+v, want none", rep.Problems)
			case tt.problem != "" && (len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Detail, tt.problem) || rep.Problems[0].Level != tt.level):
				t.Errorf("problems %+v, want one of level %d with %q", rep.Problems, tt.level, tt.problem)
			}
		})
	}
}

// TestWatchSchedule: --watch renews two thirds into the lifetime from
// issue, a twentieth either way at most, always before the renewal is
// overdue.
func TestWatchSchedule(t *testing.T) {
	for _, life := range []time.Duration{2 * time.Minute, time.Hour, 4 * time.Hour, 7 * 24 * time.Hour} {
		nb := t0.Add(-issue.Backdate)
		na := t0.Add(life)
		for _, jitter := range []float64{-1, 0, 1} {
			at := WatchRenewAt(nb, na, jitter)
			want := t0.Add(life*2/3 + time.Duration(jitter*float64(life)/20))
			if !at.Equal(want) || !at.Before(OverdueAt(nb, na)) {
				t.Errorf("life %s, jitter %v: renews at %s, want %s, before %s", life, jitter, at, want, OverdueAt(nb, na))
			}
		}
	}
}
