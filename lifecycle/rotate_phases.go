package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// BeginOptions change the new CA of a rotation; zero values keep what the
// old CA has (name with the next generation number, key type, lifetime,
// intermediate, name constraints, trust domain).
type BeginOptions struct {
	Name     string
	KeyType  ca.KeyType
	Validity time.Duration
}

// Begin starts a rotation: it creates the new CA in ca-next/ (keys
// encrypted with m.Password), records the phase, and writes every bundle
// with the old and the new root, then fresh CRLs. If a rotation is already
// under way it only repairs directories and rewrites bundles and CRLs. A
// new CA left in ca-next/ by an interrupted Begin is reused.
func (m *Manager) Begin(opts BeginOptions) (Rotation, error) {
	st, err := m.prepareRotation()
	if err != nil {
		return st, err
	}
	if st.Phase == PhaseNone {
		next, err := m.nextCA(opts)
		if err != nil {
			return st, err
		}
		now := m.now().UTC()
		st = Rotation{Phase: PhaseBegun, Old: ca.Fingerprint(m.CA.Root), New: ca.Fingerprint(next.Root), Began: now, Changed: now}
		note := store.Note{Kind: store.EventCAChange, Detail: fmt.Sprintf("begin: new CA %q %.16s", next.Root.Subject.CommonName, st.New)}
		if err := m.Store.Apply(store.Batch{Meta: st.encode(), Notes: []store.Note{note}}, m.Actor); err != nil {
			return st, err
		}
	}
	return st, m.publish(st, nil)
}

// prepareRotation reads the state and repairs what an interrupted phase
// left: CA directories and pending files.
func (m *Manager) prepareRotation() (Rotation, error) {
	st, err := m.State()
	if err != nil {
		return st, err
	}
	if err := m.settle(st); err != nil {
		return st, err
	}
	if _, err := m.Recover(); err != nil {
		return st, err
	}
	return st, m.reloadPublicCA()
}

// publish moves directories to match st, reloads the signing CA and writes
// bundles and CRLs from it.
func (m *Manager) publish(st Rotation, fresh *freshBundles) error {
	if err := m.settle(st); err != nil {
		return err
	}
	if err := m.reloadCA(); err != nil {
		return err
	}
	if _, err := m.writeBundles(fresh); err != nil {
		return err
	}
	_, err := m.PublishCRL(0)
	return err
}

// nextCA loads the new CA an interrupted Begin left in ca-next/, or creates
// and saves one like the current CA.
func (m *Manager) nextCA(opts BeginOptions) (*ca.Authority, error) {
	dir := m.Layout.CANextDir()
	if exists(dir) {
		a, err := m.load(dir)
		if err != nil {
			return nil, fmt.Errorf("%s is left from an interrupted rotation and does not load (remove it to start again): %w", dir, err)
		}
		return a, nil
	}
	cur := m.CA
	o := ca.Options{
		Name: opts.Name, KeyType: opts.KeyType, Validity: opts.Validity, Intermediate: cur.Intermediate != nil,
		PermitDNS: cur.Root.PermittedDNSDomains, PermitIP: cur.Root.PermittedIPRanges, TrustDomain: cur.TrustDomain, Now: m.Now,
	}
	if o.Name == "" {
		o.Name = nextName(cur.Root.Subject.CommonName)
	}
	if o.KeyType == "" {
		o.KeyType = ca.KeyTypeOf(cur.Root.PublicKey)
	}
	if o.Validity == 0 {
		o.Validity = cur.Root.NotAfter.Sub(cur.Root.NotBefore) - ca.Backdate
	}
	a, err := ca.New(o)
	if err != nil {
		return nil, fmt.Errorf("creating the new CA: %w", err)
	}
	a.Insecure = cur.Insecure
	// Saved beside ca-next and renamed to it whole: a begin killed while
	// it saved leaves only the partial directory, which the next begin
	// removes, never a ca-next that does not load.
	partial := dir + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return nil, err
	}
	if err := a.Save(partial, m.Password); err != nil {
		_ = os.RemoveAll(partial)
		return nil, err
	}
	if err := os.Rename(partial, dir); err != nil {
		_ = os.RemoveAll(partial)
		return nil, fmt.Errorf("saving the new CA: %w", err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	return a, nil
}

var generationSuffix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(` G([0-9]+)$`) })

