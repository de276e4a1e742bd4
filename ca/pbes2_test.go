package ca

import (
	"crypto"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/internal/quickkdf"
)

// keyKDF returns the PBES2 parameters of an encrypted key file.
func keyKDF(t *testing.T, path string) pbkdf2Params {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemEncryptedKey {
		t.Fatalf("%s: not an encrypted key", path)
	}
	var info encryptedKeyInfo
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p := info.Algo.Parameters
	if !info.Algo.Algorithm.Equal(oidPBES2) || !p.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) ||
		!p.KeyDerivationFunc.Parameters.PRF.Algorithm.Equal(oidHMACSHA256) || !p.EncryptionScheme.Algorithm.Equal(oidAES256CBC) {
		t.Fatalf("%s: not PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC: %+v", path, info.Algo)
	}
	return p.KeyDerivationFunc.Parameters
}

// TestKDFIterations: CA keys get pemutil's 600,000 PBKDF2 iterations,
// whether saved by Save or by ChangePassword, unless a test marked their
// directory for the quick tier; either way the key opens with its password
// only.
func TestKDFIterations(t *testing.T) {
	t.Parallel()
	if pemutil.PBKDF2Iterations < 600000 {
		t.Fatalf("pemutil encrypts with %d PBKDF2 iterations, fewer than OWASP's 600,000", pemutil.PBKDF2Iterations)
	}
	for _, c := range []struct {
		name  string
		quick bool
		want  int
	}{
		{"a directory of a daskca home", false, pemutil.PBKDF2Iterations},
		{"a directory marked for the quick tier", true, quickkdf.Iterations},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if c.quick {
				t.Cleanup(quickkdf.Mark(root))
			}
			a := mustNew(t, Options{Name: "KDF CA", Intermediate: true, TrustDomain: testTrustDomain, Now: func() time.Time { return testNow }})
			saved, changed := filepath.Join(root, "saved"), filepath.Join(root, "changed")
			if err := a.Save(saved, testPassword); err != nil {
				t.Fatal(err)
			}
			insecure := *a
			insecure.Insecure = true
			if err := insecure.Save(changed, nil); err != nil {
				t.Fatal(err)
			}
			if err := ChangePassword(changed, nil, testPassword); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{saved, changed} {
				salts := map[string]bool{}
				for _, name := range []string{RootKeyFile, IntermediateKeyFile} {
					p := keyKDF(t, filepath.Join(dir, name))
					if p.IterationCount != c.want {
						t.Errorf("%s/%s: %d PBKDF2 iterations, want %d", filepath.Base(dir), name, p.IterationCount, c.want)
					}
					if len(p.Salt) != 16 || salts[string(p.Salt)] {
						t.Errorf("%s/%s: salt %x: want 16 fresh bytes", filepath.Base(dir), name, p.Salt)
					}
					salts[string(p.Salt)] = true
				}
				if _, err := Load(dir, []byte("wrong password")); !errors.Is(err, ErrWrongPassword) {
					t.Errorf("%s: Load with a wrong password: %v, want ErrWrongPassword", filepath.Base(dir), err)
				}
				got := mustLoad(t, dir, testPassword)
				type publicKey interface{ Equal(crypto.PublicKey) bool }
				if !got.RootKey.Public().(publicKey).Equal(a.RootKey.Public()) ||
					!got.IntermediateKey.Public().(publicKey).Equal(a.IntermediateKey.Public()) {
					t.Errorf("%s: loaded keys differ from the saved ones", filepath.Base(dir))
				}
			}
		})
	}
}
