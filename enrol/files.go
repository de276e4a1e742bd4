package enrol

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/snippet"
)

// Files of an enrolled directory.
const (
	CertFile   = "cert.pem"
	KeyFile    = "key.pem"
	CAFile     = "ca.pem"
	CRLFile    = "crl.pem"
	YAMLFile   = "dask.yaml"
	EnvFile    = "dask.env"
	StateFile  = "enrol.state" // JSON: where to renew (not .json: Dask reads *.json in DASK_CONFIG)
	dirMode    = 0o700
	keyMode    = 0o600
	publicMode = 0o644
)

// State is what an enrolled directory remembers for renewal.
type State struct {
	Server     string `json:"server"`
	Role       string `json:"role"`
	Name       string `json:"name"`
	PathPrefix string `json:"path_prefix,omitempty"`
	Scheduler  string `json:"scheduler,omitempty"`
}

// WriteDir writes an issued certificate, its key, the CA bundle, the CRL
// (when the server sent one), the role's Dask configuration and the state
// for renewal into dir, made 0700 if missing. writeDir with configs false
// (a renewal) leaves dask.yaml, dask.env and the state as they are, with
// whatever the user changed in them. Every file is written to a
// temporary file beside it, synced and renamed into place (the bundle and
// CRL first, the key before the certificate, so a process that reloads
// when the certificate changes finds its key); links are never followed.
// st.PathPrefix is where Dask will find the files (default: dir).
func WriteDir(dir string, is *Issued, st State) error { return writeDir(dir, is, st, true) }

func writeDir(dir string, is *Issued, st State, configs bool) error {
	if err := makeDir(dir); err != nil {
		return err
	}
	keyPEM, err := pemutil.Serialize(is.Key, pemutil.WithPKCS8(true))
	if err != nil {
		return fmt.Errorf("encoding the key: %w", err)
	}
	prefix := st.PathPrefix
	if prefix == "" {
		if prefix, err = filepath.Abs(dir); err != nil {
			return err
		}
	}
	ep := snippet.Endpoint{Role: identity.Role(is.Role), Name: is.Name,
		CAFile: path.Join(prefix, CAFile), CertFile: path.Join(prefix, CertFile), KeyFile: path.Join(prefix, KeyFile)}
	if is.CRL != "" {
		ep.CRLFile = path.Join(prefix, CRLFile)
	}
	ep = ep.WithPlugin(prefix)
	opts := snippet.Options{Scheduler: st.Scheduler}
	yml, err := snippet.YAML(ep, opts)
	if err != nil {
		return err
	}
	state, _ := json.MarshalIndent(st, "", "  ")
	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{CAFile, []byte(is.CA), publicMode},
		{CRLFile, []byte(is.CRL), publicMode},
		{KeyFile, pem.EncodeToMemory(keyPEM), keyMode},
		{CertFile, is.Chain, publicMode},
		{daskplugin.FileName, daskplugin.Render(), publicMode},
		{YAMLFile, yml, publicMode},
		{EnvFile, []byte(snippet.Env(ep, opts)), publicMode},
		{StateFile, append(state, '\n'), publicMode},
	}
	for _, f := range files {
		if f.name == CRLFile && len(f.data) == 0 {
			continue
		}
		if !configs && (f.name == YAMLFile || f.name == EnvFile || f.name == StateFile) {
			continue
		}
		if err := writeAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return fsutil.SyncDir(dir)
}

// makeDir makes dir 0700 unless it exists; it refuses a symbolic link or
// a non-directory in its place.
func makeDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, dirMode)
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link; give the real directory", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// writeAtomic writes data to path through fsutil's staging: a new
// temporary file beside it (created exclusively, so never through a link),
// synced, then renamed over path.
func writeAtomic(p string, data []byte, mode fs.FileMode) error {
	st, err := fsutil.Stage(p, data, mode)
	if err != nil {
		return err
	}
	return st.Commit()
}

// ReadDir loads what an enrolled directory holds for renewal: its state,
// its certificate and key, and its trust bundle.
func ReadDir(dir string) (State, tls.Certificate, *x509.CertPool, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return st, tls.Certificate{}, nil, fmt.Errorf("%s is not an enrolled directory: %w", dir, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, tls.Certificate{}, nil, fmt.Errorf("%s: invalid JSON", filepath.Join(dir, StateFile))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return st, cert, nil, fmt.Errorf("loading the certificate of %s: %w", dir, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return st, cert, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return st, cert, nil, fmt.Errorf("%s holds no certificate", filepath.Join(dir, CAFile))
	}
	return st, cert, pool, nil
}
