package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
)

// newKey generates a key of type k.
func newKey(t testing.TB, k KeyType) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch k {
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("unknown key type %d", k)
	}
	if err != nil {
		t.Fatalf("testca: generating %v key: %v", k, err)
	}
	return key
}

// encodeKey returns key as PEM in the encoding e, failing the test when the
// key type has no such encoding.
func encodeKey(t testing.TB, key crypto.Signer, e KeyEncoding) []byte {
	t.Helper()
	var (
		block pem.Block
		err   error
	)
	switch e {
	case PKCS8:
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(key)
	case SEC1:
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("testca: SEC1 encoding needs an ECDSA key, have %T", key)
		}
		block.Type = "EC PRIVATE KEY"
		block.Bytes, err = x509.MarshalECPrivateKey(ec)
	case PKCS1:
		r, ok := key.(*rsa.PrivateKey)
		if !ok {
			t.Fatalf("testca: PKCS#1 encoding needs an RSA key, have %T", key)
		}
		block.Type = "RSA PRIVATE KEY"
		block.Bytes = x509.MarshalPKCS1PrivateKey(r)
	default:
		err = fmt.Errorf("unknown key encoding %d", e)
	}
	if err != nil {
		t.Fatalf("testca: encoding key: %v", err)
	}
	return pem.EncodeToMemory(&block)
}

// leafKeyUsage is the key usage a leaf with this key needs for TLS: RSA key
// exchange additionally needs key encipherment.
func leafKeyUsage(key crypto.Signer) x509.KeyUsage {
	if _, ok := key.(*rsa.PrivateKey); ok {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	return x509.KeyUsageDigitalSignature
}