// nextName names the next CA generation: "Acme CA" -> "Acme CA G2",
// "Acme CA G2" -> "Acme CA G3". Distinct subjects keep path building
// unambiguous while both roots are trusted.
func nextName(cn string) string {
	suffix := " G2"
	if m := generationSuffix().FindStringSubmatch(cn); m != nil {
		n, _ := strconv.Atoi(m[1])
		cn, suffix = strings.TrimSuffix(cn, m[0]), " G"+strconv.Itoa(n+1)
	}
	// Keep within the common name's limit: shorten the old name, not the
	// generation.
	r := []rune(cn)
	if max := ca.MaxNameLen - len(suffix); len(r) > max {
		cn = strings.TrimRight(string(r[:max]), " ")
	}
	return cn + suffix
}

// Reissue makes the new CA the signing CA and re-issues under it every
// unexpired active certificate another CA signed, in one transaction with
// the phase change; then it moves the CA directories and puts the files in
// place. Re-running it re-issues whatever is still left on the old CA.
func (m *Manager) Reissue(ctx context.Context) (Rotation, []Renewal, error) {
	// The new CA signs; the old one signs its last CRL at the end.
	m.decryptAhead(m.Layout.CADir(), m.Layout.CANextDir(), m.Layout.CAPreviousDir())
	st, err := m.prepareRotation()
	if err != nil {
		return st, nil, err
	}
	if st.Phase == PhaseNone {
		return st, nil, fmt.Errorf("%w: run daskca ca rotate begin first", ErrNoRotation)
	}
	// A begin killed while it wrote the bundles leaves some endpoints
	// without the new root; they would refuse the peers re-issued under
	// it. Every bundle holds both roots before anything is signed (files
	// that do already are only looked at).
	if _, err := m.writeBundles(nil); err != nil {
		return st, nil, err
	}
	// The new CA's keys are decrypted while the first keys are generated.
	newDir := m.locate(st.New)
	newCA, err := ca.LoadPublic(newDir)
	if err != nil {
		return st, nil, err
	}
	next := st
	next.Phase, next.Changed = PhaseIssued, m.now().UTC()
	byNew := signedBy(newCA)
	out, n, err := m.reissueAll(ctx, newCA, func() (*ca.Authority, error) { return m.load(newDir) },
		func(r store.Record) bool { return !byNew(r) }, "re-issued under the new CA")
	if err != nil {
		return st, out, err
	}
	if st.Phase != PhaseIssued || n > 0 {
		note := store.Note{Kind: store.EventCAChange, Detail: fmt.Sprintf("issue: %d certificates re-issued under %.16s", n, st.New)}
		if err := m.Store.Apply(store.Batch{Meta: next.encode(), Notes: []store.Note{note}}, m.Actor); err != nil {
			return st, out, err
		}
	}
	return next, out, m.publish(next, m.freshBundles(newCA, out))
}

// reissueAll re-issues with a (with its keys, or loaded by load while the
// first keys are generated) every unexpired active record that pick
// selects, recording each with an EventRotate event of detail, through
// issue's bulk pipeline in batches: a crash leaves some re-issued and the
// others not, and re-running the phase re-issues those left. One record
// the plan refuses stops it before anything is signed. It returns the
// outcomes and how many were re-issued.
func (m *Manager) reissueAll(ctx context.Context, a *ca.Authority, load func() (*ca.Authority, error), pick func(store.Record) bool, detail string) ([]Renewal, int, error) {
	recs, err := m.active()
	if err != nil {
		return nil, 0, err
	}
	now := m.now()
	todo := make([]store.Record, 0, len(recs))
	for _, r := range recs {
		// An enrolled certificate's key is on its host: re-issuing it here
		// would put a key for that host in the home and supersede the
		// certificate its host renews with. The host moves to the new CA at
		// its own renewal.
		if now.After(r.NotAfter) || !pick(r) || r.Enrolled() {
			continue
		}
		todo = append(todo, r)
	}
	// prepareRotation ran Recover under this write lock
	b := issue.BulkOptions{Kind: store.EventRotate, Detail: detail, LoadCA: load, Recovered: true}
	out, err := m.replace(ctx, a, todo, issue.ReissueOptions{}, b, Reissued, true)
	n := 0
	for _, o := range out {
		if o.NewSerial != "" {
			n++
		}
	}
	return out, n, err
}

