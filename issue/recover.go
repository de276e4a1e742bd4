package issue

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Pending is a pending directory found in the home (see stagedFiles), or
// the files of one certificate in a run's staging directory. Name is empty
// for the pending directory of a new endpoint
// (home.Layout.NewEndpointPendingDir), whose name only the inventory record
// of Serial knows; both Role and Name are empty for staged files, which
// Files lists (Dir is then the staging directory).
type Pending struct {
	Role, Name, Serial string
	Dir                string
	Files              []string
}

// FindPending lists the pending directories of the home: those of new
// endpoints, then those inside endpoint directories, each in path order,
// then the certificates with files in staging directories, by directory
// and serial.
func FindPending(l home.Layout) ([]Pending, error) {
	news, err := filepath.Glob(filepath.Join(l.CertsDir(), "*", home.PendingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	dirs, err := filepath.Glob(filepath.Join(l.CertsDir(), "*", "*", home.PendingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(news)+len(dirs))
	for _, d := range news {
		out = append(out, Pending{
			Role:   filepath.Base(filepath.Dir(d)),
			Serial: strings.TrimPrefix(filepath.Base(d), home.PendingPrefix), Dir: d,
		})
	}
	for _, d := range dirs {
		name := filepath.Dir(d)
		if strings.HasPrefix(filepath.Base(name), home.PendingPrefix) {
			continue // a file inside a new endpoint's pending directory
		}
		out = append(out, Pending{
			Role: filepath.Base(filepath.Dir(name)), Name: filepath.Base(name),
			Serial: strings.TrimPrefix(filepath.Base(d), home.PendingPrefix), Dir: d,
		})
	}
	staged, err := findStaged(l)
	return append(out, staged...), err
}

// findStaged groups the files of the home's staging directories by the
// serial their names start with. A file named otherwise is its own group,
// of no serial, so that Recover removes it.
func findStaged(l home.Layout) ([]Pending, error) {
	dirs, err := filepath.Glob(filepath.Join(l.CertsDir(), home.StagingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, d := range dirs {
		names, err := readDirNames(d)
		if err != nil {
			return nil, err
		}
		at := map[string]int{}
		for _, n := range names {
			serial, _, ok := strings.Cut(n, ".")
			if !ok || serial == "" {
				serial = n
			}
			i, seen := at[serial]
			if !seen {
				i = len(out)
				at[serial] = i
				out = append(out, Pending{Serial: serial, Dir: d})
			}
			out[i].Files = append(out[i].Files, filepath.Join(d, n))
		}
	}
	return out, nil
}

// readDirNames lists the names in dir, sorted; a dir that is not a
// directory (a link, say) gives an error.
func readDirNames(dir string) ([]string, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// Recover finishes what an interrupted run (issue, bulk issue, renewal,
// re-issue) left in the home: the files of a pending directory whose
// serial the inventory records as active are put in place, in the
// placing order of every run, once they pass homefiles.CheckPending
// (regular files with their modes, the recorded certificate, its key, CA
// certificates of this home only); a pending directory that fails the
// check is discarded, with a line to is.Logf, and so is one of any other
// serial (its transaction never committed, or a newer certificate
// replaced it since). It returns the records whose files it put in place.
// It searches the endpoint directories only when the home's Settled
// marker is missing: IssueBulk removes it, durably, before it stages
// anything and puts it back when it ends without error, so the marker is
// missing after any run that may have left something.
// IssueBulk and Issue run it first; the caller must hold the inventory's
// write lock, as for any write.
func (is *Issuer) Recover() ([]store.Record, error) {
	if settled(is.Layout) {
		return nil, nil // no run left anything: no directory to search
	}
	found, err := FindPending(is.Layout)
	if err != nil {
		return nil, err
	}
	var done []store.Record
	var as homefiles.Authorities
	for _, p := range found {
		rec, err := is.Store.Cert(p.Serial)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
		case err != nil:
			return done, err
		case rec.Status == store.Active && (p.Role == "" || rec.Role == p.Role) && (p.Name == "" || rec.Name == p.Name):
			if as == nil {
				if as, err = homefiles.LoadAuthorities(is.Layout); err != nil {
					return done, err
				}
			}
			st, err := is.checkPending(p, rec, as)
			if err != nil {
				is.logf("discarding %s: %v", p.what(), err)
				break
			}
			if p.Files != nil {
				// The endpoint's directory, should it have gone since:
				// failing to make it is an error, not a reason to discard.
				st.dirs, err = mkdirs(is.Layout.CertDir(rec.Role, rec.Name))
			}
			sts := []*stagedFiles{&st}
			if err == nil {
				err = placeAll(sts, nil)
			}
			if serr := syncRenames(is.Layout.Dir, sts); err == nil {
				err = serr
			}
			if err != nil {
				return done, fmt.Errorf("placing the files of %s/%s: %w", rec.Role, rec.Name, err)
			}
			done = append(done, rec)
			continue
		}
		if err := discard(p); err != nil {
			return done, err
		}
	}
	if err := removeStagingDirs(is.Layout); err != nil {
		return done, err
	}
	return done, nil
}

// what names p in a log line.
func (p Pending) what() string {
	if p.Files == nil {
		return p.Dir
	}
	return fmt.Sprintf("the files of serial %s in %s", p.Serial, p.Dir)
}

// discard removes what p names: a pending directory, or staged files.
func discard(p Pending) error {
	if p.Files == nil {
		if err := os.RemoveAll(p.Dir); err != nil {
			return fmt.Errorf("removing %s: %w", p.Dir, err)
		}
		return nil
	}
	for _, f := range p.Files {
		if err := os.RemoveAll(f); err != nil {
			return fmt.Errorf("removing %s: %w", f, err)
		}
	}
	return nil
}

// removeStagingDirs removes the home's staging directories once Recover
// emptied them.
func removeStagingDirs(l home.Layout) error {
	dirs, err := filepath.Glob(filepath.Join(l.CertsDir(), home.StagingPrefix+"*"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil {
			return fmt.Errorf("removing %s: %w", d, err)
		}
	}
	return nil
}

// settled reports whether the home's Settled marker is there: a regular
// file, not a link.
func settled(l home.Layout) bool {
	fi, err := os.Lstat(l.Settled())
	return err == nil && fi.Mode().IsRegular()
}

// markSettled puts the Settled marker back, after a run that ended without
// error (Recover does not: a command that only recovers, or is refused
// after recovering, leaves the home as it found it). The marker need not
// be durable: one lost in a crash only makes the next run search every
// endpoint directory. Failing to make it has the same effect and is not
// an error.
func markSettled(l home.Layout) {
	_ = fsutil.Touch(l.Settled(), 0o600)
}

// unsettle removes the Settled marker, durably, before a run stages
// anything: if the run dies, the next one searches for what it left. It
// reports whether the marker was there.
func unsettle(l home.Layout) (bool, error) {
	err := os.Remove(l.Settled())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // nothing says the home is settled
	case err != nil:
		return false, fmt.Errorf("removing %s: %w", l.Settled(), err)
	}
	return true, fsutil.SyncDir(l.CertsDir())
}

// checkPending checks a pending directory of the active record rec before
// its files are put in place: the directories down to it and the
// endpoint's are safe (no links, no one else can write them), and its
// files pass homefiles.CheckPending. It returns the files to place: the
// whole directory, for a new endpoint whose directory does not exist yet,
// or each file present (an interrupted placing may have moved some).
func (is *Issuer) checkPending(p Pending, rec store.Record, as homefiles.Authorities) (stagedFiles, error) {
	if err := is.Layout.SafeDir(p.Dir, false); err != nil {
		return stagedFiles{}, err
	}
	dst := is.Layout.CertDir(rec.Role, rec.Name)
	if err := is.Layout.CheckDirs(dst); err != nil {
		return stagedFiles{}, err
	}
	if p.Files != nil {
		return checkStaged(p, rec, as, dst)
	}
	_, err := os.Lstat(dst)
	whole := p.Name == "" && errors.Is(err, fs.ErrNotExist)
	if err := homefiles.CheckPending(p.Dir, rec, as, whole); err != nil {
		return stagedFiles{}, err
	}
	st := stagedFiles{pending: p.Dir}
	if whole {
		st.whole = dst
	}
	ents, err := os.ReadDir(p.Dir)
	if err != nil {
		return stagedFiles{}, err
	}
	for _, e := range ents {
		st.files = append(st.files, stagedFile{tmp: filepath.Join(p.Dir, e.Name()), dst: filepath.Join(dst, e.Name())})
	}
	slices.SortStableFunc(st.files, func(a, b stagedFile) int {
		return placeOrder[filepath.Base(a.tmp)] - placeOrder[filepath.Base(b.tmp)]
	})
	return st, nil
}

// checkStaged checks the staged files of the active record rec (see
// checkPending) and returns them to be placed in dst.
func checkStaged(p Pending, rec store.Record, as homefiles.Authorities, dst string) (stagedFiles, error) {
	files := make(map[string]string, len(p.Files))
	for _, f := range p.Files {
		files[strings.TrimPrefix(filepath.Base(f), p.Serial+".")] = f
	}
	if err := homefiles.CheckPendingFiles(files, rec, as, false); err != nil {
		return stagedFiles{}, err
	}
	var st stagedFiles
	for name, f := range files {
		st.files = append(st.files, stagedFile{tmp: f, dst: filepath.Join(dst, name)})
	}
	slices.SortStableFunc(st.files, func(a, b stagedFile) int {
		return cmp.Or(placeOrder[filepath.Base(a.dst)]-placeOrder[filepath.Base(b.dst)], strings.Compare(a.dst, b.dst))
	})
	return st, nil
}

// isRegular reports whether path is a regular file, not following a link.
func isRegular(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}

func (is *Issuer) logf(format string, args ...any) {
	if is.Logf != nil {
		is.Logf(format, args...)
	}
}
