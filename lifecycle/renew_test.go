package lifecycle

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/issue"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func TestRenewWindowAndFiles(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	if got, err := f.m.Renew(ctx, Selection{}, RenewOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("renew of fresh certificates = %+v, %v; want nothing", got, err)
	}
	f.now = t0.Add(61 * day)
	old := f.active("worker", "w2")
	oldKey := mustRead(t, old.KeyFile)
	got, err := f.m.Renew(ctx, Selection{}, RenewOptions{})
	if err != nil || len(got) != 4 {
		t.Fatalf("renew = %+v, %v; want 4 renewals", got, err)
	}
	cur := f.active("worker", "w2")
	if cur.Supersedes != old.Serial || !slices.Equal(cur.IPs, old.IPs) || cur.URI != old.URI || cur.NotAfter != f.now.Add(90*day).UTC().Truncate(1e9) {
		t.Errorf("renewed record %+v does not carry on %+v", cur, old)
	}
	if o, _ := f.m.Store.Cert(old.Serial); o.Status != store.Superseded || o.SupersededBy != cur.Serial {
		t.Errorf("old record: %s superseded by %q", o.Status, o.SupersededBy)
	}
	if bytes.Equal(mustRead(t, cur.KeyFile), oldKey) {
		t.Error("the key was kept without --reuse-key")
	}
	if _, err := tls.LoadX509KeyPair(cur.CertFile, cur.KeyFile); err != nil {
		t.Errorf("renewed files do not fit together: %v", err)
	}
	if c := certs(t, cur.CertFile)[0]; c.SerialNumber.Text(16) != cur.Serial {
		t.Errorf("cert.pem holds %s, want %s", c.SerialNumber.Text(16), cur.Serial)
	}
	if err := f.verify(cur.CertFile, cur.CAFile); err != nil {
		t.Errorf("renewed chain does not verify: %v", err)
	}
	if c := f.active("client", "c1"); c.KeyType != "ed25519" {
		t.Errorf("client key type became %s", c.KeyType)
	}
	n := f.count()
	if got, err := f.m.Renew(ctx, Selection{}, RenewOptions{}); err != nil || len(got) != 0 || f.count() != n {
		t.Errorf("second run renewed %+v (%v), records %d -> %d", got, err, n, f.count())
	}
	var kinds []string
	_ = f.m.Store.Events(func(e store.Event) error { kinds = append(kinds, string(e.Kind)); return nil })
	if k := slices.Index(kinds, "renew"); k < 0 || kinds[k+1] != "supersede" {
		t.Errorf("events %v lack renew followed by supersede", kinds)
	}
}

func TestRenewSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sel  Selection
		want []string
		err  error
	}{
		{"names", Selection{Names: []string{"w1", "client/c1"}}, []string{"worker/w1", "client/c1"}, nil},
		{"role", Selection{Role: "worker", All: true}, []string{"worker/w1", "worker/w2"}, nil},
		{"all", Selection{All: true}, []string{"scheduler/s1", "worker/w1", "worker/w2", "client/c1"}, nil},
		{"within", Selection{Within: 100 * day}, []string{"scheduler/s1", "worker/w1", "worker/w2", "client/c1"}, nil},
		{"within, none", Selection{Within: 10 * day}, nil, nil},
		{"window, none", Selection{}, nil, nil},
		{"unknown name", Selection{Names: []string{"nobody"}}, nil, errors.New("not found")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			got, err := f.m.Renew(context.Background(), tt.sel, RenewOptions{DryRun: true})
			if (err != nil) != (tt.err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Role+"/"+r.Name)
				if r.Action != "would renew" {
					t.Errorf("dry run action %q", r.Action)
				}
			}
			slices.Sort(names)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("selected %v, want %v", names, want)
			}
			if f.count() != 4 {
				t.Errorf("a dry run wrote records: %d", f.count())
			}
		})
	}
}

