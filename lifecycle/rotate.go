package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/store"
)

// RotationKey is the inventory meta key holding the Rotation state. Every
// rotation phase changes it in its transaction, so a process that signs
// with the CA it loaded (daskca serve) watches it to notice that another
// CA signs now.
const RotationKey = "ca.rotation"

// Phase is the stage of a CA rotation.
type Phase string

// The phases. Between rotations the phase is PhaseNone and Last says how
// the latest one ended.
const (
	PhaseNone   Phase = "none"   // no rotation under way
	PhaseBegun  Phase = "begun"  // new CA made; bundles hold both roots; the old CA signs
	PhaseIssued Phase = "issued" // the new CA signs; leaves re-issued; bundles hold both roots
)

// End is how a rotation ended.
type End string

// The ends of a rotation.
const (
	Finished End = "finished" // Finish: the new CA alone
	Aborted  End = "aborted"  // Abort: back to the old CA alone
)

// Rotation is the recorded state of the latest CA rotation.
type Rotation struct {
	Phase Phase `json:"phase"`
	// Last is how the latest rotation ended when Phase is PhaseNone;
	// empty before the first one.
	Last End `json:"last,omitempty"`
	// Old and New are the SHA-256 fingerprints of the old and new roots.
	Old     string    `json:"old,omitempty"`
	New     string    `json:"new,omitempty"`
	Began   time.Time `json:"began,omitzero"`
	Changed time.Time `json:"changed,omitzero"`
}

// State returns the recorded rotation state; PhaseNone if there never was one.
func (m *Manager) State() (Rotation, error) {
	b, err := m.Store.Meta(RotationKey)
	if errors.Is(err, store.ErrNotFound) {
		return Rotation{Phase: PhaseNone}, nil
	}
	if err != nil {
		return Rotation{}, err
	}
	var r Rotation
	if err := json.Unmarshal(b, &r); err != nil {
		return Rotation{}, fmt.Errorf("CA rotation state: %w", err)
	}
	switch r.Phase {
	case PhaseNone, PhaseBegun, PhaseIssued:
		return r, nil
	}
	return Rotation{}, fmt.Errorf("CA rotation state: unknown phase %q", r.Phase)
}

func (r Rotation) encode() map[string][]byte {
	b, _ := json.Marshal(r)
	return map[string][]byte{RotationKey: b}
}

// placement is where each CA of a rotation state belongs.
type placement struct {
	signing string            // fingerprint of the CA in CADir
	peer    string            // fingerprint of the other CA in the bundle, or ""
	peerDir string            // where the peer lives
	retired []string          // fingerprints of CAs to move to CARetiredDir
	dirs    map[string]string // fingerprint -> wanted directory
}

// placementOf derives the placement from a state; nil when there is
// nothing to place (no rotation ever ran).
func (m *Manager) placementOf(r Rotation) *placement {
	signing, peer, ok := r.signing()
	if !ok {
		return nil
	}
	p := placement{signing: signing, peer: peer}
	switch {
	case r.Phase == PhaseBegun:
		p.peerDir = m.Layout.CANextDir()
	case r.Phase == PhaseIssued:
		p.peerDir = m.Layout.CAPreviousDir()
	case r.Last == Finished:
		p.retired = []string{r.Old}
	case r.Last == Aborted:
		p.retired = []string{r.New}
	}
	p.dirs = map[string]string{p.signing: m.Layout.CADir()}
	if p.peer != "" {
		p.dirs[p.peer] = p.peerDir
	}
	for _, fp := range p.retired {
		p.dirs[fp] = m.Layout.CARetiredDir(fp)
	}
	return &p
}

// CheckSigning reports whether a, loaded from a home's CA directory, is
// the CA that the rotation state raw (the value under RotationKey; nil
// when there is none) puts there, trusting beside its own root exactly
// the other root of a rotation under way. A process that loads the CA and
// reads the state apart (daskca serve) calls it: a rotation step
// interrupted after it recorded its phase leaves the directories of the
// phase before, which the state alone would not show. ErrCAMisplaced when
// they do not match.
func CheckSigning(raw []byte, a *ca.Authority) error {
	if raw == nil {
		return nil
	}
	var r Rotation
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("CA rotation state: %w", err)
	}
	signing, peer, ok := r.signing()
	if !ok {
		return nil
	}
	got := ca.Fingerprint(a.Root)
	var overlap, want []string
	for _, o := range a.Overlap {
		overlap = append(overlap, ca.Fingerprint(o))
	}
	if peer != "" {
		want = []string{peer}
	}
	if got != signing || !slices.Equal(overlap, want) {
		return fmt.Errorf("%w: phase %s puts root %.16s in the CA directory with %s beside it; it holds %.16s with %s (re-run the last daskca ca rotate step to repair it)",
			ErrCAMisplaced, phaseName(r), signing, rootsNamed(want), got, rootsNamed(overlap))
	}
	return nil
}

