// Package testtier splits daskca's tests into two tiers:
//
//	go test -short ./...   the quick tier: Go alone, pure tests in parallel,
//	                       under a minute on a two-core machine
//	go test ./...          the full suite (what scripts/test and CI run):
//	                       also real Dask, OpenSSL, zlint, and the crash and
//	                       concurrency tests that run daskca processes
//
// A test, or a helper, that needs a program beyond Go or runs long calls Full
// before anything else; internal/testkit/dasktest (real Dask), internal/testkit/x509lint
// (zlint) and OpenSSL here already do, so a test built on them is in the full
// tier without saying so. Under -short Full skips the test and names what it
// needs. Without -short it does nothing: whatever the test needs must then be
// there, and a missing Dask, OpenSSL or zlint fails the test, never skips it.
//
// Homes that tests make to sign in, not to test the CA key, get a cheap
// key derivation in the quick tier (QuickKeys).
//
// scripts/test sets DASKCA_TEST_FULL=1; with it set, a test that reaches
// Full under -short fails instead of skipping, so the full suite cannot be
// cut short by a stray -short.
package testtier

import (
	"os"
	"os/exec"
	"testing"

	"github.com/daskca/daskca/internal/quickkdf"
)

// EnvFull names the environment variable that, when non-empty, makes -short
// a failure of every full-tier test.
const EnvFull = "DASKCA_TEST_FULL"

// Full skips t under -short, saying what it needs ("real Dask", "openssl",
// "kills daskca processes for a minute"). Without -short it returns.
func Full(t testing.TB, needs string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv(EnvFull) != "" {
		t.Fatalf("testtier: %s is set, so this is the full suite, but -short was given (this test needs %s)", EnvFull, needs)
	}
	t.Skipf("skipped by -short (the quick tier): needs %s; go test without -short runs it", needs)
}

// OpenSSL returns the path of openssl for a full-tier test, failing the test
// with the install command when there is none; under -short it skips the
// test (see Full).
func OpenSSL(t testing.TB) string {
	t.Helper()
	Full(t, "openssl")
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed: apt-get install -y openssl (or run scripts/install-test-deps): %v", err)
	}
	return p
}

// QuickKeys makes the quick tier cheap for a test that creates a daskca
// home in dir (or below it) and signs there, but is not about the CA
// password, the key derivation or keys at rest: under -short, CA keys that
// this test process saves under dir are encrypted with quickkdf.Iterations
// PBKDF2 iterations instead of 600,000, so neither init nor each signing
// command spends a tenth of a second of CPU deriving the key. Decryption
// reads the count from the key file, so daskca processes the test starts
// open such keys quickly too. Without -short it does nothing: the full
// suite uses the real key derivation everywhere.
func QuickKeys(t testing.TB, dir string) {
	t.Helper()
	if testing.Short() {
		t.Cleanup(quickkdf.Mark(dir))
	}
}
