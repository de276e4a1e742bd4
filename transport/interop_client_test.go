package transport_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
)

// clientScript builds a real distributed.Client against $ADDR with the
// client certificate and a connect timeout of 600 s, far beyond the
// script's own bound (pythonTimeout): a Client left waiting fails the test
// by that bound instead of passing late. It prints what Client() raised.
const clientScript = `
import json, os
from distributed import Client
from distributed.security import Security
sec = Security(tls_ca_file=os.environ["CA"], tls_client_cert=os.environ["CERT"],
               tls_client_key=os.environ["KEY"], require_encryption=True)
try:
    c = Client(os.environ["ADDR"], security=sec, timeout=600)
except Exception as e:
    print(json.dumps({"type": type(e).__name__, "message": str(e)}))
else:
    c.close()
    print(json.dumps({"type": "", "message": "connected"}))
`

// TestInteropDaskClientRefusedAtOnce: a real Dask Client reaching the Go
// scheduler, which runs no tasks, is refused with daskca's explanation as
// soon as it registers (Dask raises it as the ImportError it uses to
// refuse a client), never left to time out.
func TestInteropDaskClientRefusedAtOnce(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			p := mustPKI(t, rt, testca.New(t))
			sched, log := startScheduler(t, p)
			env := append(p.pyEnv(t, identity.Client, p.caPEM), "ADDR="+sched.Addr())
			out, err := rt.RunPython(t, clientScript, env, pythonTimeout)
			if err != nil {
				t.Fatalf("the client script failed: %v\n%s", err, out)
			}
			var res struct{ Type, Message string }
			if err := json.Unmarshal([]byte(strings.TrimSpace(lastLine(out))), &res); err != nil {
				t.Fatalf("client script printed %q: %v", out, err)
			}
			if res.Type != "ImportError" || res.Message != transport.ErrNoTasks.Error() {
				t.Errorf("Client() raised %s(%q), want ImportError(%q)", res.Type, res.Message, transport.ErrNoTasks)
			}
			waitLog(t, log, "client refused: this scheduler runs no tasks", "role=client")
		})
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