func phaseName(r Rotation) string {
	if r.Phase == PhaseNone && r.Last != "" {
		return string(r.Last)
	}
	return string(r.Phase)
}

func rootsNamed(fps []string) string {
	if len(fps) == 0 {
		return "no other root"
	}
	s := make([]string, len(fps))
	for i, fp := range fps {
		s[i] = fmt.Sprintf("%.16s", fp)
	}
	return "root " + strings.Join(s, ", ")
}

// signing returns the root fingerprints of the CA that signs in state r
// and of the other CA its bundle holds ("" when none); ok is false when
// no rotation ever ran.
func (r Rotation) signing() (signing, peer string, ok bool) {
	switch {
	case r.Phase == PhaseBegun:
		return r.Old, r.New, true
	case r.Phase == PhaseIssued:
		return r.New, r.Old, true
	case r.Last == Finished:
		return r.New, "", true
	case r.Last == Aborted:
		return r.Old, "", true
	}
	return "", "", false
}

// candidates are the directories a CA generation may be found in.
func (m *Manager) candidates(fp string) []string {
	return []string{m.Layout.CADir(), m.Layout.CANextDir(), m.Layout.CAPreviousDir(), m.Layout.CARetiredDir(fp)}
}

// locate returns the directory holding the CA whose root has fingerprint
// fp, or "" if none does.
func (m *Manager) locate(fp string) string {
	for _, d := range m.candidates(fp) {
		if a, err := ca.LoadPublic(d); err == nil && ca.Fingerprint(a.Root) == fp {
			return d
		}
	}
	return ""
}

// settle moves the CA directories to where state r wants them and writes
// the overlap files, repairing whatever an interrupted move left. It is
// idempotent.
func (m *Manager) settle(r Rotation) error {
	p := m.placementOf(r)
	if p == nil {
		return nil
	}
	order := append([]string{p.peer}, p.retired...)
	order = append(order, p.signing) // the signing CA moves last: its place is freed first
	for range 3 {
		moved := false
		for _, fp := range order {
			if fp == "" {
				continue
			}
			src, dst := m.locate(fp), p.dirs[fp]
			if src == "" {
				return fmt.Errorf("CA %.16s: %w (restore it from a backup of %s)", fp, ErrCAMissing, m.Layout.Dir)
			}
			if src == dst || exists(dst) {
				continue
			}
			if err := moveDir(src, dst); err != nil {
				return err
			}
			moved = true
		}
		if !moved {
			break
		}
	}
	for fp, dst := range p.dirs {
		if m.locate(fp) != dst {
			return fmt.Errorf("CA %.16s should be in %s and could not be moved there (is the directory in the way?)", fp, dst)
		}
	}
	return m.writeOverlaps(p)
}

// writeOverlaps makes the signing CA and its peer name each other's root
// as overlap, or clears the signing CA's overlap when there is no peer.
func (m *Manager) writeOverlaps(p *placement) error {
	sign, err := ca.LoadPublic(m.Layout.CADir())
	if err != nil {
		return err
	}
	if p.peer == "" {
		return ca.WriteOverlap(m.Layout.CADir())
	}
	peer, err := ca.LoadPublic(p.peerDir)
	if err != nil {
		return err
	}
	if err := ca.WriteOverlap(m.Layout.CADir(), peer.Root); err != nil {
		return err
	}
	return ca.WriteOverlap(p.peerDir, sign.Root)
}

// peerCA loads, with its keys, the CA that shares the bundle with the
// signing CA during a rotation; nil when none does.
func (m *Manager) peerCA() (*ca.Authority, error) {
	st, err := m.State()
	if err != nil {
		return nil, err
	}
	p := m.placementOf(st)
	if p == nil || p.peer == "" {
		return nil, nil
	}
	return m.load(p.peerDir)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// moveDir renames src to dst (creating dst's parent 0700) and syncs both
// parents so the move survives a crash.
func moveDir(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("moving CA %s to %s: %w", src, dst, err)
	}
	if err := syncDir(filepath.Dir(src)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}