// Finish ends a rotation once no unexpired active certificate depends on
// the old CA: bundles then hold the new root alone and the old CA moves to
// ca-retired/. It refuses, naming the certificates, while some do.
// Re-running it after it finished only repairs and rewrites.
func (m *Manager) Finish() (Rotation, error) {
	st, err := m.prepareRotation()
	if err != nil {
		return st, err
	}
	if st.Phase == PhaseNone {
		if st.Last == Finished {
			return st, m.publish(st, nil)
		}
		return st, ErrNoRotation
	}
	old, err := ca.LoadPublic(m.locate(st.Old))
	if err != nil {
		return st, err
	}
	if left, err := m.dependents(old); err != nil || len(left) > 0 {
		if err != nil {
			return st, err
		}
		return st, fmt.Errorf("%w: %s (run daskca ca rotate issue)", ErrOldCAInUse, strings.Join(left, ", "))
	}
	next := Rotation{Phase: PhaseNone, Last: Finished, Old: st.Old, New: st.New, Began: st.Began, Changed: m.now().UTC()}
	note := store.Note{Kind: store.EventCAChange, Detail: fmt.Sprintf("finish: old CA %.16s retired", st.Old)}
	if err := m.Store.Apply(store.Batch{Meta: next.encode(), Notes: []store.Note{note}}, m.Actor); err != nil {
		return st, err
	}
	return next, m.publish(next, nil)
}

// dependents names the unexpired active certificates a signed.
func (m *Manager) dependents(a *ca.Authority) ([]string, error) {
	recs, err := m.active()
	if err != nil {
		return nil, err
	}
	now, by := m.now(), signedBy(a)
	var out []string
	for _, r := range recs {
		if by(r) && !now.After(r.NotAfter) {
			out = append(out, dependent(r))
		}
	}
	return out, nil
}

// dependent names a certificate that depends on a CA.
func dependent(r store.Record) string {
	return fmt.Sprintf("%s/%s (serial %s)", r.Role, r.Name, r.Serial)
}

// Abort returns to the old CA: certificates re-issued under the new CA are
// re-issued under the old one in batches (their bundles keep both roots),
// then the phase change is recorded, the new CA moves to ca-retired/ and
// every bundle is rewritten with the old root alone.
func (m *Manager) Abort(ctx context.Context) (Rotation, []Renewal, error) {
	st, err := m.prepareRotation()
	if err != nil {
		return st, nil, err
	}
	if st.Phase == PhaseNone {
		if st.Last == Aborted {
			return st, nil, m.publish(st, nil)
		}
		return st, nil, ErrNoRotation
	}
	oldCA, err := m.load(m.locate(st.Old))
	if err != nil {
		return st, nil, err
	}
	// The re-issued leaves keep the bundle of both roots until the phase
	// is recorded: a run is committed in batches, and until its last one
	// some endpoints still present certificates of the new CA. publish
	// then writes every bundle with the old root alone.
	newCA, err := ca.LoadPublic(m.locate(st.New))
	if err != nil {
		return st, nil, err
	}
	out, n, err := m.reissueAll(ctx, oldCA, nil, signedBy(newCA), "re-issued under the old CA (rotation aborted)")
	if err != nil {
		return st, out, err
	}
	next := Rotation{Phase: PhaseNone, Last: Aborted, Old: st.Old, New: st.New, Began: st.Began, Changed: m.now().UTC()}
	note := store.Note{Kind: store.EventCAChange, Detail: fmt.Sprintf("abort: %d certificates back under %.16s; new CA %.16s retired", n, st.Old, st.New)}
	if err := m.Store.Apply(store.Batch{Meta: next.encode(), Notes: []store.Note{note}}, m.Actor); err != nil {
		return st, out, err
	}
	return next, out, m.publish(next, nil)
}
