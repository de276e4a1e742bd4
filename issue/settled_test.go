package issue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/store"
)

// TestSettledMarker: a run removes the home's settled marker before it
// stages anything and puts it back only when nothing can be left behind;
// Recover searches the endpoint directories exactly when it is missing.
func TestSettledMarker(t *testing.T) {
	marked := func(t *testing.T, is *Issuer) bool {
		t.Helper()
		fi, err := os.Lstat(is.Layout.Settled())
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Fatalf("marker: %v, %v", fi, err)
		}
		return true
	}
	// crashed leaves w1's recorded files in their pending directory, as a
	// run that died between its commit and its rename.
	crashed := func(t *testing.T, is *Issuer) string {
		t.Helper()
		if err := is.CA.Save(is.Layout.CADir(), []byte("pw")); err != nil { // Recover checks files against the home's CAs
			t.Fatal(err)
		}
		_, recs := mustBulk(t, is, mustHostRequests(t, "w[1-3]", ""), BulkOptions{})
		pending := is.Layout.NewEndpointPendingDir("worker", recs[0].Serial)
		if err := os.Rename(filepath.Dir(recs[0].CertFile), pending); err != nil {
			t.Fatal(err)
		}
		return pending
	}
	t.Run("a run that ends well marks the home", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		mustBulk(t, is, mustHostRequests(t, "w[1-3]", ""), BulkOptions{})
		if !marked(t, is) {
			t.Error("no marker after a run that ended well")
		}
	})
	t.Run("a run that fails after recording leaves it off", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		mustBulk(t, is, mustHostRequests(t, "a[1-3]", ""), BulkOptions{})
		blocker := is.Layout.CertDir("worker", "n15")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := is.IssueBulk(context.Background(), mustPlan(t, is, mustHostRequests(t, "n[10-29]", "")), BulkOptions{BatchSize: 5}); err == nil {
			t.Fatal("IssueBulk succeeded with a file in the way")
		}
		if marked(t, is) {
			t.Error("marker back after a run that recorded a batch and failed")
		}
	})
	t.Run("a run that fails before recording puts it back", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		mustBulk(t, is, mustHostRequests(t, "a[1-3]", ""), BulkOptions{})
		blocker := is.Layout.CertDir("worker", "n2")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := is.IssueBulk(context.Background(), mustPlan(t, is, mustHostRequests(t, "n[1-3]", "")), BulkOptions{}); err == nil {
			t.Fatal("IssueBulk succeeded with a file in the way")
		}
		if !marked(t, is) {
			t.Error("marker gone after a run that recorded nothing and removed what it staged")
		}
	})
	t.Run("without the marker Recover finishes the run", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		pending := crashed(t, is)
		if err := os.Remove(is.Layout.Settled()); err != nil {
			t.Fatal(err)
		}
		if done, err := is.Recover(); err != nil || len(done) != 1 {
			t.Fatalf("Recover = %d records, %v; want w1", len(done), err)
		}
		if _, err := os.Lstat(pending); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pending directory left: %v", err)
		}
		if marked(t, is) {
			t.Error("Recover marked the home: only a run that wrote may")
		}
	})
	t.Run("a link is not the marker", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		pending := crashed(t, is)
		target := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.WriteFile(target, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(is.Layout.Settled()); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, is.Layout.Settled()); err != nil {
			t.Fatal(err)
		}
		if done, err := is.Recover(); err != nil || len(done) != 1 {
			t.Fatalf("Recover = %d records, %v; want w1", len(done), err)
		}
		if _, err := os.Lstat(pending); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pending directory left: %v", err)
		}
	})
	t.Run("with the marker Recover searches nothing", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		pending := crashed(t, is)
		if done, err := is.Recover(); err != nil || len(done) != 0 {
			t.Fatalf("Recover = %d records, %v; want none", len(done), err)
		}
		if _, err := os.Lstat(pending); err != nil {
			t.Errorf("pending directory: %v; want it left alone", err)
		}
	})
}

