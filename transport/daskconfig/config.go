package daskconfig

import (
	"fmt"
	"time"

	"github.com/daskca/daskca/identity"
)

// Config is the part of Dask's configuration that concerns comms and TLS,
// plus daskca's own keys. It is the one model both rendered by `daskca
// config` (YAML, Env) and loaded by the transport (LoadConfig), so what is
// emitted and what is run cannot drift apart.
//
// The zero value means "nothing set": plain tcp, no TLS material, the strict
// role policy, reload on. Field comments give the Dask key each field maps to.
type Config struct {
	// RequireEncryption is distributed.comm.require-encryption. nil is
	// Dask's null: as in Dask when configured from files, it then means
	// false.
	RequireEncryption *bool
	// DefaultScheme is distributed.comm.default-scheme: the scheme of bare
	// host:port addresses. Empty means tcp, as in Dask.
	DefaultScheme string
	// TLS is distributed.comm.tls.
	TLS TLSConfig
	// SchedulerAddress is the top-level scheduler-address key, which Dask
	// clients read when Client() is given no address.
	SchedulerAddress string
	// Preload is distributed.{scheduler,worker,nanny,client}.preload.
	Preload Preloads
	// Daskca is the top-level daskca key, which Dask ignores.
	Daskca Extra
}

// Preloads are the Python modules or files each kind of Dask process
// imports at start (distributed.PROCESS.preload), where daskca config wires
// in daskca's Dask plugin. The transport imports nothing: the lists are
// part of the model so that what is emitted and what daskca run checks are
// the same. A nil list is Dask's default (none). Dask also accepts a single
// string for a list of one, and loading reads it so.
type Preloads struct {
	Scheduler []string // distributed.scheduler.preload
	Worker    []string // distributed.worker.preload
	// Nanny is distributed.nanny.preload. `dask worker` does not read it
	// (its --preload-nanny flag always wins, empty or not): pass the
	// entries as --preload-nanny.
	Nanny  []string
	Client []string // distributed.client.preload
}

// TLSConfig is distributed.comm.tls. Paths may also hold PEM text, as in
// Dask: a value containing a newline is taken as the PEM itself.
type TLSConfig struct {
	CAFile  string // ca-file: the CA bundle peers must chain to (may hold several CAs)
	Ciphers string // ciphers: an OpenSSL cipher string for TLS 1.2; see ParseCiphers
	// MinVersion and MaxVersion are min-version and max-version: 1.2, 1.3,
	// or 0 for unset (Dask's null: minimum 1.2, no maximum).
	MinVersion float64
	MaxVersion float64
	Scheduler  RoleFiles // scheduler.cert, scheduler.key
	Worker     RoleFiles // worker.cert, worker.key
	Client     RoleFiles // client.cert, client.key
}

// RoleFiles are the certificate and key of one role. Key may be empty when
// the certificate file also holds the key. Cert may be followed by its
// intermediate CA certificates (leaf first).
type RoleFiles struct {
	Cert string
	Key  string
}

// Role policies for Extra.RolePolicy.
const (
	// PolicyStrict accepts a peer only if its certificate carries a daskca
	// identity in our trust domain with a role allowed on that connection.
	PolicyStrict = "strict"
	// PolicyDask accepts any certificate that chains to the CA, as Dask does.
	PolicyDask = "dask"
)

// DefaultReloadInterval is how often certificate files are polled for
// changes when Extra.ReloadInterval is zero: quick enough that a renewal is
// picked up well before the old certificate's last minutes, cheap enough
// (four stat calls) to be invisible.
const DefaultReloadInterval = 2 * time.Second

// Extra holds daskca's own keys, under the top-level `daskca:` key.
type Extra struct {
	// RolePolicy is daskca.role-policy: PolicyStrict (the default when
	// empty) or PolicyDask.
	RolePolicy string
	// VerifyHostname is daskca.verify-hostname: dialers also check that the
	// server certificate names the host dialed (Dask never does).
	VerifyHostname bool
	// CRLFile is daskca.crl-file: a PEM or DER CRL; peers whose certificate
	// serial it lists are refused.
	CRLFile string
	// Reload is daskca.reload: watch the files and reload them when they
	// change. nil means true.
	Reload *bool
	// ReloadInterval is daskca.reload-interval; zero means
	// DefaultReloadInterval.
	ReloadInterval time.Duration
}

