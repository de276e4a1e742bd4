package lifecycle

import (
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func srec(serial, role, name string, st store.Status, nb time.Time, life time.Duration, issued time.Time) store.Record {
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
