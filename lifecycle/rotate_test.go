package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/store"
)

// bundleRoots returns the fingerprints of the roots in a bundle file.
func bundleRoots(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, c := range certs(t, path) {
		out = append(out, ca.Fingerprint(c)[:8])
	}
	return out
}

// checkBundles asserts that the home's bundle and every active endpoint's
// ca.pem hold exactly the roots want.
func checkBundles(t *testing.T, f *fixture, want ...*ca.Authority) {
	t.Helper()
	var fps []string
	for _, a := range want {
		fps = append(fps, ca.Fingerprint(a.Root)[:8])
	}
	recs, _ := f.m.active()
	paths := []string{f.m.Layout.Bundle()}
	for _, r := range recs {
		paths = append(paths, r.CAFile)
	}
	slices.Sort(fps)
	for _, p := range paths {
		got := bundleRoots(t, p)
		slices.Sort(got)
		if strings.Join(got, ",") != strings.Join(fps, ",") {
			t.Errorf("%s holds roots %v, want %v", p, got, fps)
		}
	}
}

// leavesOn counts active records signed by a.
func leavesOn(t *testing.T, f *fixture, a *ca.Authority) int {
	t.Helper()
	recs, err := f.m.active()
	if err != nil {
		t.Fatal(err)
	}
	n, by := 0, signedBy(a)
	for _, r := range recs {
		if by(r) {
			n++
		}
	}
	return n
}

func TestRotationFullCycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	old := f.m.CA
	oldLeaf := filepath.Join(t.TempDir(), "old-w1.pem")
	if err := os.WriteFile(oldLeaf, mustRead(t, f.active("worker", "w1").CertFile), 0o644); err != nil {
		t.Fatal(err)
	}

	st, err := f.m.Begin(BeginOptions{})
	if err != nil || st.Phase != PhaseBegun {
		t.Fatalf("begin = %+v, %v", st, err)
	}
	neu, err := ca.LoadPublic(f.m.Layout.CANextDir())
	if err != nil {
		t.Fatal(err)
	}
	if neu.Root.Subject.CommonName != "Test CA G2" || neu.TrustDomain != "test.dask" || neu.Intermediate == nil {
		t.Errorf("new CA %q, trust domain %q, intermediate %v", neu.Root.Subject.CommonName, neu.TrustDomain, neu.Intermediate != nil)
	}
	checkBundles(t, f, old, neu)
	if leavesOn(t, f, old) != 4 {
		t.Error("begin re-issued leaves")
	}
	if again, err := f.m.Begin(BeginOptions{}); err != nil || again.New != st.New {
		t.Errorf("begin again = %+v, %v; want the same rotation", again, err)
	}
	if _, err := f.m.Finish(); !errors.Is(err, ErrOldCAInUse) || !strings.Contains(err.Error(), "worker/w1") {
		t.Errorf("finish with leaves on the old CA: %v", err)
	}

	st, got, err := f.m.Reissue(context.Background())
	if err != nil || st.Phase != PhaseIssued || len(got) != 4 {
		t.Fatalf("issue = %+v, %+v, %v", st, got, err)
	}
	if leavesOn(t, f, neu) != 4 || leavesOn(t, f, old) != 0 {
		t.Errorf("after issue: %d leaves on new, %d on old", leavesOn(t, f, neu), leavesOn(t, f, old))
	}
	if ca.Fingerprint(f.m.CA.Root) != st.New {
		t.Error("the new CA does not sign after issue")
	}
	if p, err := ca.LoadPublic(f.m.Layout.CAPreviousDir()); err != nil || ca.Fingerprint(p.Root) != st.Old {
		t.Errorf("old CA not in ca-previous: %v", err)
	}
	checkBundles(t, f, neu, old)
	w1 := f.active("worker", "w1")
	if err := f.verify(w1.CertFile, w1.CAFile); err != nil {
		t.Errorf("new leaf on the overlap bundle: %v", err)
	}
	if err := f.verify(oldLeaf, w1.CAFile); err != nil {
		t.Errorf("old leaf on the overlap bundle: %v", err)
	}
	n := f.count()
	if _, got, err := f.m.Reissue(context.Background()); err != nil || len(got) != 0 || f.count() != n {
		t.Errorf("issue again re-issued %+v (%v)", got, err)
	}
	if rs, err := f.m.RotationStatus(); err != nil || rs.OnNew != 4 || len(rs.OnOld) != 0 || !strings.Contains(rs.Next, "finish") {
		t.Errorf("status = %+v, %v", rs, err)
	}

	st, err = f.m.Finish()
	if err != nil || st.Phase != PhaseNone || st.Last != "finished" {
		t.Fatalf("finish = %+v, %v", st, err)
	}
	checkBundles(t, f, neu)
	if err := f.verify(oldLeaf, w1.CAFile); err == nil {
		t.Error("an old leaf still verifies after finish")
	}
	if _, err := ca.LoadPublic(f.m.Layout.CARetiredDir(st.Old)); err != nil {
		t.Errorf("old CA not retired: %v", err)
	}
	for _, d := range []string{f.m.Layout.CANextDir(), f.m.Layout.CAPreviousDir(), filepath.Join(f.m.Layout.CADir(), ca.OverlapFile)} {
		if exists(d) {
			t.Errorf("%s left after finish", d)
		}
	}
	if _, err := f.m.Finish(); err != nil {
		t.Errorf("finish again: %v", err)
	}
	if _, _, err := f.m.Reissue(context.Background()); !errors.Is(err, ErrNoRotation) {
		t.Errorf("issue without rotation: %v", err)
	}
	if rep, _ := f.m.Store.Check(); !rep.OK() {
		t.Errorf("inventory check: %v", rep.Problems)
	}
}

