package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/transport/identity"
)

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
	if err := f.m.Store.Issue(rec, "", "test"); err != nil {
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
