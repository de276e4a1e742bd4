package issue

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// DefaultBatch is how many certificates IssueBulk records per inventory
// transaction when BulkOptions.BatchSize is zero: large enough that the two
// file-system syncs and the transaction commit of a batch cost little per
// certificate, small enough that an interrupted run loses seconds of work.
const DefaultBatch = 1000

// BulkOptions tune IssueBulk. The zero value uses every core and batches of
// DefaultBatch.
type BulkOptions struct {
	Workers   int // goroutines generating keys and signing; zero: runtime.GOMAXPROCS(0)
	BatchSize int // certificates per inventory transaction; zero: DefaultBatch
	// OnIssued, if set, is called once per issued certificate, in plan
	// order, from one goroutine, after its batch is durably recorded and
	// its files are durably in place. It must not call back into the Store
	// for writing.
	OnIssued func(store.Record)
	// LoadCA, if set, loads the CA that signs the run. Decrypting a CA key
	// takes a while (PBKDF2) on one core, so IssueBulk calls LoadCA while
	// it generates the keys of the first certificates on another; until it
	// returns, the Issuer's CA serves only its public parts (the trust
	// bundle, the issuing certificate), which must be the loaded CA's.
	LoadCA func() (*ca.Authority, error)
	// Kind and Detail are the audit event of every certificate the run
	// records: zero, store.EventIssue and "replaces SERIAL" for one that
	// replaces another. Renewals pass store.EventRenew, the re-issue of a
	// CA rotation store.EventRotate.
	Kind   store.EventKind
	Detail string
	// BeforeCommit, if set, is called once, after LoadCA succeeded and
	// before the first batch is recorded; an error stops the run with
	// nothing recorded. A renewal writes its journal there, so that a run
	// that cannot sign (a wrong password) leaves no journal behind.
	BeforeCommit func() error
	// Recovered says the caller ran Recover just before, holding the same
	// write lock (lifecycle does, to report what it completed), so
	// IssueBulk does not scan the home for pending directories again.
	Recovered bool
}

// maxKeysAhead bounds the keys generated while LoadCA runs (it may wait
// for a password typed at a terminal).
const maxKeysAhead = 8192

// BulkResult counts what IssueBulk did.
type BulkResult struct {
	Issued  int // certificates signed, recorded and written
	Skipped int // requests planned as skip
}

// IssueBulk carries out a plan made by Plan or PlanReissue: it refuses a
// plan that refuses anything (ErrRefused) and otherwise signs every
// ActionIssue item. It is the one way this package writes certificates:
// Issue runs a plan of one.
//
// It first finishes what an interrupted run left in the home (Recover), so
// a crash at any moment of any run, of this process or another, is
// repaired by the next run, whoever calls it.
//
// Keys are generated and certificates signed by Workers goroutines, which
// also write each certificate's files: a new endpoint's into its pending
// directory, a replacement's into the run's staging directory
// (home.Layout.StagingDir); on Linux the endpoints' copies of the trust
// bundle are hard links of one file (see sharedFile), and modes are set
// explicitly only where the umask would narrow them. Batches of
// BatchSize certificates, in plan order, are then committed one at a time
// while the workers go on with later ones: one file-system sync makes the
// batch's temporary files durable, one inventory transaction records the
// batch (store.IssueBatch, all or nothing, superseding replaced
// certificates), and the files are renamed into place; the next batch's
// sync, or one more after the last batch, makes the renames durable, and
// OnIssued hears of a certificate only then. A batch that fails at any
// step before its transaction leaves neither records nor files (its
// temporary files and the directories made for them are removed), and no
// later batch is committed; batches committed before it stay, so
// re-planning and re-running the same requests finishes the job.
// Cancelling ctx stops the run the same way.
func (is *Issuer) IssueBulk(ctx context.Context, p Plan, o BulkOptions) (BulkResult, error) {
	res := BulkResult{Skipped: p.Count(ActionSkip)}
	if n := p.Count(ActionRefuse); n > 0 {
		return res, fmt.Errorf("%w: %d of %d", ErrRefused, n, len(p.Items))
	}
	r := is.newRun(p, o)
	if len(r.jobs) == 0 {
		return res, nil
	}
	if !o.Recovered {
		if _, err := is.Recover(); err != nil {
			return res, fmt.Errorf("finishing an interrupted run: %w", err)
		}
	}
	if err := r.listEndpoints(); err != nil {
		return res, err
	}
	if o.LoadCA != nil {
		if err := r.loadCA(); err != nil {
			return res, err
		}
	}
	if o.BeforeCommit != nil {
		if err := o.BeforeCommit(); err != nil {
			return res, err
		}
	}
	wasSettled, err := unsettle(r.is.Layout)
	if err != nil {
		return res, err
	}
	err = r.makeRoleDirs()
	if err == nil {
		err = r.makeStaging()
	}
	if err != nil {
		r.removeMadeDirs()
		if wasSettled {
			markSettled(r.is.Layout) // nothing was staged
		}
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() {
			// Each worker links its own copy of the bundle: links to one
			// file would wait for each other on its inode.
			sg := r.stager
			sg.bundle = newSharedFile(r.is.Layout.Dir, r.facts.bundle, 0o644)
			defer sg.bundle.close()
			for i, ok := r.take(ctx); ok; i, ok = r.take(ctx) {
				r.prepare(ctx, sg, i)
			}
		})
	}
	if r.staging != "" {
		r.released = newReleaser(2)
	}
	err = r.commitAll(ctx)
	cancel()
	wg.Wait()
	r.released.wait()
	cleaned := r.cleanup()
	if r.staging != "" && os.Remove(r.staging) != nil {
		cleaned = false // files left for Recover
	}
	if err == nil || (wasSettled && cleaned && r.committed == 0) {
		// Everything is in place, or nothing was recorded and every
		// staged file is gone again. A run that failed otherwise leaves
		// the next one to search for what it may have left.
		markSettled(r.is.Layout)
	}
	res.Issued = r.committed
	return res, err
}

