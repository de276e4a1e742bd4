package dasktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// RunPython runs script with the host's Dask Python; see Runtime.RunPython.
func RunPython(t testing.TB, script string, env []string, timeout time.Duration) (stdout string, err error) {
	t.Helper()
	return Host(t).RunPython(t, script, env, timeout)
}

// RunPython runs script (fed on stdin to `python3 -`) in rt, in a fresh
// directory, with the base environment plus env, and returns what it wrote
// to stdout. Pass values such as addresses and file paths (through
// Runtime.Path) in env and read them with os.environ. When the script fails
// the error is a *PythonError carrying its stderr; when it runs past timeout
// its process group is killed and the error wraps ErrTimeout.
func (rt Runtime) RunPython(t testing.TB, script string, env []string, timeout time.Duration) (stdout string, err error) {
	t.Helper()
	home := rt.TempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := rt.command(ctx, rt.Path(t, home), env, "-")
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(script)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err == nil {
		return out.String(), nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("after %v: %w", timeout, ErrTimeout)
	}
	return out.String(), &PythonError{Err: err, Stderr: errOut.String()}
}

// RPCIdentityScript is a script for RunPython: Dask's own rpc asks the
// scheduler at $ADDR for its identity over TLS, with the client
// certificate $CERT and key $KEY and the CA bundle $CA, and prints its
// type, id, address and sorted worker addresses as one JSON object.
const RPCIdentityScript = `
import asyncio, json, os
from distributed.core import rpc
from distributed.security import Security
sec = Security(tls_ca_file=os.environ["CA"], tls_client_cert=os.environ["CERT"],
               tls_client_key=os.environ["KEY"], require_encryption=True)
async def main():
    async with rpc(os.environ["ADDR"], timeout=10, connection_args=sec.get_connection_args("client")) as r:
        ident = await r.identity()
    print(json.dumps({"type": ident["type"], "id": ident["id"], "address": ident["address"],
                      "workers": sorted(ident["workers"])}))
asyncio.run(main())
`