func TestRotationAbort(t *testing.T) {
	t.Parallel()
	for _, afterIssue := range []bool{false, true} {
		t.Run(map[bool]string{false: "after begin", true: "after issue"}[afterIssue], func(t *testing.T) {
			f := newFixture(t, false)
			old := f.m.CA
			st, err := f.m.Begin(BeginOptions{Name: "Other CA"})
			if err != nil {
				t.Fatal(err)
			}
			if afterIssue {
				if _, _, err := f.m.Reissue(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			st, got, err := f.m.Abort(context.Background())
			if err != nil || st.Last != "aborted" {
				t.Fatalf("abort = %+v, %v", st, err)
			}
			if afterIssue != (len(got) == 4) {
				t.Errorf("abort re-issued %d certificates", len(got))
			}
			if ca.Fingerprint(f.m.CA.Root) != ca.Fingerprint(old.Root) || leavesOn(t, f, old) != 4 {
				t.Error("abort did not return to the old CA")
			}
			checkBundles(t, f, old)
			w2 := f.active("worker", "w2")
			if err := f.verify(w2.CertFile, w2.CAFile); err != nil {
				t.Errorf("leaf after abort: %v", err)
			}
			if !exists(f.m.Layout.CARetiredDir(st.New)) || exists(f.m.Layout.CANextDir()) || exists(f.m.Layout.CAPreviousDir()) {
				t.Error("new CA not retired")
			}
		})
	}
}

func TestRotationAfterCrash(t *testing.T) {
	t.Parallel()
	t.Run("issue: re-issued and recorded, phase not recorded, files not placed", func(t *testing.T) {
		f := newFixture(t, false)
		st, err := f.m.Begin(BeginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		newCA, err := ca.Load(f.m.Layout.CANextDir(), f.m.Password)
		if err != nil {
			t.Fatal(err)
		}
		// every certificate re-issued and recorded, the phase not yet
		// recorded, and w1's files not yet placed
		old := f.active("worker", "w1")
		saved := map[string][]byte{}
		for _, n := range []string{"ca.pem", "key.pem", "cert.pem"} {
			saved[n] = mustRead(t, filepath.Join(filepath.Dir(old.CertFile), n))
		}
		if _, _, err := f.m.reissueAll(context.Background(), newCA, nil, func(r store.Record) bool { return !signedBy(newCA)(r) }, ""); err != nil {
			t.Fatal(err)
		}
		unplace(t, f, f.active("worker", "w1"), saved)
		if st, err := f.m.State(); err != nil || st.Phase != PhaseBegun {
			t.Fatalf("phase %v, %v; want begun", st.Phase, err)
		}
		n := f.count()
		if _, got, err := f.m.Reissue(context.Background()); err != nil || len(got) != 0 {
			t.Fatalf("rerun = %+v, %v", got, err)
		}
		if f.count() != n || leavesOn(t, f, newCA) != 4 || ca.Fingerprint(f.m.CA.Root) != st.New {
			t.Errorf("rerun: %d -> %d records, %d on new CA", n, f.count(), leavesOn(t, f, newCA))
		}
		w1 := f.active("worker", "w1")
		if c := certs(t, w1.CertFile)[0]; c.SerialNumber.Text(16) != w1.Serial {
			t.Error("pending files not placed")
		}
	})
	t.Run("issue: crash between the two directory moves", func(t *testing.T) {
		f := newFixture(t, false)
		if _, err := f.m.Begin(BeginOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.m.Reissue(context.Background()); err != nil {
			t.Fatal(err)
		}
		// undo the second move: the new CA back in ca-next, ca/ missing
		if err := os.Rename(f.m.Layout.CADir(), f.m.Layout.CANextDir()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.m.RotationStatus(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.m.Reissue(context.Background()); err != nil {
			t.Fatalf("rerun: %v", err)
		}
		if !exists(filepath.Join(f.m.Layout.CADir(), ca.RootCertFile)) || exists(f.m.Layout.CANextDir()) {
			t.Error("directories not repaired")
		}
	})
	t.Run("begin: new CA saved, phase not recorded", func(t *testing.T) {
		f := newFixture(t, false)
		next, err := f.m.nextCA(BeginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.m.Begin(BeginOptions{})
		if err != nil || st.New != ca.Fingerprint(next.Root) {
			t.Errorf("begin after crash made another CA: %+v, %v", st, err)
		}
	})
}

func TestNextName(t *testing.T) {
	long := strings.Repeat("x", ca.MaxNameLen)
	tests := []struct{ in, want string }{
		{"Acme CA", "Acme CA G2"},
		{"Acme CA G2", "Acme CA G3"},
		{"Acme CA G9", "Acme CA G10"},
		{long, long[:ca.MaxNameLen-3] + " G2"},
		{long[:ca.MaxNameLen-3] + " G9", long[:ca.MaxNameLen-4] + " G10"},
		{strings.Repeat("x", 60) + "  abc", strings.Repeat("x", 60) + " G2"},
		{strings.Repeat("é", ca.MaxNameLen), strings.Repeat("é", ca.MaxNameLen-3) + " G2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := nextName(tt.in)
			if got != tt.want {
				t.Errorf("nextName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > ca.MaxNameLen {
				t.Errorf("nextName(%q) is %d characters, more than %d", tt.in, n, ca.MaxNameLen)
			}
		})
	}
}

// TestCheckSigning: after every rotation step the CA in the CA directory
// matches the recorded state; the CA of before the step (what a step
// interrupted between recording its phase and moving the directories
// leaves, or what a process loaded just before the step) does not.
func TestCheckSigning(t *testing.T) {
	f := newFixture(t, false)
	state := func() []byte {
		b, err := f.m.Store.Meta(RotationKey)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	load := func() *ca.Authority {
		a, err := ca.LoadPublic(f.m.Layout.CADir())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := CheckSigning(state(), load()); err != nil {
		t.Fatalf("no rotation yet: %v", err)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"begin", func() error { _, err := f.m.Begin(BeginOptions{}); return err }},
		{"issue", func() error { _, _, err := f.m.Reissue(context.Background()); return err }},
		{"finish", func() error { _, err := f.m.Finish(); return err }},
		{"begin again", func() error { _, err := f.m.Begin(BeginOptions{}); return err }},
		{"abort", func() error { _, _, err := f.m.Abort(context.Background()); return err }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := load()
			if err := s.run(); err != nil {
				t.Fatal(err)
			}
			if err := CheckSigning(state(), load()); err != nil {
				t.Errorf("the CA after the step: %v", err)
			}
			if err := CheckSigning(state(), before); !errors.Is(err, ErrCAMisplaced) {
				t.Errorf("the CA of before the step: %v, want ErrCAMisplaced", err)
			}
		})
	}
	if err := CheckSigning([]byte("{"), load()); err == nil || errors.Is(err, ErrCAMisplaced) {
		t.Errorf("a damaged state: %v", err)
	}
}

// TestReissueRepairsBundlesFirst checks that ca rotate issue gives every
// endpoint the bundle of both roots before it signs anything, as a begin
// killed while writing the bundles leaves some with the old root alone:
// here the run cannot sign (a wrong password), and the bundles are whole
// all the same.
func TestReissueRepairsBundlesFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	oldBundle := mustRead(t, f.m.Layout.Bundle())
	if _, err := f.m.Begin(BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	w1 := f.active("worker", "w1")
	if err := os.Remove(w1.CAFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w1.CAFile, oldBundle, 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := ca.LoadPublic(f.m.Layout.CADir())
	if err != nil {
		t.Fatal(err)
	}
	f.m.keys, f.m.CA, f.m.Password = nil, pub, []byte("not the password")
	if _, _, err := f.m.Reissue(context.Background()); !errors.Is(err, ca.ErrWrongPassword) {
		t.Fatalf("Reissue with a wrong password = %v, want ErrWrongPassword", err)
	}
	if f.active("worker", "w1").Serial != w1.Serial {
		t.Fatal("w1 was re-issued")
	}
	newCA, err := ca.LoadPublic(f.m.Layout.CANextDir())
	if err != nil {
		t.Fatal(err)
	}
	checkBundles(t, f, pub, newCA)
}

// TestBeginAfterAKilledSave: a begin killed while it saved the new CA
// leaves a partial directory beside ca-next, never a ca-next that does not
// load; the next begin removes it and goes on.
func TestBeginAfterAKilledSave(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	partial := f.m.Layout.CANextDir() + ".partial"
	if err := os.MkdirAll(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, ca.RootCertFile), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Begin(BeginOptions{}); err != nil {
		t.Fatalf("Begin after a killed save: %v", err)
	}
	if _, err := os.Lstat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", partial, err)
	}
	if _, err := ca.LoadPublic(f.m.Layout.CANextDir()); err != nil {
		t.Errorf("ca-next does not load: %v", err)
	}
}
