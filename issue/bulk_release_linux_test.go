package issue

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/store"
)

// TestReleaserHoldsTheReplacedInode checks that a file replaced by a
// rename while held stays alive, unlinked, until the releaser lets it go,
// and that hold never follows a link.
func TestReleaserHoldsTheReplacedInode(t *testing.T) {
	dir := t.TempDir()
	dst, tmp := filepath.Join(dir, "key.pem"), filepath.Join(dir, "staged")
	for p, data := range map[string]string{dst: "old", tmp: "new"} {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	oldIno, _ := inode(t, dst)
	rl := newReleaser(1)
	if rl == nil {
		t.Fatal("no releaser under this descriptor limit")
	}
	fd := rl.hold(dst)
	if fd < 0 {
		t.Fatal("hold failed on a regular file")
	}
	if err := rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != oldIno || st.Nlink != 0 {
		t.Fatalf("held descriptor: ino %d nlink %d (%v), want the old inode %d, unlinked", st.Ino, st.Nlink, err, oldIno)
	}
	if got, _ := os.ReadFile(dst); string(got) != "new" {
		t.Errorf("dst holds %q, want the new file", got)
	}
	rl.release(fd)
	rl.wait()
	if err := unix.Fstat(fd, &st); err == nil && st.Ino == oldIno && st.Nlink == 0 {
		t.Error("the old inode is still held after wait")
	}

	rl = newReleaser(1)
	defer rl.wait()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fd = rl.hold(link)
	if fd < 0 {
		t.Fatal("hold of a link failed")
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("hold of a link holds mode %o (%v), want the link itself", st.Mode, err)
	}
	rl.release(fd)
	if fd := rl.hold(filepath.Join(dir, "missing")); fd != -1 {
		t.Errorf("hold of a missing file = %d, want -1", fd)
	}
	var none *releaser
	if fd := none.hold(dst); fd != -1 {
		t.Errorf("nil releaser held %d", fd)
	}
	none.release(-1)
	none.wait()
}

func TestMaxHeld(t *testing.T) {
	for _, tt := range []struct {
		limit uint64
		want  int
	}{
		{0, 0}, {200, 50}, {256, 64}, {1024, 256}, {8192, 2048}, {1 << 20, 2048}, {1<<64 - 1, 2048},
	} {
		if got := maxHeld(tt.limit); got != tt.want {
			t.Errorf("maxHeld(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestReplacementFreesTheOldFiles checks, on a real run, that the files a
// replacement replaces are freed by the end of the run: the releaser let
// every one go.
func TestReplacementFreesTheOldFiles(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[1-40]", "")
	_, recs := mustBulk(t, is, reqs, BulkOptions{BatchSize: 8})
	var held []int
	for _, r := range recs {
		ep := is.Layout.Endpoint(r.Role, r.Name)
		for _, p := range []string{ep.Key, ep.Cert} {
			fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, fd)
		}
	}
	for i := range reqs {
		reqs[i].Force = true
	}
	mustBulk(t, is, reqs, BulkOptions{BatchSize: 8})
	open := 0
	for _, fd := range held {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		if st.Nlink != 0 {
			t.Errorf("a replaced file still has %d links", st.Nlink)
		}
		_ = unix.Close(fd)
		open++
	}
	// The run's own descriptors are all closed: only those of the test
	// were still open on the old files.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, de := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", de.Name()))
		if filepath.Dir(filepath.Dir(filepath.Dir(target))) == is.Layout.CertsDir() {
			t.Errorf("descriptor %s still open on %s", de.Name(), target)
		}
	}
	if open != 80 {
		t.Errorf("checked %d old files, want 80", open)
	}
}

// TestRenamesSyncWithTheNextBatch checks when a run syncs: once per batch
// before its commit, which also makes the previous batch's renames
// durable, and once more after the last batch's renames, before the run
// returns; and that a certificate is reported only after the sync that
// made its renames durable — for new endpoints and replacements alike.
func TestRenamesSyncWithTheNextBatch(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[1-30]", "")
	var before map[uint64]bool // certificate files' inodes before the run
	// placed counts the endpoints whose certificate file is new.
	placed := func() int {
		n := 0
		for i := 1; i <= 30; i++ {
			fi, err := os.Lstat(is.Layout.Endpoint("worker", fmt.Sprintf("n%d", i)).Cert)
			if err == nil && !before[fi.Sys().(*syscall.Stat_t).Ino] {
				n++
			}
		}
		return n
	}
	var syncs []int // endpoints placed at each sync
	was := syncHome
	syncHome = func(dir string) error {
		syncs = append(syncs, placed())
		return was(dir)
	}
	defer func() { syncHome = was }()
	for _, replace := range []bool{false, true} {
		before = map[uint64]bool{}
		for i := range reqs {
			reqs[i].Force = replace
			if fi, err := os.Lstat(is.Layout.Endpoint("worker", reqs[i].Name).Cert); err == nil {
				before[fi.Sys().(*syscall.Stat_t).Ino] = true
			}
		}
		syncs = nil
		var reported []int // syncs made when each certificate was reported
		o := BulkOptions{BatchSize: 10, Recovered: true, OnIssued: func(store.Record) { reported = append(reported, len(syncs)) }}
		if _, err := is.IssueBulk(t.Context(), mustPlan(t, is, reqs), o); err != nil {
			t.Fatal(err)
		}
		if want := []int{0, 10, 20, 30}; !slices.Equal(syncs, want) {
			t.Errorf("replace=%v: syncs with %v endpoints placed, want %v", replace, syncs, want)
		}
		want := slices.Concat(slices.Repeat([]int{2}, 10), slices.Repeat([]int{3}, 10), slices.Repeat([]int{4}, 10))
		if !slices.Equal(reported, want) {
			t.Errorf("replace=%v: certificates reported after syncs %v, want %v", replace, reported, want)
		}
	}
}

// TestSpreadSubdirs checks that the staging directory's parent gets the
// flag that spreads its subdirectories, where the file system keeps inode
// flags, and that a link is not followed.
func TestSpreadSubdirs(t *testing.T) {
	tried := 0
	for _, base := range []string{t.TempDir(), os.TempDir(), "/var/tmp"} {
		dir, err := os.MkdirTemp(base, "spread-")
		if err != nil {
			continue
		}
		defer os.RemoveAll(dir)
		if !keepsTopdir(t, dir) {
			continue // tmpfs, say
		}
		tried++
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		if err := os.Mkdir(target, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		spreadSubdirs(link)
		if f, _ := flagsOf(target); f&fsTopdirFL != 0 {
			t.Errorf("%s: the flag was set through a link", base)
		}
		spreadSubdirs(target)
		spreadSubdirs(target) // once set, left alone
		if f, err := flagsOf(target); err != nil || f&fsTopdirFL == 0 {
			t.Errorf("%s: flags %#x (%v), want FS_TOPDIR_FL", base, f, err)
		}
	}
	if tried == 0 {
		t.Skip("no file system here keeps FS_TOPDIR_FL")
	}
}

func flagsOf(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
}

// keepsTopdir reports whether the file system of dir keeps FS_TOPDIR_FL,
// set directly on a new directory in it.
func keepsTopdir(t *testing.T, dir string) bool {
	probe := filepath.Join(dir, "probe")
	if err := os.Mkdir(probe, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(probe, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, f|fsTopdirFL) != nil {
		return false
	}
	f, err = unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	return err == nil && f&fsTopdirFL != 0
}
