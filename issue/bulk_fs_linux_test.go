package issue

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/daskca/daskca/ca"
)

func inode(t *testing.T, path string) (ino uint64, nlink uint64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Ino, uint64(st.Nlink)
}

func TestProcessUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o027, 0} {
		old := syscall.Umask(mask)
		got := processUmask()
		syscall.Umask(old)
		if got != os.FileMode(mask) {
			t.Errorf("umask %04o read as %04o", mask, got)
		}
	}
}

// TestStageModes stages files under several umasks, with the umask known
// and unknown, and checks that every file gets exactly its mode.
func TestStageModes(t *testing.T) {
	files := func(dir string) []file {
		return []file{
			{filepath.Join(dir, "cert.pem"), []byte("cert"), 0o644},
			{filepath.Join(dir, "key.pem"), []byte("key"), 0o600},
			{filepath.Join(dir, "ca.pem"), []byte("bundle"), 0o644},
		}
	}
	for _, mask := range []int{0o022, 0o077, 0o027, 0o002, 0} {
		for _, known := range []bool{true, false} {
			old := syscall.Umask(mask)
			dir := filepath.Join(t.TempDir(), "certs", "worker", "n1")
			sg := stager{umask: unknownUmask}
			if known {
				sg.umask = processUmask()
			}
			st, err := sg.stage(filepath.Join(dir, ".pending-1"), files(dir))
			if err == nil {
				err = placeAll([]*stagedFiles{&st}, nil)
			}
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files(dir) {
				fi, err := os.Stat(f.path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != f.mode {
					t.Errorf("umask %04o (known %v): %s has mode %04o, want %04o", mask, known, filepath.Base(f.path), fi.Mode().Perm(), f.mode)
				}
			}
		}
	}
}

// TestSharedFile links one contents into several destinations: each run
// of maxLinks shares an inode, other contents or modes are not linked,
// and where linking fails the caller is told to write a copy.
func TestSharedFile(t *testing.T) {
	dir := t.TempDir()
	s := newSharedFile(dir, []byte("bundle"), 0o644)
	s.maxLinks = 3
	var paths []string
	for i := range 7 {
		p := filepath.Join(dir, "ca"+string(rune('a'+i)))
		ok, err := s.link(p, []byte("bundle"), 0o644)
		if err != nil || !ok {
			t.Fatalf("link %d: %v %v", i, ok, err)
		}
		paths = append(paths, p)
	}
	s.close()
	inodes := map[uint64]int{}
	for _, p := range paths {
		ino, nlink := inode(t, p)
		inodes[ino]++
		b, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || !bytes.Equal(b, []byte("bundle")) || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %q %v mode %v", p, b, err, fi.Mode().Perm())
		}
		if nlink > 3 {
			t.Errorf("%s has %d links, more than maxLinks", p, nlink)
		}
	}
	if len(inodes) != 3 {
		t.Errorf("7 links of at most 3 each went to %d inodes, want 3", len(inodes))
	}
	for _, tt := range []struct {
		data []byte
		mode os.FileMode
	}{{[]byte("other"), 0o644}, {[]byte("bundle"), 0o600}} {
		if ok, err := s.link(filepath.Join(dir, "x"), tt.data, tt.mode); ok || err != nil {
			t.Errorf("linked %q mode %04o: %v %v", tt.data, tt.mode, ok, err)
		}
	}
	if ok, err := s.link(paths[0], []byte("bundle"), 0o644); ok || err == nil {
		t.Errorf("linking over an existing file: %v %v, want an error", ok, err)
	}

	broken := newSharedFile(dir, []byte("bundle"), 0o644)
	broken.fdDir = filepath.Join(dir, "no-such-dir") + "/"
	for range 2 {
		if ok, err := broken.link(filepath.Join(dir, "copy"), []byte("bundle"), 0o644); ok || err != nil {
			t.Fatalf("broken link: %v %v, want a fallback to a copy", ok, err)
		}
	}
	broken.close()
	var none *sharedFile
	if ok, err := none.link(filepath.Join(dir, "y"), []byte("bundle"), 0o644); ok || err != nil {
		t.Errorf("nil shared file linked: %v %v", ok, err)
	}
}

// TestIssueBulkSharesBundle checks that the endpoints of a bulk run share
// their copy of the trust bundle, one inode per worker (an unnamed file, so
// its link count is the number of endpoints on it), and that a single
// Issue writes its own.
func TestIssueBulkSharesBundle(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	const workers = 3
	_, recs := mustBulk(t, is, mustHostRequests(t, "n[1-20]", ""), BulkOptions{BatchSize: 8, Workers: workers})
	on := map[uint64]uint64{} // inode -> endpoints linked to it
	nlinks := map[uint64]uint64{}
	for _, r := range recs {
		ino, nlink := inode(t, r.CAFile)
		on[ino]++
		nlinks[ino] = nlink
		checkFiles(t, is, r)
	}
	if len(on) > workers {
		t.Errorf("bundles of %d endpoints on %d inodes, want at most one per worker (%d)", len(recs), len(on), workers)
	}
	for ino, n := range on {
		if nlinks[ino] != n {
			t.Errorf("inode %d: %d links, want the %d endpoints on it", ino, nlinks[ino], n)
		}
	}
	first, _ := inode(t, recs[0].CAFile)
	single, err := is.Issue(context.Background(), Request{Role: "client", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if ino, nlink := inode(t, single.CAFile); ino == first || nlink != 1 {
		t.Errorf("single issue's CA file: inode %d with %d links", ino, nlink)
	}
}
