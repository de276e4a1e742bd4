package homefiles_test

import (
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// TestCheckEnrolled: an enrolled certificate (its key and files on its
// host) is verified against the CA, and its missing files in the home are
// no problem.
func TestCheckEnrolled(t *testing.T) {
	l, s := mustHome(t, "Enrol CA")
	a, err := ca.Load(l.CADir(), []byte("correct-horse-battery"))
	if err != nil {
		t.Fatal(err)
	}
	is := &issue.Issuer{CA: a, Store: s, Layout: l, Now: func() time.Time { return t0 }, Actor: "test"}
	k, err := ca.GenerateKey(ca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := is.SignPublicKey(issue.Request{Role: identity.Worker, Name: "node07"}, k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(store.Batch{Issue: []store.Replacement{{Record: rec}}}, "test"); err != nil {
		t.Fatal(err)
	}
	rep := mustCheck(t, l, s)
	if !rep.OK() || rep.Verified != 3 || rep.Active != 3 {
		t.Errorf("report %+v, want 3 records verified and active, no problem", rep)
	}
}
