package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/internal/fsutil"
)

// PEM block types of the keys Save writes.
const (
	pemEncryptedKey = "ENCRYPTED PRIVATE KEY"
	pemPlainKey     = "PRIVATE KEY"
)

// encodeKey returns key as PKCS#8 PEM, encrypted with password unless it is
// empty. Encryption is pemutil's PBES2 with its own defaults (PBKDF2 with
// HMAC-SHA256, 600,000 iterations, AES-256-CBC), which OpenSSL reads; iter
// is the iteration count (kdfIterations), which differs from pemutil's only
// in the quick test tier.
func encodeKey(key crypto.Signer, password []byte, iter int) ([]byte, error) {
	opts := []pemutil.Options{pemutil.WithPKCS8(true)}
	if len(password) > 0 && iter == pemutil.PBKDF2Iterations {
		opts = append(opts, pemutil.WithPassword(password))
	}
	block, err := pemutil.Serialize(key, opts...)
	if err == nil && len(password) > 0 && iter != pemutil.PBKDF2Iterations {
		block, err = encryptPKCS8(block.Bytes, password, iter)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// decodeKey reads a key written by encodeKey. It reports whether the key
// was encrypted.
func decodeKey(data, password []byte) (crypto.Signer, bool, error) {
	block, rest := pem.Decode(data)
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, false, fmt.Errorf("want exactly one PEM block: %w", ErrCorrupt)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case pemEncryptedKey:
		if len(password) == 0 {
			return nil, true, ErrNoPassword
		}
		if key, err = pemutil.ParseKey(data, pemutil.WithPassword(password)); err != nil {
			// A wrong password shows up as bad padding or, rarely, as
			// garbage that does not parse: both mean the same here.
			return nil, true, ErrWrongPassword
		}
	case pemPlainKey:
		if key, err = pemutil.ParseKey(data); err != nil {
			return nil, false, fmt.Errorf("%v: %w", err, ErrCorrupt)
		}
	default:
		return nil, false, fmt.Errorf("PEM block %q, want %q or %q: %w", block.Type, pemEncryptedKey, pemPlainKey, ErrCorrupt)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || KeyTypeOf(signer.Public()) == "" {
		return nil, false, fmt.Errorf("unsupported key %T: %w", key, ErrCorrupt)
	}
	return signer, block.Type == pemEncryptedKey, nil
}

// loadKey reads and decrypts the key file name of dir and checks that it
// belongs to cert. A missing file gives an error wrapping fs.ErrNotExist.
func loadKey(dir, name string, password []byte, cert *x509.Certificate) (crypto.Signer, error) {
	data, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	key, _, err := decodeKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := keyutil.VerifyPair(cert.PublicKey, key); err != nil {
		return nil, fmt.Errorf("%s does not match its certificate: %w", name, ErrCorrupt)
	}
	return key, nil
}

// ExportRootKey returns the root key as PKCS#8 PEM encrypted with password,
// for keeping offline before ForgetRootKey. It needs RootKey (ErrNoKey) and
// a non-empty password (ErrNoPassword).
func (a *Authority) ExportRootKey(password []byte) ([]byte, error) {
	switch {
	case a.RootKey == nil:
		return nil, fmt.Errorf("exporting root key: %w", ErrNoKey)
	case len(password) == 0:
		return nil, fmt.Errorf("exporting root key: %w", ErrNoPassword)
	}
	return encodeKey(a.RootKey, password, pemutil.PBKDF2Iterations)
}

// ForgetRootKey deletes root.key from dir so that only the intermediate can
// sign; export the key first (ExportRootKey). It refuses with
// ErrNoIntermediate when the CA has no intermediate, since nothing could
// sign afterwards, and does nothing when root.key is already gone. The file
// is unlinked, not overwritten: copies in backups or snapshots remain.
func ForgetRootKey(dir string) error {
	a, err := LoadPublic(dir)
	if err != nil {
		return fmt.Errorf("forgetting root key: %w", err)
	}
	if a.Intermediate == nil {
		return fmt.Errorf("forgetting root key in %s: %w", dir, ErrNoIntermediate)
	}
	if _, err := os.Stat(filepath.Join(dir, IntermediateKeyFile)); err != nil {
		return fmt.Errorf("forgetting root key in %s: %s: %v: %w", dir, IntermediateKeyFile, err, ErrCorrupt)
	}
	err = os.Remove(filepath.Join(dir, RootKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("forgetting root key: %w", err)
	}
	return fsutil.SyncDir(dir)
}

// ChangePassword re-encrypts the CA keys in dir from oldPw to newPw, which
// must not be empty (ErrNoPassword). An insecure CA is encrypted by it (with
// any oldPw). Every new key file is written and synced before any is renamed
// into place; the renames themselves are one per file, so a crash between
// them can leave root.key and intermediate.key under different passwords,
// each of which still loads with its own.
func ChangePassword(dir string, oldPw, newPw []byte) error {
	if len(newPw) == 0 {
		return fmt.Errorf("changing CA password: new password: %w", ErrNoPassword)
	}
	a, err := Load(dir, oldPw)
	if err != nil {
		return fmt.Errorf("changing CA password: %w", err)
	}
	a.Insecure = false
	files, err := a.encodeFiles(newPw, kdfIterations(dir))
	if err != nil {
		return fmt.Errorf("changing CA password: %w", err)
	}
	var keep []file
	for _, f := range files {
		if f.name != RootCertFile && f.name != IntermediateCertFile {
			keep = append(keep, f)
		}
	}
	if err := writeFiles(dir, keep); err != nil {
		return fmt.Errorf("changing CA password: %w", err)
	}
	return nil
}

// IsEncrypted reports whether the CA keys in dir are stored encrypted,
// without needing the password.
func IsEncrypted(dir string) (bool, error) {
	if _, err := loadMetadata(dir); err != nil {
		return false, fmt.Errorf("checking CA keys in %s: %w", dir, err)
	}
	enc, err := keysEncrypted(dir)
	if err != nil {
		return false, fmt.Errorf("checking CA keys in %s: %w", dir, err)
	}
	return enc, nil
}

// keysEncrypted inspects the PEM type of the key files present in dir.
func keysEncrypted(dir string) (bool, error) {
	var seen, encrypted int
	for _, name := range []string{RootKeyFile, IntermediateKeyFile} {
		data, err := readFile(dir, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return false, fmt.Errorf("%s: no PEM block: %w", name, ErrCorrupt)
		}
		seen++
		if block.Type == pemEncryptedKey {
			encrypted++
		}
	}
	switch {
	case seen == 0:
		return false, fmt.Errorf("no key files: %w", ErrNoKey)
	case encrypted != 0 && encrypted != seen:
		return false, fmt.Errorf("some keys are encrypted and some are not: %w", ErrCorrupt)
	}
	return encrypted > 0, nil
}
