package homefiles

import (
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// pendingModes are the files a pending directory may hold and the
// permission bits each must not have: keys private to the owner,
// certificates and bundles not writable by others.
var pendingModes = map[string]fs.FileMode{
	home.CertFile: 0o022, home.CAFile: 0o022, home.KeyFile: 0o077, home.CombinedFile: 0o077,
}

// CheckPending checks the files of a pending directory (see
// home.Layout.PendingDir) before crash recovery puts them in place for
// rec: only the files daskca stages, each a regular file (no link) with its
// mode; cert.pem the recorded certificate followed by CA certificates of
// as; key.pem and combined.pem the private key of that certificate; ca.pem
// CA certificates of as only. A file already moved by an interrupted
// placing may be missing, unless complete (the directory is to become the
// endpoint's as a whole), which needs cert.pem, key.pem and ca.pem. An
// error says what is wrong; the caller discards the directory.
func CheckPending(dir string, rec store.Record, as Authorities, complete bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	files := make(map[string]string, len(ents))
	for _, e := range ents {
		files[e.Name()] = filepath.Join(dir, e.Name())
	}
	return CheckPendingFiles(files, rec, as, complete)
}

// CheckPendingFiles is CheckPending for files given by the name each is to
// have in the endpoint's directory (cert.pem, ...) and the path where it
// is staged (home.Layout.StagingDir).
func CheckPendingFiles(files map[string]string, rec store.Record, as Authorities, complete bool) error {
	cert, err := as.Verify(rec)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for name, path := range files {
		if _, ok := pendingModes[name]; !ok {
			return fmt.Errorf("unexpected %q", name)
		}
		have[name] = true
		if err := checkPendingFile(path, name, cert, as); err != nil {
			return err
		}
	}
	if complete {
		for _, n := range []string{home.CertFile, home.KeyFile, home.CAFile} {
			if !have[n] {
				return fmt.Errorf("%s missing", n)
			}
		}
	}
	return nil
}

func checkPendingFile(path, name string, cert *x509.Certificate, as Authorities) error {
	data, mode, err := fsutil.ReadRegular(path)
	if err != nil {
		return err
	}
	if deny := pendingModes[name]; mode.Perm()&deny != 0 {
		return fmt.Errorf("%s has mode %04o", path, mode.Perm())
	}
	switch name {
	case home.CertFile:
		_, err = readChain(path, cert, as)
	case home.KeyFile:
		err = checkKey(path, data, cert)
	case home.CombinedFile:
		err = checkCombined(path, cert)
	case home.CAFile:
		err = onlyCAs(path, data, as)
	}
	return err
}

// onlyCAs checks that a bundle holds CA certificates of as and nothing else.
func onlyCAs(path string, data []byte, as Authorities) error {
	certs, err := parseCertsData(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range certs {
		if as[ca.Fingerprint(c)] == nil {
			return fmt.Errorf("%s holds %q, not a CA certificate of this home: %w", path, c.Subject.String(), ErrExtraCA)
		}
	}
	return nil
}
