package ca

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"

	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/internal/quickkdf"
)

// The ASN.1 of an encrypted PKCS#8 key (RFC 5958 §3) under PBES2 with
// PBKDF2 (RFC 8018 §6.2, §A.2), as pemutil writes it: HMAC-SHA256 as the
// PRF and AES-256-CBC as the cipher.
type (
	encryptedKeyInfo struct {
		Algo       pbes2Algorithm
		PrivateKey []byte
	}
	pbes2Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters pbes2Params
	}
	pbes2Params struct {
		KeyDerivationFunc pbkdf2Algorithm
		EncryptionScheme  cipherAlgorithm
	}
	pbkdf2Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters pbkdf2Params
	}
	pbkdf2Params struct {
		Salt           []byte
		IterationCount int
		PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
	}
	cipherAlgorithm struct {
		Algorithm asn1.ObjectIdentifier
		IV        []byte
	}
)

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// kdfIterations is the PBKDF2 iteration count of the keys saved in dir:
// pemutil's (600,000, OWASP's recommendation) unless a test marked dir for
// the quick tier (see internal/quickkdf; the daskca binary never does).
func kdfIterations(dir string) int {
	if quickkdf.Marked(dir) {
		return quickkdf.Iterations
	}
	return pemutil.PBKDF2Iterations
}

// encryptPKCS8 encrypts the PKCS#8 DER key the way pemutil does (salt of
// 16 bytes, PKCS#7 padding), with iter PBKDF2 iterations instead of
// pemutil's fixed count. Only keys of directories marked by quickkdf are
// written this way.
func encryptPKCS8(der, password []byte, iter int) (*pem.Block, error) {
	salt, iv := make([]byte, 16), make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, string(password), salt, iter, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the key encryption key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	data := make([]byte, len(der), len(der)+pad)
	copy(data, der)
	for range pad {
		data = append(data, byte(pad))
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)
	info := encryptedKeyInfo{
		Algo: pbes2Algorithm{Algorithm: oidPBES2, Parameters: pbes2Params{
			KeyDerivationFunc: pbkdf2Algorithm{Algorithm: oidPBKDF2, Parameters: pbkdf2Params{
				Salt: salt, IterationCount: iter,
				PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue},
			}},
			EncryptionScheme: cipherAlgorithm{Algorithm: oidAES256CBC, IV: iv},
		}},
		PrivateKey: data,
	}
	b, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encoding the encrypted key: %w", err)
	}
	return &pem.Block{Type: pemEncryptedKey, Bytes: b}, nil
}
