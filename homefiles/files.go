package homefiles

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// checkFiles checks the files of one active certificate: the directory is
// 0700, the certificate file parses to the end and starts with cert, the
// key file is 0600 and holds cert's key, and the combined file (if any)
// matches too. It returns the problems; a pending directory for the serial
// or its files in a staging directory (an interrupted replacement) turn
// them into one note.
func checkFiles(l home.Layout, rec store.Record, cert *x509.Certificate, as Authorities, bundle map[string]bool) (problems []string, note string) {
	dir := l.CertDir(rec.Role, rec.Name)
	f := l.Endpoint(rec.Role, rec.Name)
	var errs []string
	if err := l.SafeEndpointDir(rec.Role, rec.Name, false); err != nil {
		errs = append(errs, err.Error())
	} else if err := checkMode(dir, 0o077); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := readChain(f.Cert, cert, as); err != nil {
		errs = append(errs, err.Error())
	}
	if err := checkKeyFile(f.Key, cert); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := os.Lstat(f.Combined); err == nil {
		if err := checkCombined(f.Combined, cert); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := checkBundle(f.CA, bundle); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) == 0 {
		return nil, ""
	}
	_, err := os.Stat(l.PendingDir(rec.Role, rec.Name, rec.Serial))
	if err != nil {
		_, err = os.Stat(l.NewEndpointPendingDir(rec.Role, rec.Serial))
	}
	if err != nil {
		if staged, _ := filepath.Glob(filepath.Join(l.CertsDir(), home.StagingPrefix+"*", rec.Serial+".*")); len(staged) > 0 {
			err = nil // files of the serial in a run's staging directory
		}
	}
	if err == nil {
		return nil, fmt.Sprintf("files of %s/%s (serial %s) are not all in place yet: run daskca renew to finish", rec.Role, rec.Name, rec.Serial)
	}
	for i := range errs {
		errs[i] = fmt.Sprintf("%s/%s (serial %s): %s", rec.Role, rec.Name, rec.Serial, errs[i])
	}
	return errs, ""
}

// checkMode refuses a file or directory with any of the mode bits in deny.
func checkMode(path string, deny fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&deny != 0 {
		return fmt.Errorf("%s has mode %04o, want no bits of %04o (chmod %04o %s)", path, fi.Mode().Perm(), deny, fi.Mode().Perm()&^deny, path)
	}
	return nil
}

func checkKeyFile(path string, cert *x509.Certificate) error {
	_, err := readKey(path, cert)
	return err
}

func checkKey(path string, data []byte, cert *x509.Certificate) error {
	key, err := pemutil.ParseKey(data)
	if err != nil {
		return fmt.Errorf("%s: %v (cut short?)", path, err)
	}
	if err := keyutil.VerifyPair(cert.PublicKey, key); err != nil {
		return fmt.Errorf("%s does not hold the key of the recorded certificate", path)
	}
	return nil
}

// checkCombined checks a file holding the certificate chain then the key.
func checkCombined(path string, cert *x509.Certificate) error {
	data, mode, err := fsutil.ReadRegular(path)
	if err != nil {
		return err
	}
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, want no bits of 0077 (chmod 0600 %s)", path, mode.Perm(), path)
	}
	var keyPEM []byte
	first := true
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE" && first:
			if !bytes.Equal(block.Bytes, cert.Raw) {
				return fmt.Errorf("%s does not start with the recorded certificate", path)
			}
			first = false
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			keyPEM = pem.EncodeToMemory(block)
		}
	}
	if first || keyPEM == nil {
		return fmt.Errorf("%s: want the certificate chain and a key (cut short?)", path)
	}
	return checkKey(path, keyPEM, cert)
}

// parseCerts reads a file of PEM certificates with nothing else in it,
// without following a link.
func parseCerts(path string) ([]*x509.Certificate, error) {
	data, _, err := fsutil.ReadRegular(path)
	if err != nil {
		return nil, err
	}
	return parseCertsData(data)
}

// parseCertsData parses PEM certificates with nothing else among them.
func parseCertsData(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("not a complete PEM certificate file (cut short?)")
	}
	return out, nil
}

// strayFiles lists what an interrupted run left in the endpoint
// directories: keys without a certificate (problems), temporary files and
// pending directories (notes).
func strayFiles(l home.Layout) (problems, notes []string, err error) {
	dirs, err := filepath.Glob(filepath.Join(l.CertsDir(), "*", "*"))
	if err != nil {
		return nil, nil, err
	}
	staging, err := filepath.Glob(filepath.Join(l.CertsDir(), home.StagingPrefix+"*"))
	if err != nil {
		return nil, nil, err
	}
	for _, d := range staging {
		notes = append(notes, fmt.Sprintf("%s: files of replaced certificates not in place yet: the next writing command (e.g. daskca renew) finishes or removes them", d))
	}
	for _, d := range dirs {
		if strings.HasPrefix(filepath.Base(filepath.Dir(d)), home.StagingPrefix) {
			continue // a file in a staging directory
		}
		base := filepath.Base(d)
		if strings.HasPrefix(base, home.PendingPrefix) {
			notes = append(notes, fmt.Sprintf("%s: files of a new endpoint not in place yet: the next writing command (e.g. daskca renew) finishes or removes them", d))
			continue
		}
		if strings.HasPrefix(base, ".") {
			notes = append(notes, fmt.Sprintf("%s: left by an interrupted run; safe to remove", d))
			continue
		}
		_, certErr := os.Lstat(filepath.Join(d, home.CertFile))
		if _, keyErr := os.Lstat(filepath.Join(d, home.KeyFile)); keyErr == nil && errors.Is(certErr, fs.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("%s: key.pem without cert.pem", d))
		}
		tmps, _ := filepath.Glob(filepath.Join(d, ".*.tmp-*"))
		for _, t := range tmps {
			notes = append(notes, fmt.Sprintf("%s: left by an interrupted run; safe to remove", t))
		}
	}
	return problems, notes, nil
}

// bundleSet is the set of certificates (by fingerprint) of the CA's own
// trust bundle (CABundle).
func bundleSet(l home.Layout) (map[string]bool, error) {
	data, err := CABundle(l)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertsData(data)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, c := range certs {
		set[ca.Fingerprint(c)] = true
	}
	return set, nil
}

// checkBundle checks a trust bundle file against the CA's own bundle: a
// certificate the CA's bundle lacks (an extra CA that endpoints would trust)
// or one missing from the file is a problem.
func checkBundle(path string, want map[string]bool) error {
	certs, err := parseCerts(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	have := map[string]bool{}
	for _, c := range certs {
		fp := ca.Fingerprint(c)
		if !want[fp] {
			return fmt.Errorf("%s holds %q, which is not in the CA's trust bundle: endpoints loading it trust another CA (daskca issue --force rewrites it): %w", path, c.Subject.String(), ErrExtraCA)
		}
		have[fp] = true
	}
	if len(have) != len(want) {
		return fmt.Errorf("%s lacks a root of the CA's trust bundle (%d of %d; during a CA rotation re-run its last phase)", path, len(have), len(want))
	}
	return nil
}

// BundleChecker returns a function that checks a trust bundle file (the
// home's ca-bundle.pem, an endpoint's ca.pem) against the CA's own bundle:
// an error wraps ErrExtraCA when the file holds a certificate the CA's
// bundle lacks.
func BundleChecker(l home.Layout) (func(path string) error, error) {
	want, err := bundleSet(l)
	if err != nil {
		return nil, err
	}
	return func(path string) error { return checkBundle(path, want) }, nil
}
