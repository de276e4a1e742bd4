package transport_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// exampleT lets the examples use internal/testkit/testca, which reports failures
// through a testing.TB, without a test: the methods testca calls are
// defined here and a failure panics. (Any other method would panic on the
// nil testing.TB.)
type exampleT struct{ testing.TB }

func (exampleT) Helper()                        {}
func (exampleT) Fatal(args ...any)              { panic(fmt.Sprint(args...)) }
func (exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (exampleT) Errorf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// exampleCA makes a throw-away CA with the trust domain example.org. Its
// certificates look like the ones daskca issues.
func exampleCA() *testca.CA {
	return testca.New(exampleT{}, testca.WithTrustDomain("example.org"))
}

// writeExampleCerts writes into dir a certificate and key for role and
// name, issued by ca, next to the CA bundle ca.pem, as `daskca export`
// would, and returns their paths.
func writeExampleCerts(ca *testca.CA, dir string, role identity.Role, name string) (cert, key, caFile string) {
	return ca.WriteFiles(exampleT{}, dir, role, name)
}

// exampleSecurity issues a certificate for role and name into dir and
// returns the Security of an endpoint configured with it, as
// ExampleNewSecurity shows step by step.
func exampleSecurity(ca *testca.CA, dir string, role identity.Role, name string) *transport.Security {
	cert, key, caFile := writeExampleCerts(ca, dir, role, name)
	var cfg daskconfig.Config
	cfg.TLS.CAFile = caFile
	cfg.TLS.SetFiles(role, daskconfig.RoleFiles{Cert: cert, Key: key})
	sec, err := transport.NewSecurity(cfg, role, transport.SecurityOptions{})
	if err != nil {
		panic(err)
	}
	return sec
}

// exampleDir makes a directory for an example's files; the caller removes it.
func exampleDir() string {
	dir, err := os.MkdirTemp("", "daskca-example-")
	if err != nil {
		panic(err)
	}
	return dir
}
