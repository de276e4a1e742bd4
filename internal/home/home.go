// Package home builds every path under a daskca home directory
// ($DASKCA_HOME, default ~/.daskca). No other package joins these paths itself.
//
//	$DASKCA_HOME/
//	  inventory.db                     the bbolt inventory (0600)
//	  ca/                              the CA (0700): root.crt, root.key, [intermediate.crt, intermediate.key], ca.json
//	  ca-next/                         during a CA rotation, before `ca rotate issue`: the new CA
//	  ca-previous/                     during a CA rotation, after `ca rotate issue`: the old CA
//	  ca-retired/<fingerprint>/        CAs taken out of use by `ca rotate finish` or `abort`
//	  ca-bundle.pem                    the trust bundle every endpoint loads as its CA file
//	  crl.pem                          the current CRLs (one per CA in the bundle), for daskca.crl-file
//	  crl-number                       the highest CRL number ever signed (outside the inventory, so
//	                                   restoring an older inventory cannot make CRL numbers go back)
//	  certs/<role>/<name>/cert.pem     the leaf followed by its chain (0644)
//	  certs/<role>/<name>/key.pem      the leaf's private key, PKCS#8 (0600)
//	  certs/<role>/<name>/ca.pem       a copy of the trust bundle, so one directory is all a host needs;
//	                                   the endpoints of one bulk run share it as hard links of one file
//	  certs/<role>/<name>/combined.pem certificate chain and key in one file, for --combined (0600)
//	  certs/<role>/<name>/.pending-<serial>/  files of a recorded certificate not yet renamed into place
//	  certs/<role>/.pending-<serial>/         the same for an endpoint without a directory yet
package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar names the environment variable that overrides the default home.
const EnvVar = "DASKCA_HOME"

// Layout is a daskca home directory. Its zero value is not usable; build it
// with New or Default.
type Layout struct {
	Dir string // absolute
}

