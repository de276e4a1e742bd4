package ca

import (
	"crypto/x509"
	"testing"

	"github.com/daskca/daskca/internal/testkit/x509lint"
)

func TestZlint(t *testing.T) {
	t.Parallel()
	x509lint.Require(t)
	for _, kt := range []KeyType{ECP256, ECP384, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			a := fixtureCA(t, kt, true)
			key := mustKey(t, kt)
			leaf := mustSign(t, a, leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, []string{"10.0.0.1", "fd00::1"}), key.Public())
			rootOnly := fixtureCA(t, kt, false)
			for _, c := range []*x509.Certificate{a.Root, a.Intermediate, leaf, rootOnly.Root} {
				if bad := zlint(t, c); len(bad) > 0 {
					t.Errorf("%s: zlint: %v", c.Subject.CommonName, bad)
				}
			}
		})
	}
}

// TestZlintCatches is the control: a leaf without a subject key identifier
// (made bypassing Sign) must draw a warning, or the lint run is not real.
func TestZlintCatches(t *testing.T) {
	t.Parallel()
	x509lint.Require(t)
	a := fixtureCA(t, ECP256, true)
	key := mustKey(t, ECP256)
	leaf := forceSign(t, a, leafTemplate(key.Public(), "w1", []string{"w1.dask.internal"}, nil), key.Public())
	if bad := zlint(t, leaf); len(bad) == 0 {
		t.Error("zlint found nothing wrong with a leaf lacking a subject key identifier")
	}
}

// zlint returns the warn, error and fatal results for c.
func zlint(t *testing.T, c *x509.Certificate) []string {
	t.Helper()
	return x509lint.Problems(t, writeCerts(t, c)[0])
}
