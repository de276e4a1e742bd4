package lifecycle

import (
	"fmt"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Manager runs the lifecycle operations on one home. Its zero value is not
// usable; Layout and Store are required, and CA for everything that signs
// (renewal, CRLs, rotation). A Manager is not safe for concurrent use; the
// inventory's file lock keeps other processes out while it runs.
type Manager struct {
	Layout home.Layout
	Store  *store.Store
	// CA is the signing CA, loaded with its keys from Layout.CADir().
	// Operations that change which CA signs reload it.
	CA *ca.Authority
	// Password decrypts the CA keys; rotation also encrypts the new CA's
	// keys with it. Empty for an insecure CA.
	Password []byte
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Actor is recorded in audit events.
	Actor string
	// Logf, if set, receives one line about something the Manager did on
	// its own, such as discarding a pending directory that failed its
	// checks. Nil discards.
	Logf func(format string, args ...any)
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// reloadCA reloads the signing CA from the home after a change of
// directories or overlap.
func (m *Manager) reloadCA() error {
	a, err := ca.Load(m.Layout.CADir(), m.Password)
	if err != nil {
		return err
	}
	m.CA = a
	return nil
}

// active returns every record with status Active.
func (m *Manager) active() ([]store.Record, error) {
	var out []store.Record
	err := m.Store.List(store.Filter{Status: store.Active}, func(r store.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// issuedBy reports whether rec was signed by a's root or intermediate.
func issuedBy(rec store.Record, a *ca.Authority) bool {
	if a == nil {
		return false
	}
	if rec.Issuer == ca.Fingerprint(a.Root) {
		return true
	}
	return a.Intermediate != nil && rec.Issuer == ca.Fingerprint(a.Intermediate)
}

// needCA refuses to sign without a signing CA (an interrupted rotation can
// leave the home without one until its phase is re-run).
func (m *Manager) needCA() error {
	if m.CA == nil {
		return fmt.Errorf("the signing CA is not loaded: %w (re-run the last daskca ca rotate phase)", ErrCAMissing)
	}
	return nil
}
