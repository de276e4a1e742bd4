package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"

	"go.step.sm/crypto/keyutil"
)

// KeyType names a key algorithm and size this package generates and signs
// with. The zero value means ECP256 wherever a KeyType is an option.
type KeyType string

// The supported key types. P-256 is the default: small, fast and accepted by
// every TLS stack Dask runs on. RSA sizes below 2048 bits are not offered.
const (
	ECP256  KeyType = "ec-p256"
	ECP384  KeyType = "ec-p384"
	Ed25519 KeyType = "ed25519"
	RSA2048 KeyType = "rsa-2048"
	RSA3072 KeyType = "rsa-3072"
	RSA4096 KeyType = "rsa-4096"
)

// KeyTypes lists every supported key type, default first. Callers must not
// modify it.
var KeyTypes = []KeyType{ECP256, ECP384, Ed25519, RSA2048, RSA3072, RSA4096}

// ParseKeyType returns the key type named s, ignoring case and surrounding
// space. Any other name gives an error wrapping ErrUnknownKeyType that lists
// the valid names.
func ParseKeyType(s string) (KeyType, error) {
	want := KeyType(strings.ToLower(strings.TrimSpace(s)))
	for _, kt := range KeyTypes {
		if kt == want {
			return kt, nil
		}
	}
	names := make([]string, len(KeyTypes))
	for i, kt := range KeyTypes {
		names[i] = string(kt)
	}
	return "", fmt.Errorf("key type %q (valid: %s): %w", s, strings.Join(names, ", "), ErrUnknownKeyType)
}

// orDefault returns kt, or ECP256 for the zero value.
func (kt KeyType) orDefault() KeyType {
	if kt == "" {
		return ECP256
	}
	return kt
}

// GenerateKey creates a new private key of type kt (the zero value meaning
// ECP256) from crypto/rand.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch kt.orDefault() {
	case ECP256:
		signer, err = keyutil.GenerateSigner("EC", "P-256", 0)
	case ECP384:
		signer, err = keyutil.GenerateSigner("EC", "P-384", 0)
	case Ed25519:
		signer, err = keyutil.GenerateSigner("OKP", "Ed25519", 0)
	case RSA2048:
		signer, err = keyutil.GenerateSigner("RSA", "", 2048)
	case RSA3072:
		signer, err = keyutil.GenerateSigner("RSA", "", 3072)
	case RSA4096:
		signer, err = keyutil.GenerateSigner("RSA", "", 4096)
	default:
		return nil, fmt.Errorf("generating key: %q: %w", string(kt), ErrUnknownKeyType)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", kt.orDefault(), err)
	}
	return signer, nil
}

// KeyTypeOf returns the key type of a public key, or of the public half of a
// private key or crypto.Signer. It returns "" for keys that are not one of
// KeyTypes (another curve, another RSA size, an unknown algorithm).
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	if s, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = s.Public()
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECP256
		case elliptic.P384():
			return ECP384
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return Ed25519
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	}
	return ""
}
