package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/daskca/daskca/internal/fsutil"
)

// The files of a CA directory. Certificates are PEM and world-readable;
// keys are PKCS#8 PEM, encrypted (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC)
// unless the CA is insecure, and 0600.
const (
	RootCertFile         = "root.crt"
	RootKeyFile          = "root.key"
	IntermediateCertFile = "intermediate.crt"
	IntermediateKeyFile  = "intermediate.key"
	MetadataFile         = "ca.json"
)

// metadataVersion is the ca.json format version written by Save.
const metadataVersion = 1

// metadata is ca.json: what the certificates do not say.
type metadata struct {
	Version      int       `json:"version"`
	TrustDomain  string    `json:"trust_domain"`
	Insecure     bool      `json:"insecure"`
	Created      time.Time `json:"created"`
	KeyType      KeyType   `json:"key_type"`
	Intermediate bool      `json:"intermediate"`
}

func (a *Authority) metadata() metadata {
	created := a.created
	if created.IsZero() {
		created = a.Root.NotBefore.Add(Backdate)
	}
	return metadata{
		Version: metadataVersion, TrustDomain: a.TrustDomain, Insecure: a.Insecure,
		Created: created, KeyType: KeyTypeOf(a.Root.PublicKey), Intermediate: a.Intermediate != nil,
	}
}

// parseMetadata reads ca.json, refusing unknown versions and fields.
func parseMetadata(data []byte) (metadata, error) {
	var m metadata
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return metadata{}, fmt.Errorf("%s: %v: %w", MetadataFile, err, ErrCorrupt)
	}
	if m.Version != metadataVersion {
		return metadata{}, fmt.Errorf("%s: version %d, want %d: %w", MetadataFile, m.Version, metadataVersion, ErrCorrupt)
	}
	return m, nil
}

// Save writes the CA into dir (typically $DASKCA_HOME/ca): root.crt,
// root.key (unless the root key was forgotten), intermediate.crt and
// intermediate.key when there is an intermediate, and ca.json.
//
// Keys are encrypted with password, which must be non-empty unless
// a.Insecure is set (then it must be empty and keys are written in the
// clear); otherwise Save returns ErrNoPassword. The directory is created,
// and set, 0700; keys are 0600. Each file is written to a temporary file in
// dir, synced and renamed into place, and ca.json comes last, so a reader
// never sees a partial file. Save overwrites nothing: if any CA file exists
// in dir it returns ErrExists.
func (a *Authority) Save(dir string, password []byte) error {
	if err := a.checkSavable(password); err != nil {
		return fmt.Errorf("saving CA to %s: %w", dir, err)
	}
	for _, name := range []string{RootCertFile, RootKeyFile, IntermediateCertFile, IntermediateKeyFile, MetadataFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("saving CA to %s: %s exists: %w", dir, name, ErrExists)
		}
	}
	files, err := a.encodeFiles(password, kdfIterations(dir))
	if err != nil {
		return fmt.Errorf("saving CA to %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving CA: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("saving CA: %w", err)
	}
	return writeFiles(dir, files)
}

// checkSavable refuses an Authority Save could not write back usefully.
func (a *Authority) checkSavable(password []byte) error {
	switch {
	case a.Root == nil:
		return fmt.Errorf("no root certificate: %w", ErrNoKey)
	case a.Insecure && len(password) > 0:
		return errors.New("a password was given for an insecure (unencrypted) CA")
	case !a.Insecure && len(password) == 0:
		return ErrNoPassword
	case a.Intermediate != nil && a.IntermediateKey == nil:
		return fmt.Errorf("intermediate key: %w", ErrNoKey)
	case a.Intermediate == nil && a.RootKey == nil:
		return fmt.Errorf("root key: %w", ErrNoKey)
	}
	return nil
}

// file is one file of a CA directory, ready to write.
type file struct {
	name string
	data []byte
	mode fs.FileMode
}

// encodeFiles returns the CA's files, keys encrypted with password (if any)
// and iter PBKDF2 iterations, in writing order: ca.json last.
func (a *Authority) encodeFiles(password []byte, iter int) ([]file, error) {
	files := []file{{RootCertFile, certPEM(a.Root), 0o644}}
	if a.RootKey != nil {
		k, err := encodeKey(a.RootKey, password, iter)
		if err != nil {
			return nil, fmt.Errorf("root key: %w", err)
		}
		files = append(files, file{RootKeyFile, k, 0o600})
	}
	if a.Intermediate != nil {
		k, err := encodeKey(a.IntermediateKey, password, iter)
		if err != nil {
			return nil, fmt.Errorf("intermediate key: %w", err)
		}
		files = append(files, file{IntermediateCertFile, certPEM(a.Intermediate), 0o644},
			file{IntermediateKeyFile, k, 0o600})
	}
	m, err := json.MarshalIndent(a.metadata(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(files, file{MetadataFile, append(m, '\n'), 0o644}), nil
}

// writeFiles stages every file (temporary file, synced) before renaming
// any into place, so a failure while writing leaves dir untouched.
func writeFiles(dir string, files []file) error {
	staged := make([]*fsutil.Staged, 0, len(files))
	defer func() {
		for _, s := range staged {
			s.Abort()
		}
	}()
	for _, f := range files {
		s, err := fsutil.Stage(filepath.Join(dir, f.name), f.data, f.mode)
		if err != nil {
			return err
		}
		staged = append(staged, s)
	}
	for _, s := range staged {
		if err := s.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// parseCertPEM reads exactly one PEM certificate of a CA.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("want exactly one PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, errors.New("not a CA certificate")
	}
	return cert, nil
}
