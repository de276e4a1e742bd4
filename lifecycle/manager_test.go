package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/daskca/daskca/ca"
)

// TestDecryptAhead: keys decrypted in the background are what load hands
// out, once; keys that do not decrypt leave load to report the error; a
// CA whose keys the Manager holds is not decrypted again.
func TestDecryptAhead(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password string
		wantErr  error
	}{
		{"right password", "correct-horse-battery", nil},
		{"wrong password", "not the password", ca.ErrWrongPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			pub, err := ca.LoadPublic(f.m.Layout.CADir())
			if err != nil {
				t.Fatal(err)
			}
			f.m.keys = nil // a fresh Manager, as a command makes one
			f.m.CA, f.m.Password = pub, []byte(tc.password)
			f.m.decryptAhead(f.m.Layout.CADir(), f.m.Layout.CANextDir()) // no next CA: skipped
			if len(f.m.ahead) != 1 {
				t.Fatalf("%d decryptions started, want 1", len(f.m.ahead))
			}
			a, err := f.m.load(f.m.Layout.CADir())
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("load = %v, want %v", err, tc.wantErr)
			}
			if len(f.m.ahead) != 0 {
				t.Errorf("%d decryptions left after load, want 0", len(f.m.ahead))
			}
			if err != nil {
				return
			}
			if !a.CanSign() || !sameCA(a, pub) {
				t.Fatal("load did not give the CA with its keys")
			}
			f.m.decryptAhead(f.m.Layout.CADir())
			if len(f.m.ahead) != 0 {
				t.Error("keys already held were decrypted again")
			}
		})
	}
}

// TestReissueDecryptsWhenSigning: ca rotate issue with a wrong password
// stops before anything is re-issued or recorded, and works with the
// right one from a Manager that holds no keys (as the command makes it).
func TestReissueDecryptsWhenSigning(t *testing.T) {
	f := newFixture(t, false)
	if _, err := f.m.Begin(BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := f.m.State()
	if err != nil {
		t.Fatal(err)
	}
	w1, n := f.active("worker", "w1"), f.count()
	fresh := func(pw string) {
		pub, err := ca.LoadPublic(f.m.Layout.CADir())
		if err != nil {
			t.Fatal(err)
		}
		f.m.keys, f.m.CA, f.m.Password = nil, pub, []byte(pw)
	}
	fresh("not the password")
	if _, _, err := f.m.Reissue(context.Background()); !errors.Is(err, ca.ErrWrongPassword) {
		t.Fatalf("Reissue with a wrong password = %v, want ErrWrongPassword", err)
	}
	if st, err := f.m.State(); err != nil || st.Phase != before.Phase || f.count() != n || f.active("worker", "w1").Serial != w1.Serial {
		t.Fatalf("a re-issue that could not sign changed the home: phase %s, %d records (was %d), %v", st.Phase, f.count(), n, err)
	}
	fresh("correct-horse-battery")
	st, res, err := f.m.Reissue(context.Background())
	if err != nil || st.Phase != PhaseIssued || len(res) != 4 {
		t.Fatalf("Reissue = %s, %d re-issued, %v; want issued, 4", st.Phase, len(res), err)
	}
	if f.active("worker", "w1").Serial == w1.Serial {
		t.Error("w1 was not re-issued")
	}
}
