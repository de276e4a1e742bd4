// Package home builds every path under a daskca home directory
// ($DASKCA_HOME, default ~/.daskca). No other package joins these paths itself.
//
//	$DASKCA_HOME/
//	  inventory.db                     the bbolt inventory (0600)
//	  ca/                              the CA (0700): root.crt, root.key, [intermediate.crt, intermediate.key], ca.json
//	  ca-bundle.pem                    the trust bundle every endpoint loads as its CA file
//	  certs/<role>/<name>/cert.pem     the leaf followed by its chain (0644)
//	  certs/<role>/<name>/key.pem      the leaf's private key, PKCS#8 (0600)
//	  certs/<role>/<name>/ca.pem       a copy of the trust bundle, so one directory is all a host needs
//	  certs/<role>/<name>/combined.pem certificate chain and key in one file, for --combined (0600)
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

// CertDir is the directory of one endpoint's files.
func (l Layout) CertDir(role, name string) string {
	return filepath.Join(l.Dir, "certs", role, name)
}

// Files are the files issued for one endpoint.
type Files struct {
	Cert, Key, CA, Combined string
}

// Endpoint returns the paths of one endpoint's files.
func (l Layout) Endpoint(role, name string) Files {
	d := l.CertDir(role, name)
	return Files{
		Cert:     filepath.Join(d, "cert.pem"),
		Key:      filepath.Join(d, "key.pem"),
		CA:       filepath.Join(d, "ca.pem"),
		Combined: filepath.Join(d, "combined.pem"),
	}
}

// Exists reports whether the home holds an inventory.
func (l Layout) Exists() bool {
	_, err := os.Stat(l.Inventory())
	return err == nil
}