// bulkRun is the state of one IssueBulk call.
type bulkRun struct {
	is        *Issuer
	o         BulkOptions
	workers   int
	size      int // jobs per batch
	jobs      []bulkJob
	batches   []batch
	window    chan struct{} // admits jobs ahead of the committer, bounding memory
	next      atomic.Int64  // the next job to take
	stager    stager
	facts     caFacts
	kept      *keptBundles                // replaced endpoints' bundles that stay
	existing  map[string]map[string]entry // role -> name -> what certs/<role>/<name> was at the start
	madeDirs  []string                    // role directories made for the run, parents first
	staging   string                      // the run's staging directory, if it replaces certificates
	committed int                         // jobs whose batch committed (committer only)
	released  *releaser                   // frees the files replacements replace
	// unsynced are the certificates of the last committed batch, placed,
	// whose renames wait for the next sync (committer only).
	unsynced []store.Record
}

// bulkJob is one certificate to issue; a worker fills s, staged and err.
type bulkJob struct {
	c       checked
	key     crypto.Signer // generated ahead, or nil
	old     *store.Record // the record replaced, or nil
	replace string        // its serial
	s       signed
	staged  stagedFiles
	err     error
}

type batch struct {
	lo, hi int           // jobs[lo:hi]
	left   atomic.Int64  // jobs not yet prepared
	done   chan struct{} // closed when left reaches zero
}

func (is *Issuer) newRun(p Plan, o BulkOptions) *bulkRun {
	r := &bulkRun{is: is, o: o, workers: o.Workers, facts: is.caFacts()}
	r.kept = &keptBundles{data: r.facts.bundle}
	r.stager = stager{umask: processUmask()}
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	size := o.BatchSize
	if size <= 0 {
		size = DefaultBatch
	}
	r.size = size
	for _, it := range p.Items {
		if it.Action == ActionIssue {
			j := bulkJob{c: it.c, old: it.Current}
			if it.Current != nil {
				j.replace = it.Current.Serial
			}
			r.jobs = append(r.jobs, j)
		}
	}
	r.batches = make([]batch, (len(r.jobs)+size-1)/size)
	for b := range r.batches {
		bt := &r.batches[b]
		bt.lo, bt.hi, bt.done = b*size, min((b+1)*size, len(r.jobs)), make(chan struct{})
		bt.left.Store(int64(bt.hi - bt.lo))
	}
	r.window = make(chan struct{}, 2*size)
	return r
}