func TestRenewRevokedRefused(t *testing.T) {
	f := newFixture(t, false)
	if _, _, err := f.m.Revoke("w1", KeyCompromise); err != nil {
		t.Fatal(err)
	}
	_, err := f.m.Renew(context.Background(), Selection{Names: []string{"worker/w1"}}, RenewOptions{})
	if !errors.Is(err, ErrNotActive) {
		t.Errorf("renewing a revoked certificate: %v, want ErrNotActive", err)
	}
}

func TestRenewReuseKey(t *testing.T) {
	f := newFixture(t, false)
	old := f.active("worker", "w1")
	key := mustRead(t, old.KeyFile)
	if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{ReuseKey: true}); err != nil {
		t.Fatal(err)
	}
	cur := f.active("worker", "w1")
	if cur.Serial == old.Serial || !bytes.Equal(mustRead(t, cur.KeyFile), key) {
		t.Error("--reuse-key did not keep the key file")
	}
	if _, err := tls.LoadX509KeyPair(cur.CertFile, cur.KeyFile); err != nil {
		t.Errorf("files do not fit: %v", err)
	}
	// a key file that is not the certificate's key is refused
	other := f.active("worker", "w2")
	if err := os.WriteFile(cur.KeyFile, mustRead(t, other.KeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{ReuseKey: true}); err == nil {
		t.Error("renewed with a key file of another certificate")
	}
}

// crashAfterCommit leaves the home as a renewal of role/name that crashed
// after its inventory commit and before its renames would: it renews for
// real, then moves the new files back into the pending directory of the
// new serial and puts the old files back in place.
func crashAfterCommit(t *testing.T, f *fixture, role, name string) store.Record {
	t.Helper()
	old := f.active(role, name)
	dir := f.m.Layout.CertDir(role, name)
	saved := map[string][]byte{}
	for _, n := range []string{"ca.pem", "key.pem", "cert.pem"} {
		saved[n] = mustRead(t, filepath.Join(dir, n))
	}
	if _, err := f.m.Renew(context.Background(), Selection{Names: []string{old.Role + "/" + old.Name}}, RenewOptions{}); err != nil {
		t.Fatal(err)
	}
	rec := f.active(role, name)
	unplace(t, f, rec, saved)
	return rec
}