// TestRecoverStaged: a replacement's files wait in the run's staging
// directory, named SERIAL.FILE; Recover puts those of an active serial in
// place once they pass the checks, removes the others and the emptied
// directory, and refuses a staging directory that is a link.
func TestRecoverStaged(t *testing.T) {
	// replaced renews w1 for real, then puts its new key and certificate
	// back into a staging directory and the old ones in place, as a run
	// killed after its commit leaves them.
	replaced := func(t *testing.T, is *Issuer) (store.Record, string) {
		t.Helper()
		if err := is.CA.Save(is.Layout.CADir(), []byte("pw")); err != nil {
			t.Fatal(err)
		}
		_, recs := mustBulk(t, is, mustHostRequests(t, "w[1-2]", ""), BulkOptions{})
		old := map[string][]byte{"cert.pem": mustRead(t, recs[0].CertFile), "key.pem": mustRead(t, recs[0].KeyFile)}
		reqs := mustHostRequests(t, "w1", "")
		reqs[0].Force = true
		_, renewed := mustBulk(t, is, reqs, BulkOptions{})
		rec := renewed[0]
		staging := is.Layout.StagingDir("0123456789abcdef")
		if err := os.Mkdir(staging, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, data := range old {
			dst := filepath.Join(filepath.Dir(rec.CertFile), name)
			if err := os.Rename(dst, filepath.Join(staging, rec.Serial+"."+name)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(is.Layout.Settled()); err != nil {
			t.Fatal(err)
		}
		return rec, staging
	}
	tests := []struct {
		name   string
		spoil  func(t *testing.T, rec store.Record, staging string)
		placed bool
		bundle bool // the endpoint's ca.pem is still there
	}{
		{"as a killed run leaves them", func(*testing.T, store.Record, string) {}, true, true},
		{"the certificate placed already", func(t *testing.T, rec store.Record, staging string) {
			if err := os.Rename(filepath.Join(staging, rec.Serial+".cert.pem"), rec.CertFile); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"the endpoint's directory gone since", func(t *testing.T, rec store.Record, _ string) {
			if err := os.RemoveAll(filepath.Dir(rec.CertFile)); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"a key readable by others", func(t *testing.T, rec store.Record, staging string) {
			if err := os.Chmod(filepath.Join(staging, rec.Serial+".key.pem"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"an unexpected file of the serial", func(t *testing.T, rec store.Record, staging string) {
			if err := os.WriteFile(filepath.Join(staging, rec.Serial+".evil.pem"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"a key that is a link", func(t *testing.T, rec store.Record, staging string) {
			k := filepath.Join(staging, rec.Serial+".key.pem")
			if err := os.Rename(k, k+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Base(k)+".real", k); err != nil {
				t.Fatal(err)
			}
		}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := mustIssuer(t, ca.Options{})
			var logged []string
			is.Logf = func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
			rec, staging := replaced(t, is)
			// files of a serial never recorded, from the same run
			if err := os.WriteFile(filepath.Join(staging, "0badc0de.key.pem"), []byte("k"), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, rec, staging)
			done, err := is.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(staging); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("staging directory left: %v", err)
			}
			got := readCert(t, rec.CertFile)[0].SerialNumber.Text(16) == rec.Serial
			if got != tt.placed || (len(done) == 1) != tt.placed {
				t.Errorf("placed = %v (%d records), want %v; log %q", got, len(done), tt.placed, logged)
			}
			if !tt.placed && len(logged) != 1 {
				t.Errorf("log %q, want one discarding line", logged)
			}
			if tt.placed {
				if !tt.bundle { // gone with its directory, and never staged
					if err := os.WriteFile(rec.CAFile, is.CA.BundlePEM(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				checkFiles(t, is, rec)
			}
		})
	}
	t.Run("a staging directory that is a link", func(t *testing.T) {
		is := mustIssuer(t, ca.Options{})
		_, staging := replaced(t, is)
		elsewhere := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.Rename(staging, elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, staging); err != nil {
			t.Fatal(err)
		}
		if _, err := is.Recover(); err == nil {
			t.Error("Recover followed a staging directory that is a link")
		}
	})
}
