package ca

import (
	"crypto/x509"
	"encoding/json"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// zlintBin is zlint on PATH, or where `go install` puts it.
var zlintBin = func() string {
	if p, err := exec.LookPath("zlint"); err == nil {
		return p
	}
	return filepath.Join(build.Default.GOPATH, "bin", "zlint")
}()

// zlintSources are the lint sources that apply to a private CA: the RFCs
// and the community lints. The CA/Browser Forum, browser root programs and
// ETSI sources govern the public web PKI (they forbid .internal names,
// private IPs and URI SANs, and demand policies, AIA and CRL URLs), which
// a Dask cluster CA is not part of.
const zlintSources = "RFC5280,RFC5480,RFC5891,RFC3279,RFC8813,Community"

func TestZlint(t *testing.T) {
	if _, err := os.Stat(zlintBin); err != nil {
		t.Fatalf("zlint is not installed at %s (%v); run: go install github.com/zmap/zlint/v3/cmd/zlint@v3.7.3", zlintBin, err)
	}
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
	if _, err := os.Stat(zlintBin); err != nil {
		t.Fatalf("zlint is not installed at %s (%v); run: go install github.com/zmap/zlint/v3/cmd/zlint@v3.7.3", zlintBin, err)
	}
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
	path := writeCerts(t, c)[0]
	out, err := exec.Command(zlintBin, "-includeSources", zlintSources, path).Output()
	if err != nil {
		t.Fatalf("zlint: %v\n%s", err, out)
	}
	var results map[string]struct {
		Result  string `json:"result"`
		Details string `json:"details"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("zlint output: %v\n%s", err, out)
	}
	if len(results) < 50 {
		t.Fatalf("zlint ran only %d lints", len(results))
	}
	var bad []string
	for name, r := range results {
		switch r.Result {
		case "warn", "error", "fatal":
			bad = append(bad, name+"="+r.Result+" "+r.Details)
		}
	}
	sort.Strings(bad)
	return bad
}