// interrupted removes the home's settled marker, as a run does before it
// stages anything: a test that leaves pending files behind stands for a
// run that did not end.
func interrupted(t *testing.T, f *fixture) {
	t.Helper()
	if err := os.Remove(f.m.Layout.Settled()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// unplace moves the files of rec's endpoint into the pending directory of
// rec's serial and writes the files saved in their place, as they were
// before a run that was interrupted between its commit and its renames.
func unplace(t *testing.T, f *fixture, rec store.Record, saved map[string][]byte) {
	t.Helper()
	interrupted(t, f)
	dir := f.m.Layout.CertDir(rec.Role, rec.Name)
	pending := f.m.Layout.PendingDir(rec.Role, rec.Name, rec.Serial)
	if err := os.Mkdir(pending, 0o700); err != nil {
		t.Fatal(err)
	}
	for n, data := range saved {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(pending, n)); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if n == "key.pem" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, n), data, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenewAfterCrash(t *testing.T) {
	t.Run("between commit and renames", func(t *testing.T) {
		f := newFixture(t, false)
		rec := crashAfterCommit(t, f, "worker", "w1")
		if c := certs(t, rec.CertFile)[0]; c.SerialNumber.Text(16) == rec.Serial {
			t.Fatal("the simulated crash put the files in place")
		}
		n := f.count()
		got, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{})
		if err != nil || len(got) != 1 || got[0].Action != "completed" || got[0].NewSerial != rec.Serial {
			t.Fatalf("rerun = %+v, %v; want the interrupted renewal completed", got, err)
		}
		if f.count() != n {
			t.Errorf("rerun added records: %d -> %d", n, f.count())
		}
		if c := certs(t, rec.CertFile)[0]; c.SerialNumber.Text(16) != rec.Serial {
			t.Error("files not put in place")
		}
		if _, err := tls.LoadX509KeyPair(rec.CertFile, rec.KeyFile); err != nil {
			t.Errorf("files do not fit: %v", err)
		}
		if p, _ := issue.FindPending(f.m.Layout); len(p) != 0 {
			t.Errorf("pending left: %+v", p)
		}
	})
	t.Run("before commit", func(t *testing.T) {
		f := newFixture(t, false)
		// the files of a renewal staged under a serial never recorded
		interrupted(t, f)
		w1 := f.active("worker", "w1")
		pending := f.m.Layout.PendingDir("worker", "w1", "0badc0de")
		if err := os.Mkdir(pending, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"ca.pem", "key.pem", "cert.pem"} {
			if err := os.WriteFile(filepath.Join(pending, n), mustRead(t, filepath.Join(filepath.Dir(w1.CertFile), n)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{})
		if err != nil || len(got) != 1 || got[0].Action != "renewed" || got[0].NewSerial == "0badc0de" {
			t.Fatalf("rerun = %+v, %v", got, err)
		}
		if p, _ := issue.FindPending(f.m.Layout); len(p) != 0 || f.count() != 5 {
			t.Errorf("pending %+v, records %d; want none and 5", p, f.count())
		}
	})
	t.Run("part of a run done", func(t *testing.T) {
		f := newFixture(t, false)
		w1, w2 := f.active("worker", "w1"), f.active("worker", "w2")
		if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{}); err != nil {
			t.Fatal(err)
		}
		// a run set out to renew w1 and w2 and crashed after w1
		if err := f.m.writeJournal([]store.Record{w1, w2}); err != nil {
			t.Fatal(err)
		}
		n := f.count()
		got, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1", "w2"}}, RenewOptions{})
		if err != nil || len(got) != 1 || got[0].Name != "w2" {
			t.Fatalf("rerun = %+v, %v; want w2 alone", got, err)
		}
		if f.count() != n+1 {
			t.Errorf("records %d -> %d, want one more", n, f.count())
		}
		if _, err := f.m.Store.Meta(journalKey); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("journal left behind: %v", err)
		}
	})
}

func TestRenewWithoutCA(t *testing.T) {
	f := newFixture(t, false)
	f.m.CA = nil
	if _, err := f.m.Renew(context.Background(), Selection{All: true}, RenewOptions{}); !errors.Is(err, ErrCAMissing) {
		t.Errorf("Renew without a CA: %v, want ErrCAMissing", err)
	}
	if _, _, err := f.m.Revoke("w1", KeyCompromise); !errors.Is(err, ErrCAMissing) {
		t.Errorf("Revoke without a CA: %v, want ErrCAMissing", err)
	}
}

// TestRecoverNewEndpoint: a bulk run stages a new endpoint's files in
// certs/<role>/.pending-<serial>/ and renames the directory into place
// after the commit; Recover finishes that rename for a recorded serial,
// moves the files into an endpoint directory that exists by now, and
// removes the directory of a serial the inventory does not know.
func TestRecoverNewEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name     string
		known    bool // the inventory records the serial
		dirExist bool // the endpoint directory exists already
	}{
		{"recorded", true, false},
		{"recorded, endpoint directory exists", true, true},
		{"not recorded", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			rec := f.active("worker", "w1")
			dir := f.m.Layout.CertDir("worker", "w1")
			interrupted(t, f)
			pending := f.m.Layout.NewEndpointPendingDir("worker", rec.Serial)
			if !tt.known {
				pending = f.m.Layout.NewEndpointPendingDir("worker", "0badc0de")
			}
			if err := os.Rename(dir, pending); err != nil {
				t.Fatal(err)
			}
			if tt.dirExist {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if p, _ := issue.FindPending(f.m.Layout); len(p) != 1 || p[0].Name != "" || p[0].Role != "worker" {
				t.Fatalf("FindPending = %+v; want the new endpoint's directory", p)
			}
			done, err := f.m.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(pending); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pending directory left: %v", err)
			}
			if !tt.known {
				if len(done) != 0 {
					t.Errorf("Recover placed %d certificates; want none", len(done))
				}
				if _, err := os.Stat(rec.CertFile); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("files of an unknown serial put in place: %v", err)
				}
				return
			}
			if len(done) != 1 || done[0].Serial != rec.Serial {
				t.Fatalf("Recover = %+v; want %s placed", done, rec.Serial)
			}
			if c := certs(t, rec.CertFile)[0]; c.SerialNumber.Text(16) != rec.Serial {
				t.Error("certificate file is not the recorded one")
			}
			if _, err := tls.LoadX509KeyPair(rec.CertFile, rec.KeyFile); err != nil {
				t.Errorf("files do not fit: %v", err)
			}
		})
	}
}