// listEndpoints checks, once per role, the directories down to the role's
// (a worker then checks only an endpoint's own directory), and reads which
// endpoint directories exist, so that a new endpoint's worker needs no
// lookup to choose where to stage.
func (r *bulkRun) listEndpoints() error {
	r.existing = map[string]map[string]entry{}
	checked := map[string]bool{}
	for i := range r.jobs {
		role := string(r.jobs[i].c.Role)
		if !checked[role] {
			// Every directory down to the role's that exists must be safe;
			// a missing one is made below.
			if err := r.is.Layout.CheckDirs(r.is.Layout.RoleDir(role)); err != nil {
				return err
			}
			checked[role] = true
		}
		if _, ok := r.existing[role]; ok || r.jobs[i].replace != "" {
			continue
		}
		m, err := entries(r.is.Layout.RoleDir(role))
		if err != nil {
			return fmt.Errorf("listing the %s endpoints: %w", role, err)
		}
		r.existing[role] = m // nil: no directory yet
	}
	return nil
}

// makeRoleDirs makes the missing directories of the roles that get new
// endpoints, once, rather than for every endpoint.
func (r *bulkRun) makeRoleDirs() error {
	for role, m := range r.existing {
		if m != nil {
			continue
		}
		made, err := mkdirs(r.is.Layout.RoleDir(role))
		r.madeDirs = append(r.madeDirs, made...)
		if err != nil {
			r.removeMadeDirs()
			return fmt.Errorf("creating the %s endpoints' directory: %w", role, err)
		}
	}
	return nil
}

// makeStaging makes the run's staging directory (home.Layout.StagingDir)
// if it replaces certificates of existing endpoints.
func (r *bulkRun) makeStaging() error {
	if !slices.ContainsFunc(r.jobs, func(j bulkJob) bool { return j.replace != "" }) {
		return nil
	}
	dir, err := makeStagingDir(r.is.Layout)
	r.staging = dir
	return err
}

// makeStagingDir makes a staging directory of a new random name, in a
// block group of its own where the file system allows (spreadSubdirs).
func makeStagingDir(l home.Layout) (string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	dir := l.StagingDir(hex.EncodeToString(b[:]))
	spreadSubdirs(filepath.Dir(dir))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the staging directory: %w", err)
	}
	return dir, nil
}

// removeMadeDirs removes the directories makeRoleDirs made that are empty.
func (r *bulkRun) removeMadeDirs() {
	for i := len(r.madeDirs) - 1; i >= 0; i-- {
		_ = os.Remove(r.madeDirs[i])
	}
}

// loadCA calls LoadCA while one goroutine generates the keys of the first
// jobs, then makes the loaded CA the run's signer.
func (r *bulkRun) loadCA() error {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := range min(len(r.jobs), maxKeysAhead) {
			select {
			case <-stop:
				return
			default:
			}
			if r.jobs[i].c.reuseKey {
				continue
			}
			k, err := ca.GenerateKey(r.jobs[i].c.KeyType)
			if err != nil {
				return // the job's worker tries again and reports it
			}
			r.jobs[i].key = k
		}
	}()
	a, err := r.o.LoadCA()
	close(stop)
	<-done
	if err != nil {
		return err
	}
	if ca.Fingerprint(a.Issuer()) != r.facts.issuerFP {
		return errors.New("the issuing CA certificate changed since the plan was made; run the command again")
	}
	is := *r.is
	is.CA = a
	r.is = &is
	return nil
}