// New returns the layout rooted at dir, made absolute.
func New(dir string) (Layout, error) {
	if dir == "" {
		return Layout{}, errors.New("empty home directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("resolving home %s: %w", dir, err)
	}
	return Layout{Dir: abs}, nil
}

// Default returns the home named by flag, else $DASKCA_HOME, else ~/.daskca.
func Default(flag string, getenv func(string) string) (Layout, error) {
	if flag != "" {
		return New(flag)
	}
	if v := getenv(EnvVar); v != "" {
		return New(v)
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return Layout{}, fmt.Errorf("finding the home directory: %w (set %s)", err, EnvVar)
	}
	return New(filepath.Join(h, ".daskca"))
}

// Inventory is the bbolt inventory file.
func (l Layout) Inventory() string { return filepath.Join(l.Dir, "inventory.db") }

// CADir holds the CA certificates, keys and metadata.
func (l Layout) CADir() string { return filepath.Join(l.Dir, "ca") }

// Bundle is the trust bundle (the CA certificates endpoints trust).
func (l Layout) Bundle() string { return filepath.Join(l.Dir, "ca-bundle.pem") }

// CANextDir holds the new CA during a rotation, until `ca rotate issue`
// makes it the signing CA in CADir.
func (l Layout) CANextDir() string { return filepath.Join(l.Dir, "ca-next") }

// CAPreviousDir holds the old CA during a rotation, after `ca rotate issue`
// moved it out of CADir, until `ca rotate finish` retires it.
func (l Layout) CAPreviousDir() string { return filepath.Join(l.Dir, "ca-previous") }

// CARetiredDir holds a CA taken out of use, named by the first 16 hex digits
// of its root's SHA-256 fingerprint.
func (l Layout) CARetiredDir(fingerprint string) string {
	if len(fingerprint) > 16 {
		fingerprint = fingerprint[:16]
	}
	return filepath.Join(l.Dir, "ca-retired", fingerprint)
}

// CRL is the file holding the current CRL of every CA in the bundle, PEM;
// endpoints point daskca.crl-file at it (or at a copy).
func (l Layout) CRL() string { return filepath.Join(l.Dir, "crl.pem") }

// CRLNumber holds the highest CRL number this home has signed, in decimal:
// a high-water mark kept beside the inventory's own counter.
func (l Layout) CRLNumber() string { return filepath.Join(l.Dir, "crl-number") }

// Plugin is the copy of daskca's Dask plugin that `daskca config` points
// the preload keys at when no --path-prefix is given; the name is
// daskplugin.FileName.
func (l Layout) Plugin() string { return filepath.Join(l.Dir, "daskca_plugin.py") }

// CertsDir is the directory holding every endpoint's directory.
func (l Layout) CertsDir() string { return filepath.Join(l.Dir, "certs") }

// Settled is a marker in CertsDir saying that no pending directory is
// left to finish: a run that stages files removes it, durably, before it
// writes the first, and puts it back once it ended without error; finding
// and finishing what an interrupted run left puts it back too. Without it,
// every endpoint directory must be searched for pending directories.
func (l Layout) Settled() string { return filepath.Join(l.CertsDir(), ".settled") }

// StagingPrefix starts the name of a staging directory (see StagingDir).
const StagingPrefix = ".staging-"

// StagingDir holds, for one run that replaces certificates of existing
// endpoints, the files of all of them, named SERIAL.FILE (the serial, a
// dot, the file's name: 0a1b….key.pem), between the inventory commit that
// records a certificate and the renames that put its files in its
// endpoint's directory. One directory for the run, rather than a pending
// directory in each endpoint's, spares the file system a directory made
// and removed, and an endpoint directory written twice, per certificate.
func (l Layout) StagingDir(run string) string { return filepath.Join(l.CertsDir(), StagingPrefix+run) }

// PendingPrefix starts the name of a pending directory (see PendingDir).
const PendingPrefix = ".pending-"

// PendingDir holds the files of the certificate with the given serial
// between the inventory commit that records it and the renames that put
// them in place: after a crash, finding it tells what is left to do.
func (l Layout) PendingDir(role, name, serial string) string {
	return filepath.Join(l.CertDir(role, name), PendingPrefix+serial)
}

// NewEndpointPendingDir holds the files of the certificate with the given
// serial for an endpoint that has no directory yet: once the inventory
// records the certificate, the whole directory is renamed to the endpoint's
// (CertDir), one rename instead of one per file. After a crash, the
// inventory record of the serial names the endpoint.
func (l Layout) NewEndpointPendingDir(role, serial string) string {
	return filepath.Join(l.RoleDir(role), PendingPrefix+serial)
}

// RoleDir holds the endpoint directories of one role.
func (l Layout) RoleDir(role string) string {
	return filepath.Join(l.Dir, "certs", role)
}

// CertDir is the directory of one endpoint's files.
func (l Layout) CertDir(role, name string) string {
	return filepath.Join(l.Dir, "certs", role, name)
}

// The files of an endpoint's directory.
const (
	CertFile     = "cert.pem"     // the certificate, then its chain
	KeyFile      = "key.pem"      // its private key, 0600
	CAFile       = "ca.pem"       // the trust bundle
	CombinedFile = "combined.pem" // certificate chain and key in one file (config --combined)
)

// Files are the files issued for one endpoint.
type Files struct {
	Cert, Key, CA, Combined string
}

// Endpoint returns the paths of one endpoint's files.
func (l Layout) Endpoint(role, name string) Files {
	d := l.CertDir(role, name)
	return Files{
		Cert:     filepath.Join(d, CertFile),
		Key:      filepath.Join(d, KeyFile),
		CA:       filepath.Join(d, CAFile),
		Combined: filepath.Join(d, CombinedFile),
	}
}

// Exists reports whether the home holds an inventory.
func (l Layout) Exists() bool {
	_, err := os.Stat(l.Inventory())
	return err == nil
}