// TestRenewRefusesOutlivingTheCA: a renewal whose certificate would end
// after the issuing CA certificate is refused with the fix named, not cut
// short, and does not stop the renewal of the others; a rotation's
// re-issue that would is refused before anything is signed.
func TestRenewRefusesOutlivingTheCA(t *testing.T) {
	f := newFixture(t, false)
	w1, w2 := f.active("worker", "w1"), f.active("worker", "w2")
	tooLong := f.m.CA.Issuer().NotAfter.Sub(f.now) + day
	n := f.count()
	got, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1", "w2"}}, RenewOptions{Validity: tooLong})
	if !errors.Is(err, ca.ErrOutlivesIssuer) || !strings.Contains(err.Error(), "rotate the CA") {
		t.Fatalf("Renew = %v; want ErrOutlivesIssuer naming the fix", err)
	}
	if len(got) != 2 || got[0].Action != "failed" || got[1].Action != "failed" {
		t.Fatalf("outcomes %+v; want both failed", got)
	}
	if f.count() != n || f.active("worker", "w1").Serial != w1.Serial {
		t.Error("a refused renewal changed the inventory")
	}
	// within the CA's lifetime: renewed, the lifetime as asked
	got, err = f.m.Renew(context.Background(), Selection{Names: []string{"w2"}}, RenewOptions{Validity: 30 * day})
	if err != nil || len(got) != 1 || got[0].Action != "renewed" {
		t.Fatalf("Renew = %+v, %v", got, err)
	}
	if r := f.active("worker", "w2"); r.Serial == w2.Serial || !r.NotAfter.Equal(f.now.Add(30*day).UTC().Truncate(time.Second)) {
		t.Errorf("w2 renewed until %s, want %s", r.NotAfter, f.now.Add(30*day))
	}
}

// TestRenewDecryptsWhenSigning: with only the CA's public parts loaded,
// Renew decrypts the keys itself while the first leaf keys are generated;
// with a wrong password it records nothing and leaves the journal of an
// interrupted run as it was.
func TestRenewDecryptsWhenSigning(t *testing.T) {
	f := newFixture(t, false)
	pub, err := ca.LoadPublic(f.m.Layout.CADir())
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := f.active("worker", "w1"), f.active("worker", "w2")
	// an interrupted run's journal names w2
	if err := f.m.writeJournal([]store.Record{w2}); err != nil {
		t.Fatal(err)
	}
	journal, err := f.m.Store.Meta(journalKey)
	if err != nil {
		t.Fatal(err)
	}
	n := f.count()
	f.m.keys = nil // a fresh Manager, as a command makes one
	f.m.CA, f.m.Password = pub, []byte("not the password")
	if _, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{}); !errors.Is(err, ca.ErrWrongPassword) {
		t.Fatalf("Renew with a wrong password = %v, want ErrWrongPassword", err)
	}
	if f.count() != n || f.active("worker", "w1").Serial != w1.Serial {
		t.Error("a renewal that could not sign changed the inventory")
	}
	if got, err := f.m.Store.Meta(journalKey); err != nil || !bytes.Equal(got, journal) {
		t.Errorf("journal %q, %v; want the interrupted run's %q", got, err, journal)
	}
	f.m.CA, f.m.Password = pub, []byte("correct-horse-battery")
	got, err := f.m.Renew(context.Background(), Selection{Names: []string{"w1"}}, RenewOptions{})
	if err != nil || len(got) != 2 {
		t.Fatalf("Renew = %+v, %v; want w2 (from the journal) and w1 renewed", got, err)
	}
	if !f.m.CA.CanSign() {
		t.Error("the Manager's CA was not left with its keys")
	}
	if _, err := f.m.Store.Meta(journalKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("journal left behind: %v", err)
	}
}
