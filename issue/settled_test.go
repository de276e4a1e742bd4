package issue

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/daskca/daskca/ca"
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
