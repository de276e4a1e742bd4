package issue

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daskca/daskca/ca"
)

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// TestIssueBulkLeavesNothingHidden checks that runs which issue, replace
// and skip leave no pending or staging directory behind (only the settled
// marker), with the directories' modes right.
func TestIssueBulkLeavesNothingHidden(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[1-60]", "")
	mustBulk(t, is, reqs, BulkOptions{BatchSize: 7, Workers: 3})
	for i := range reqs {
		reqs[i].Force = true
	}
	_, recs := mustBulk(t, is, reqs, BulkOptions{BatchSize: 5})
	err := filepath.WalkDir(is.Layout.CertsDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != is.Layout.Settled() {
			t.Errorf("left behind: %s", p)
		}
		if fi, _ := d.Info(); d.IsDir() && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %04o", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		checkFiles(t, is, r)
	}
	checkCounts(t, is.Store, 120)
}

// TestIssueBulkNewEndpointDirs checks how a bulk run places new endpoints:
// each endpoint directory appears whole, renamed from its pending
// directory beside it (the pending directory's inode becomes the
// endpoint's), and a new endpoint whose directory exists already (left by
// hand, say) gets its files moved into it.
func TestIssueBulkNewEndpointDirs(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	byHand := is.Layout.CertDir("worker", "n2")
	mustMkdir(t, filepath.Dir(byHand))
	mustMkdir(t, byHand)
	stray := filepath.Join(byHand, "notes.txt")
	if err := os.WriteFile(stray, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	ino, _ := inode(t, byHand)
	_, recs := mustBulk(t, is, mustHostRequests(t, "n[1-3]", ""), BulkOptions{})
	for _, r := range recs {
		checkFiles(t, is, r)
	}
	if got, _ := inode(t, byHand); got != ino {
		t.Error("the existing endpoint directory was replaced")
	}
	if b, err := os.ReadFile(stray); err != nil || string(b) != "kept" {
		t.Errorf("a file of the existing endpoint directory: %q, %v", b, err)
	}
	left, _ := filepath.Glob(filepath.Join(is.Layout.CertsDir(), "*", ".*"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestPlaceNewEndpointRace: if a new endpoint's directory appears between
// staging and placing, placeAll moves the files into it instead of
// failing the batch after its commit.
func TestPlaceNewEndpointRace(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs", "worker")
	whole := filepath.Join(certs, "n1")
	sg := stager{umask: unknownUmask}
	mustMkdir(t, certs)
	files := []file{{filepath.Join(whole, "cert.pem"), []byte("cert"), 0o644}, {filepath.Join(whole, "key.pem"), []byte("key"), 0o600}}
	st, err := sg.stageNew(filepath.Join(certs, ".pending-1"), whole, filepath.Join(whole, ".pending-1"), entryNone, files)
	if err != nil || st.whole != whole {
		t.Fatalf("stageNew = %+v, %v; want a whole-directory stage", st, err)
	}
	mustMkdir(t, whole)
	if err := placeAll([]*stagedFiles{&st}, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f.path); err != nil || string(b) != string(f.data) {
			t.Errorf("%s = %q, %v", f.path, b, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(certs, ".*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
