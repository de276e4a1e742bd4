package lifecycle

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// enrolNode07 records a certificate signed for a key held elsewhere, as an
// enrolment server does.
func enrolNode07(t *testing.T, f *fixture) store.Record {
	t.Helper()
	is := &issue.Issuer{CA: f.m.CA, Store: f.m.Store, Layout: f.m.Layout, Now: f.m.Now, Actor: "test"}
	k, err := ca.GenerateKey(ca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := is.SignPublicKey(issue.Request{Role: identity.Worker, Name: "node07", Validity: 90 * day}, k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Store.Apply(store.Batch{Issue: []store.Replacement{{Record: rec}}}, "test"); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRotationLeavesEnrolled: ca rotate issue re-issues the home's
// certificates but not an enrolled one (no key for it appears in the home,
// and its host can still renew it), and finish waits for it.
func TestRotationLeavesEnrolled(t *testing.T) {
	f := newFixture(t, false)
	rec := enrolNode07(t, f)
	if _, err := f.m.Begin(BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, out, err := f.m.Reissue(context.Background()); err != nil || len(out) != 4 {
		t.Fatalf("rotate issue: %d re-issued, %v; want the 4 of the home", len(out), err)
	}
	if got, err := f.m.Store.Cert(rec.Serial); err != nil || got.Status != store.Active || got.SupersededBy != "" {
		t.Fatalf("enrolled record after rotate issue: %+v, %v", got, err)
	}
	if _, err := os.Stat(f.m.Layout.CertDir("worker", "node07")); err == nil {
		t.Fatal("rotate issue wrote files for an enrolled endpoint in the home")
	}
	if _, err := f.m.Finish(); !errors.Is(err, ErrOldCAInUse) {
		t.Fatalf("finish with an enrolled certificate of the old CA: %v", err)
	}
}

// TestRenewLeavesEnrolled: a certificate recorded by an enrolment server
// (its key on its host, no files in the home) is not renewed by the CA
// host, neither by --all nor by name: its host renews it itself.
func TestRenewLeavesEnrolled(t *testing.T) {
	f := newFixture(t, false)
	is := &issue.Issuer{CA: f.m.CA, Store: f.m.Store, Layout: f.m.Layout, Now: f.m.Now, Actor: "test"}
	k, err := ca.GenerateKey(ca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := is.SignPublicKey(issue.Request{Role: identity.Worker, Name: "node07", Validity: 90 * day}, k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Enrolled() {
		t.Fatalf("a certificate signed for a remote key has file paths: %+v", rec)
	}
	if err := f.m.Store.Apply(store.Batch{Issue: []store.Replacement{{Record: rec}}}, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := f.m.Renew(context.Background(), Selection{All: true}, RenewOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Name == "node07" {
			t.Fatal("renew --all selected an enrolled certificate")
		}
	}
	if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"node07"}}, RenewOptions{DryRun: true}); !errors.Is(err, ErrNotActive) {
		t.Fatalf("renewing node07 by name: %v, want a refusal", err)
	}
	if r, _, _ := f.m.Store.Active("worker", "node07"); r.Status != store.Active {
		t.Fatal("the enrolled record changed")
	}
}
