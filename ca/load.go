package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/internal/fsutil"
)

// Load reads the CA that Save wrote into dir and decrypts its keys with
// password (ignored for an insecure CA). Errors: ErrNotInitialized when dir
// holds no CA, ErrNoPassword when keys are encrypted and password is empty,
// ErrWrongPassword when they do not decrypt with it, ErrCorrupt when files
// are damaged or do not belong together (a key that does not match its
// certificate, for instance).
//
// RootKey is nil in the result when the root key was forgotten.
func Load(dir string, password []byte) (*Authority, error) {
	a, err := LoadPublic(dir)
	if err != nil {
		return nil, err
	}
	if a.RootKey, err = loadKey(dir, RootKeyFile, password, a.Root); err != nil {
		if !errors.Is(err, fs.ErrNotExist) || a.Intermediate == nil {
			return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
		}
		a.RootKey = nil
	}
	if a.Intermediate != nil {
		if a.IntermediateKey, err = loadKey(dir, IntermediateKeyFile, password, a.Intermediate); err != nil {
			return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
		}
	}
	return a, nil
}

// LoadPublic reads the certificates and metadata of the CA in dir, and no
// key: RootKey and IntermediateKey are nil, and the result can serve
// Issuer, Chain and BundlePEM but not SignDER or CRL. It checks that the root
// is self-signed, that the intermediate (if any) is signed by the root, and
// that neither dir nor its files are writable by group or others. Insecure
// is true when any key file present is stored unencrypted.
func LoadPublic(dir string) (*Authority, error) {
	m, err := loadMetadata(dir)
	if err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
	}
	a := &Authority{TrustDomain: m.TrustDomain, Insecure: m.Insecure, created: m.Created}
	if a.Root, err = loadCert(dir, RootCertFile); err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
	}
	if err := a.Root.CheckSignatureFrom(a.Root); err != nil {
		return nil, fmt.Errorf("loading CA from %s: %s is not self-signed: %v: %w", dir, RootCertFile, err, ErrCorrupt)
	}
	_, statErr := os.Lstat(filepath.Join(dir, IntermediateCertFile))
	if m.Intermediate != (statErr == nil) {
		return nil, fmt.Errorf("loading CA from %s: %s says intermediate=%t, file %s: %v: %w",
			dir, MetadataFile, m.Intermediate, IntermediateCertFile, statErr, ErrCorrupt)
	}
	if m.Intermediate {
		if a.Intermediate, err = loadCert(dir, IntermediateCertFile); err != nil {
			return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
		}
		if err := a.Intermediate.CheckSignatureFrom(a.Root); err != nil {
			return nil, fmt.Errorf("loading CA from %s: %s is not signed by %s: %v: %w",
				dir, IntermediateCertFile, RootCertFile, err, ErrCorrupt)
		}
	}
	if a.Overlap, err = loadOverlap(dir); err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
	}
	if enc, err := keysEncrypted(dir); err == nil {
		a.Insecure = !enc
	}
	return a, nil
}

// loadMetadata reads ca.json after checking dir is a CA directory.
func loadMetadata(dir string) (metadata, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return metadata{}, fmt.Errorf("%s does not exist: %w", dir, ErrNotInitialized)
	}
	if err := fsutil.CheckNotWritableByOthers(dir); err != nil {
		return metadata{}, err
	}
	data, err := readFile(dir, MetadataFile)
	if errors.Is(err, fs.ErrNotExist) {
		if _, rootErr := os.Lstat(filepath.Join(dir, RootCertFile)); errors.Is(rootErr, fs.ErrNotExist) {
			return metadata{}, fmt.Errorf("%s has no %s: %w", dir, MetadataFile, ErrNotInitialized)
		}
		return metadata{}, fmt.Errorf("%s is missing (an interrupted save?): %w", MetadataFile, ErrCorrupt)
	}
	if err != nil {
		return metadata{}, err
	}
	return parseMetadata(data)
}

func loadCert(dir, name string) (*x509.Certificate, error) {
	data, err := readFile(dir, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrCorrupt)
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrCorrupt)
	}
	return cert, nil
}

// readFile reads a file of dir, refusing one that group or others can write.
func readFile(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	if err := fsutil.CheckNotWritableByOthers(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