// Policy returns the role policy in force: RolePolicy or PolicyStrict.
func (e Extra) Policy() string {
	if e.RolePolicy == "" {
		return PolicyStrict
	}
	return e.RolePolicy
}

// ReloadEnabled reports whether file watching is on (Reload nil or true).
func (e Extra) ReloadEnabled() bool { return e.Reload == nil || *e.Reload }

// Interval returns ReloadInterval or DefaultReloadInterval.
func (e Extra) Interval() time.Duration {
	if e.ReloadInterval <= 0 {
		return DefaultReloadInterval
	}
	return e.ReloadInterval
}

// Files returns the certificate and key configured for a role.
func (t TLSConfig) Files(r identity.Role) RoleFiles {
	switch r {
	case identity.Scheduler:
		return t.Scheduler
	case identity.Worker:
		return t.Worker
	case identity.Client:
		return t.Client
	}
	return RoleFiles{}
}

// SetFiles sets the certificate and key of a role.
func (t *TLSConfig) SetFiles(r identity.Role, f RoleFiles) {
	switch r {
	case identity.Scheduler:
		t.Scheduler = f
	case identity.Worker:
		t.Worker = f
	case identity.Client:
		t.Client = f
	}
}

// EncryptionRequired reports whether require-encryption is set to true.
func (c Config) EncryptionRequired() bool {
	return c.RequireEncryption != nil && *c.RequireEncryption
}

// Scheme returns the scheme of bare addresses: DefaultScheme or tcp.
func (c Config) Scheme() string {
	if c.DefaultScheme == "" {
		return SchemeTCP
	}
	return c.DefaultScheme
}

// ParseAddr parses an address with the configured default scheme.
func (c Config) ParseAddr(s string) (Addr, error) {
	return ParseAddr(s, c.Scheme())
}

// CheckScheme refuses an address that is not tls:// when encryption is
// required, with Dask's wording. Call it before listening and dialing.
func (c Config) CheckScheme(a Addr) error {
	if c.EncryptionRequired() && !a.Encrypted() {
		return fmt.Errorf("%w: refusing communication from/to %s "+
			"(use tls://, or set distributed.comm.require-encryption: false)", ErrEncryptionRequired, a)
	}
	return nil
}

// Validate checks the values that have a fixed set of choices: the TLS
// versions, their order, the role policy, the cipher string and the default
// scheme. Loading validates; call it on a Config built in code.
func (c Config) Validate() error {
	for _, v := range []struct {
		key string
		val float64
	}{{keyMinVersion, c.TLS.MinVersion}, {keyMaxVersion, c.TLS.MaxVersion}} {
		if v.val != 0 && v.val != 1.2 && v.val != 1.3 {
			return &ConfigError{Key: v.key, Msg: fmt.Sprintf("%v is not supported, want 1.2, 1.3 or null", v.val)}
		}
	}
	if c.TLS.MaxVersion != 0 && c.TLS.MinVersion > c.TLS.MaxVersion {
		return &ConfigError{Key: keyMaxVersion, Msg: fmt.Sprintf("%v is below min-version %v", c.TLS.MaxVersion, c.TLS.MinVersion)}
	}
	if p := c.Daskca.RolePolicy; p != "" && p != PolicyStrict && p != PolicyDask {
		return &ConfigError{Key: keyRolePolicy, Msg: fmt.Sprintf("%q is not a role policy, want %q or %q", p, PolicyStrict, PolicyDask)}
	}
	if c.Daskca.ReloadInterval < 0 {
		return &ConfigError{Key: keyReloadInterval, Msg: "must not be negative"}
	}
	if c.DefaultScheme != "" {
		if err := checkScheme(c.DefaultScheme); err != nil {
			return &ConfigError{Key: keyDefaultScheme, Msg: err.Error()}
		}
	}
	if c.TLS.Ciphers != "" {
		if _, _, err := ParseCiphers(c.TLS.Ciphers); err != nil {
			return &ConfigError{Key: KeyCiphers, Msg: err.Error()}
		}
	}
	return nil
}
