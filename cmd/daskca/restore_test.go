package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// crlNumbers returns the numbers of the CRLs in the home's crl.pem.
func crlNumbers(t *testing.T, home string) []uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(home, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Number.Uint64())
	}
	return out
}

// statusOf returns the status column of role/name in `daskca status -o json`.
func statusOf(t *testing.T, home string, now time.Time, name string) (string, int) {
	t.Helper()
	code, out, stderr := runCLIAt(t, home, now, "status", "-o", "json")
	var h struct {
		Endpoints []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("status -o json: %v\n%s%s", err, out, stderr)
	}
	for _, e := range h.Endpoints {
		if e.Name == name {
			return e.State, code
		}
	}
	return "", code
}

// TestRestoreNeverUnrevokes: restoring a backup taken before revocations
// keeps them (from the current inventory, or from crl.pem when the current
// inventory is lost), and the CRL number never goes back.
func TestRestoreNeverUnrevokes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	setup := func(t *testing.T) (home, backup string) {
		home = filepath.Join(t.TempDir(), "home")
		testtier.QuickKeys(t, home)
		backup = filepath.Join(t.TempDir(), "before.db")
		for _, args := range [][]string{
			{"init", "--name", "Restore CA"}, {"issue", "worker", "w1"}, {"issue", "worker", "w2"}, {"crl"},
			{"backup", backup},
			{"revoke", "w1", "--reason", "keyCompromise"},
			{"issue", "worker", "w3"}, {"revoke", "w3", "--reason", "keyCompromise"}, {"crl"},
		} {
			if code, _, stderr := runCLIAt(t, home, now, args...); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
		}
		return home, backup
	}
	check := func(t *testing.T, home string, before uint64) {
		t.Helper()
		if st, _ := statusOf(t, home, now, "w1"); st != "revoked" {
			t.Errorf("w1 (revoked for keyCompromise) is %q after the restore", st)
		}
		if code, out, stderr := runCLIAt(t, home, now, "crl", "-o", "json"); code != 0 {
			t.Fatalf("crl: %s%s", out, stderr)
		}
		if got := crlNumbers(t, home); got[0] <= before {
			t.Errorf("CRL number after the restore = %d, want above %d", got[0], before)
		}
		data, _ := os.ReadFile(filepath.Join(home, "crl.pem"))
		b, _ := pem.Decode(data)
		c, _ := x509.ParseRevocationList(b.Bytes)
		if len(c.RevokedCertificateEntries) < 1 {
			t.Errorf("the CRL after the restore lists %d certificates", len(c.RevokedCertificateEntries))
		}
		if code, out, _ := runCLIAt(t, home, now, "inventory", "check"); code != 0 {
			t.Errorf("inventory check after the restore: exit %d\n%s", code, out)
		}
	}
	t.Run("current inventory intact", func(t *testing.T) {
		home, backup := setup(t)
		before := crlNumbers(t, home)[0]
		code, out, stderr := runCLIAt(t, home, now, "restore", backup)
		if code != 0 || !strings.Contains(out, "carried 2 revocation(s)") {
			t.Fatalf("restore: exit %d\n%s%s", code, out, stderr)
		}
		check(t, home, before)
		if st, _ := statusOf(t, home, now, "w3"); st != "revoked" {
			t.Errorf("w3, issued and revoked after the backup, is %q", st)
		}
	})
	t.Run("current inventory lost", func(t *testing.T) {
		home, backup := setup(t)
		before := crlNumbers(t, home)[0]
		if err := os.WriteFile(filepath.Join(home, "inventory.db"), []byte(strings.Repeat("x", 8192)), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runCLIAt(t, home, now, "restore", backup)
		if code != 1 || !strings.Contains(stderr, "un-revoke") || !strings.Contains(stderr, "--forget-revocations") {
			t.Fatalf("restore that cannot carry w3's revocation: exit %d\n%s%s", code, out, stderr)
		}
		code, out, stderr = runCLIAt(t, home, now, "restore", "--forget-revocations", backup)
		if code != 0 || !strings.Contains(out, "carried 1 revocation(s)") || !strings.Contains(out, "forgot 1") {
			t.Fatalf("restore --forget-revocations: exit %d\n%s%s", code, out, stderr)
		}
		check(t, home, before)
	})
}

// TestCRLAgainstInventory: an inventory that disagrees with the published
// CRL (an older inventory put in place by hand, or by an older daskca) is
// reported by inventory check and status, and the next CRL number still
// grows.
func TestCRLAgainstInventory(t *testing.T) {
	t.Parallel()
	now := time.Now()
	home := filepath.Join(t.TempDir(), "home")
	testtier.QuickKeys(t, home)
	backup := filepath.Join(t.TempDir(), "before.db")
	for _, args := range [][]string{
		{"init", "--name", "Disagree CA"}, {"issue", "worker", "w1"}, {"crl"}, {"backup", backup},
		{"revoke", "w1", "--reason", "keyCompromise"}, {"crl"}, {"crl"},
	} {
		if code, _, stderr := runCLIAt(t, home, now, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	before := crlNumbers(t, home)[0]
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "inventory.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLIAt(t, home, now, "inventory", "check")
	if code != 1 || !strings.Contains(out, "revoked in crl.pem") {
		t.Errorf("inventory check: exit %d\n%s", code, out)
	}
	if _, code := statusOf(t, home, now, "w1"); code != 2 {
		t.Errorf("status: exit %d, want 2 (critical)", code)
	}
	if code, _, stderr := runCLIAt(t, home, now, "crl"); code != 0 {
		t.Fatal(stderr)
	}
	if got := crlNumbers(t, home)[0]; got <= before {
		t.Errorf("CRL number = %d after putting an older inventory in place, want above %d", got, before)
	}
	// the high-water mark alone keeps the number growing
	if err := os.Remove(filepath.Join(home, "crl.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "inventory.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLIAt(t, home, now, "crl"); code != 0 {
		t.Fatal(stderr)
	}
	if got := crlNumbers(t, home)[0]; got <= before+1 {
		t.Errorf("CRL number = %d with crl.pem gone, want above %d", got, before+1)
	}
}
