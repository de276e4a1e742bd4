package enrol

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/lifecycle"
)

// TestCARotationStopsTheServer: once the CA rotation state in the
// inventory differs from the one the server started with (daskca ca
// rotate ran beside it), the server records nothing it signed and refuses
// every enrolment and renewal with one clear error naming the fix, and
// does not spend the token's uses; a server started after the change
// enrols again.
func TestCARotationStopsTheServer(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour})
	dir := enrolDir(t, f, tok, "node01")
	// daskca ca rotate abort ran beside it: the CA it holds still signs,
	// but the state changed.
	aborted := fmt.Sprintf(`{"phase":"none","last":"aborted","old":%q,"new":%q}`, ca.Fingerprint(f.ca.Root), strings.Repeat("ab", 32))
	if err := f.store.SetMeta(RotationStateKey, []byte(aborted)); err != nil {
		t.Fatal(err)
	}
	before, _ := f.store.Count()
	refusedCAChanged := func(t *testing.T, err error) {
		t.Helper()
		var re *RefusedError
		if !errors.As(err, &re) || re.Status != http.StatusServiceUnavailable || re.Body.Code != CodeCAChanged {
			t.Fatalf("got %v, want a %d %s refusal", err, http.StatusServiceUnavailable, CodeCAChanged)
		}
	}
	for _, name := range []string{"node02", "node03"} { // at the commit, then before signing
		t.Run("enrol "+name, func(t *testing.T) {
			_, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: name})
			refusedCAChanged(t, err)
		})
	}
	t.Run("renew", func(t *testing.T) {
		_, err := RenewDir(context.Background(), dir, "", f.clock.now)
		refusedCAChanged(t, err)
	})
	if n, _ := f.store.Count(); n != before {
		t.Errorf("%d records after the refusals, want %d", n, before)
	}
	if rec, _ := f.store.Token(tokenID(t, tok)); rec.UsesLeft != 9 {
		t.Errorf("token uses left %d, want 9 (one enrolment)", rec.UsesLeft)
	}
	t.Run("a server started after the change", func(t *testing.T) {
		srv, err := New(Config{Issuer: f.srv.cfg.Issuer, IPs: f.srv.cfg.IPs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Enrol(context.Background(), Request{Server: serveOn(t, srv), Token: tok, Name: "node04"}); err != nil {
			t.Fatal(err)
		}
	})
}

func tokenID(t *testing.T, tok string) string {
	t.Helper()
	p, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestRotationWhileTheCALoads: New reads the rotation state before it
// calls LoadCA, so a rotation step committed while the CA loads leaves the
// server guarding on the state of before the step: it signs nothing and
// refuses with the CA-changed error.
func TestRotationWhileTheCALoads(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 10, TTL: time.Hour})
	is := *f.srv.cfg.Issuer
	is.CA = nil
	loadCA := func() (*ca.Authority, error) {
		if err := f.store.SetMeta(RotationStateKey, []byte(`{"phase":"begun"}`)); err != nil {
			return nil, err
		}
		return f.ca, nil
	}
	srv, err := New(Config{Issuer: &is, LoadCA: loadCA, IPs: f.srv.cfg.IPs})
	if err != nil {
		t.Fatal(err)
	}
	url := serveOn(t, srv)
	_, err = Enrol(context.Background(), Request{Server: url, Token: tok, Name: "node01"})
	var re *RefusedError
	if !errors.As(err, &re) || re.Body.Code != CodeCAChanged {
		t.Fatalf("got %v, want a %s refusal", err, CodeCAChanged)
	}
}

// TestNewNeedsOneCA: New takes the CA from Issuer.CA or LoadCA, not both
// and not neither, and refuses a CA without its keys.
func TestNewNeedsOneCA(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	public := *f.ca
	public.RootKey, public.IntermediateKey = nil, nil
	load := func(a *ca.Authority) func() (*ca.Authority, error) {
		return func() (*ca.Authority, error) { return a, nil }
	}
	tests := []struct {
		name   string
		ca     *ca.Authority
		loadCA func() (*ca.Authority, error)
		ok     bool
	}{
		{"Issuer.CA", f.ca, nil, true},
		{"LoadCA", nil, load(f.ca), true},
		{"both", f.ca, load(f.ca), false},
		{"neither", nil, nil, false},
		{"LoadCA without keys", nil, load(&public), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := *f.srv.cfg.Issuer
			is.CA = tc.ca
			srv, err := New(Config{Issuer: &is, LoadCA: tc.loadCA, IPs: f.srv.cfg.IPs})
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
			if srv != nil {
				_ = srv.Close()
			}
		})
	}
}

// TestNewRefusesAMisplacedCA: a server does not start on a CA that is not
// the one the rotation state puts in the CA directory (a rotation step
// interrupted after recording its phase): it would sign with the wrong CA
// or hand out the wrong bundle while its guard saw nothing change.
func TestNewRefusesAMisplacedCA(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	ours, other := ca.Fingerprint(f.ca.Root), strings.Repeat("ab", 32)
	tests := []struct {
		name, state string
		ok          bool
	}{
		{"aborted: ours signs alone", fmt.Sprintf(`{"phase":"none","last":"aborted","old":%q,"new":%q}`, ours, other), true},
		{"finished: ours signs alone", fmt.Sprintf(`{"phase":"none","last":"finished","old":%q,"new":%q}`, other, ours), true},
		{"issued: the other CA signs", fmt.Sprintf(`{"phase":"issued","old":%q,"new":%q}`, ours, other), false},
		{"begun: the bundle lacks the new root", fmt.Sprintf(`{"phase":"begun","old":%q,"new":%q}`, ours, other), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.store.SetMeta(RotationStateKey, []byte(tc.state)); err != nil {
				t.Fatal(err)
			}
			srv, err := New(Config{Issuer: f.srv.cfg.Issuer, IPs: f.srv.cfg.IPs})
			if srv != nil {
				_ = srv.Close()
			}
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, lifecycle.ErrCAMisplaced)) {
				t.Fatalf("New: %v, want ok %v or ErrCAMisplaced", err, tc.ok)
			}
		})
	}
}
