// Package x509lint runs the RFC 5280 linter zlint over certificates in tests.
package x509lint

import (
	"encoding/json"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// Bin is zlint on PATH, or where `go install` puts it.
var Bin = func() string {
	if p, err := exec.LookPath("zlint"); err == nil {
		return p
	}
	return filepath.Join(build.Default.GOPATH, "bin", "zlint")
}()

// Sources are the lint sources that apply to a private CA: the RFCs and the
// community lints. The CA/Browser Forum, browser root programs and ETSI
// sources govern the public web PKI (they forbid .internal names, private IPs
// and URI SANs, and demand policies, AIA and CRL URLs), which a Dask cluster
// CA is not part of.
const Sources = "RFC5280,RFC5480,RFC5891,RFC3279,RFC8813,Community"

// Require fails the test when zlint is not installed, naming the fix. Under
// -short it skips the test (testtier.Full).
func Require(t testing.TB) {
	t.Helper()
	testtier.Full(t, "zlint")
	if _, err := os.Stat(Bin); err != nil {
		t.Fatalf("zlint is not installed at %s (%v); run: go install github.com/zmap/zlint/v3/cmd/zlint@v3.7.3", Bin, err)
	}
}

// Problems returns the warn, error and fatal results of zlint for the first
// certificate in the PEM file, as "lint=result details".
func Problems(t testing.TB, pemFile string) []string {
	t.Helper()
	Require(t)
	out, err := exec.Command(Bin, "-includeSources", Sources, pemFile).Output()
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
