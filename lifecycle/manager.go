package lifecycle

import (
	"fmt"
	"slices"
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
	// CA is the signing CA, loaded with its keys from Layout.CADir(), or
	// with its public parts only (ca.LoadPublic): then its keys are
	// decrypted with Password when something is signed, for Renew while
	// the first leaf keys are generated. Operations that change which CA
	// signs reload it.
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

	keys  []*ca.Authority // CAs loaded with their keys, for load
	ahead []*keysAhead    // keys being decrypted in the background, for load
}

// keysAhead is a CA whose keys are being decrypted in the background.
type keysAhead struct {
	ca   *ca.Authority // its public parts
	done chan struct{} // closed when keys is set, or the decryption failed
	keys *ca.Authority // the CA with its keys; nil if they did not decrypt
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// reloadCA reloads the signing CA, with its keys, from the home after a
// change of directories or overlap.
func (m *Manager) reloadCA() error {
	a, err := m.load(m.Layout.CADir())
	if err != nil {
		return err
	}
	m.CA = a
	return nil
}

// reloadPublicCA is reloadCA for a phase that signs with another CA: the
// signing CA comes with its keys only if they were decrypted already;
// signer decrypts them when something is signed.
func (m *Manager) reloadPublicCA() error {
	a, err := ca.LoadPublic(m.Layout.CADir())
	if err != nil {
		return err
	}
	m.remember(m.CA)
	m.withKnownKeys(a)
	m.CA = a
	return nil
}

// signer returns the signing CA with its keys, decrypting them first if
// m.CA holds only its public parts (ca.LoadPublic).
func (m *Manager) signer() (*ca.Authority, error) {
	if err := m.needCA(); err != nil {
		return nil, err
	}
	if m.CA.CanSign() {
		return m.CA, nil
	}
	a, err := m.load(m.Layout.CADir())
	if err != nil {
		return nil, err
	}
	m.CA = a
	return a, nil
}

// keysLater returns nil if m.CA can sign, otherwise signer, for
// issue.BulkOptions.LoadCA: the key is decrypted while the first leaf keys
// are generated.
func (m *Manager) keysLater() func() (*ca.Authority, error) {
	if m.CA == nil || m.CA.CanSign() {
		return nil
	}
	return m.signer
}

// load reads the CA in dir with its keys. A CA's keys are decrypted once
// per Manager (the key derivation is slow on purpose, a quarter of a
// second each) and reused when a rotation phase moves the CA directories
// and reads a CA again: the certificates, overlap and metadata are read
// afresh every time.
func (m *Manager) load(dir string) (*ca.Authority, error) {
	a, err := ca.LoadPublic(dir)
	if err != nil {
		return nil, err
	}
	if m.withKnownKeys(a) {
		return a, nil
	}
	for i, k := range m.ahead {
		if sameCA(k.ca, a) {
			<-k.done
			m.ahead = append(m.ahead[:i:i], m.ahead[i+1:]...)
			m.remember(k.keys)
			if m.withKnownKeys(a) {
				return a, nil
			}
			break // decrypt again, for the error
		}
	}
	if a, err = ca.Load(dir, m.Password); err != nil {
		return nil, err
	}
	m.remember(a)
	return a, nil
}

// withKnownKeys gives a the keys of the same CA if they were decrypted
// already, and reports whether it did.
func (m *Manager) withKnownKeys(a *ca.Authority) bool {
	for _, k := range append([]*ca.Authority{m.CA}, m.keys...) {
		if hasKeys(k) && sameCA(k, a) {
			a.RootKey, a.IntermediateKey = k.RootKey, k.IntermediateKey
			return true
		}
	}
	return false
}

// remember keeps a's keys for load, if it has any.
func (m *Manager) remember(a *ca.Authority) {
	if hasKeys(a) && !slices.Contains(m.keys, a) {
		m.keys = append(m.keys, a)
	}
}

func hasKeys(a *ca.Authority) bool { return a != nil && (a.RootKey != nil || a.IntermediateKey != nil) }

// decryptAhead starts decrypting, in the background, the keys of the CAs
// in those of dirs that hold one, for load to take up when it needs them.
// The key derivation takes a quarter of a second of one core; a command
// that knows early which keys it will sign with spends that time on its
// other work (finding interrupted runs, planning) instead of waiting. Keys
// that do not decrypt leave load to try again and report why.
func (m *Manager) decryptAhead(dirs ...string) {
	for _, dir := range dirs {
		a, err := ca.LoadPublic(dir)
		if err != nil || m.withKnownKeys(a) {
			continue
		}
		k := &keysAhead{ca: a, done: make(chan struct{})}
		go func(pw []byte) {
			defer close(k.done)
			if full, err := ca.Load(dir, pw); err == nil && sameCA(full, a) {
				k.keys = full
			}
		}(m.Password)
		m.ahead = append(m.ahead, k)
	}
}

// sameCA reports whether a and b are the same root and intermediate.
func sameCA(a, b *ca.Authority) bool {
	if a == nil || b == nil || !a.Root.Equal(b.Root) || (a.Intermediate == nil) != (b.Intermediate == nil) {
		return false
	}
	return a.Intermediate == nil || a.Intermediate.Equal(b.Intermediate)
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

// signedBy returns a test of whether a record was signed by a's root or
// intermediate (none is, for a nil a). The fingerprints are computed once,
// not per record of a home of thousands.
func signedBy(a *ca.Authority) func(store.Record) bool {
	if a == nil {
		return func(store.Record) bool { return false }
	}
	root, inter := ca.Fingerprint(a.Root), ""
	if a.Intermediate != nil {
		inter = ca.Fingerprint(a.Intermediate)
	}
	return func(r store.Record) bool { return r.Issuer == root || (inter != "" && r.Issuer == inter) }
}

// needCA refuses to sign without a signing CA (an interrupted rotation can
// leave the home without one until its phase is re-run).
func (m *Manager) needCA() error {
	if m.CA == nil {
		return fmt.Errorf("the signing CA is not loaded: %w (re-run the last daskca ca rotate phase)", ErrCAMissing)
	}
	return nil
}