// take claims the next job for a worker, in order, never more than the
// window ahead of the committer. It reports false when there is none left
// or ctx is done.
func (r *bulkRun) take(ctx context.Context) (int, bool) {
	select {
	case r.window <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	i := int(r.next.Add(1) - 1)
	if i >= len(r.jobs) {
		<-r.window
		return 0, false
	}
	return i, true
}

// prepare signs job i and stages its files with sg, then counts it done.
func (r *bulkRun) prepare(ctx context.Context, sg stager, i int) {
	j := &r.jobs[i]
	if j.err = ctx.Err(); j.err == nil && j.c.reuseKey {
		j.key, j.err = r.is.reusedKey(j.old)
	}
	if j.err == nil {
		// A replaced endpoint's combined file (config --combined) is kept
		// in step with its certificate and key.
		combined := j.old != nil && isRegular(r.is.Layout.Endpoint(string(j.c.Role), j.c.Name).Combined)
		j.s, j.err = r.is.signWith(j.c, r.facts, j.key, combined)
		j.key = nil
	}
	if j.err == nil {
		rec, l := &j.s.rec, r.is.Layout
		if j.replace == "" {
			// A new endpoint: its directory is made by one rename.
			j.staged, j.err = sg.stageNew(l.NewEndpointPendingDir(rec.Role, rec.Serial), l.CertDir(rec.Role, rec.Name),
				l.PendingDir(rec.Role, rec.Name, rec.Serial), r.existing[rec.Role][rec.Name], j.s.files)
		} else if j.err = home.CheckLeafDir(l.CertDir(rec.Role, rec.Name)); j.err == nil {
			files := j.s.files
			if bundle := l.Endpoint(rec.Role, rec.Name).CA; r.kept.holds(bundle) {
				files = slices.DeleteFunc(slices.Clone(files), func(f file) bool { return f.path == bundle })
			}
			j.staged, j.err = sg.stageFiles(r.staging, rec.Serial, files)
		}
	}
	bt := &r.batches[i/r.size]
	if bt.left.Add(-1) == 0 {
		close(bt.done)
	}
}

// commitAll commits the batches in order as their jobs complete, and
// returns once the renames of those committed are durable.
func (r *bulkRun) commitAll(ctx context.Context) (err error) {
	defer func() {
		if len(r.unsynced) > 0 {
			if serr := syncRenames(r.is.Layout.Dir, nil); err == nil {
				err = serr
			}
			r.synced()
		}
	}()
	for b := range r.batches {
		bt := &r.batches[b]
		select {
		case <-bt.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := r.commit(bt); err != nil {
			if len(r.jobs) == 1 {
				return err
			}
			return fmt.Errorf("issuing batch %d of %d (certificates %d-%d): %w", b+1, len(r.batches), bt.lo+1, bt.hi, err)
		}
	}
	return nil
}

// commit makes one prepared batch durable and visible.
func (r *bulkRun) commit(bt *batch) error {
	jobs := r.jobs[bt.lo:bt.hi]
	items := make([]store.Replacement, len(jobs))
	for i := range jobs {
		if err := jobs[i].err; err != nil {
			return err
		}
		jobs[i].s.rec.Supersedes = jobs[i].replace
		items[i] = store.Replacement{Record: jobs[i].s.rec, Replaces: jobs[i].replace, Kind: r.o.Kind, Detail: r.o.Detail}
	}
	if err := syncFiles(r.is.Layout.Dir, stagedOf(jobs)); err != nil {
		return err
	}
	r.synced()
	if err := r.is.Store.Apply(store.Batch{Issue: items}, r.is.Actor); err != nil {
		if len(jobs) == 1 {
			return fmt.Errorf("recording %s/%s: %w", jobs[0].s.rec.Role, jobs[0].s.rec.Name, err)
		}
		return err
	}
	r.committed += len(jobs)
	renameErr := placeAll(stagedOf(jobs), r.released)
	for i := range jobs {
		r.unsynced = append(r.unsynced, jobs[i].s.rec)
	}
	if !syncCoversHome {
		if err := syncRenames(r.is.Layout.Dir, stagedOf(jobs)); err != nil && renameErr == nil {
			renameErr = err
		}
		r.synced()
	}
	// Otherwise the next batch's first sync, or commitAll's last, makes
	// the renames durable: a crash before it leaves this batch's files
	// staged under active serials, which Recover places.
	for i := range jobs {
		jobs[i] = bulkJob{} // release the keys and certificates
		<-r.window
	}
	return renameErr
}

// synced reports, to OnIssued, the certificates whose renames a sync has
// just made durable.
func (r *bulkRun) synced() {
	if r.o.OnIssued != nil {
		for _, rec := range r.unsynced {
			r.o.OnIssued(rec)
		}
	}
	r.unsynced = r.unsynced[:0]
}

// cleanup removes what jobs of uncommitted batches left on disk. It runs
// after every worker has stopped, and reports whether every pending
// directory of those jobs is gone.
func (r *bulkRun) cleanup() bool {
	gone := removeStaged(stagedOf(r.jobs))
	if r.committed == 0 {
		r.removeMadeDirs()
	}
	return gone
}

func stagedOf(jobs []bulkJob) []*stagedFiles {
	out := make([]*stagedFiles, len(jobs))
	for i := range jobs {
		out[i] = &jobs[i].staged
	}
	return out
}
