package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/wire"
)

// daskTLS returns a client or server tls.Config that verifies the peer's
// chain against ca but, like Dask, not its host name.
func daskTLS(t *testing.T, ca *testca.CA, role identity.Role, name string) *tls.Config {
	t.Helper()
	pool := ca.Pool()
	return &tls.Config{
		Certificates:       []tls.Certificate{ca.TLSCertificate(t, role, name)},
		ClientCAs:          pool,
		ClientAuth:         tls.RequireAndVerifyClientCert,
		InsecureSkipVerify: true, // the chain is checked below, host names never (as Dask)
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			return err
		},
		MinVersion: tls.VersionTLS12,
	}
}

// TestCommDaskSchedulerInterop calls a real Dask scheduler of each
// available generation from Go, over TLS and over plain TCP.
func TestCommDaskSchedulerInterop(t *testing.T) {
	ca := testca.New(t)
	for _, rt := range dasktest.Runtimes(t) {
		for _, scheme := range []string{"tls", "tcp"} {
			t.Run(rt.Name+"/"+scheme, func(t *testing.T) {
				dir := rt.TempDir(t)
				args := []string{"--host", "tcp://127.0.0.1"}
				var cfg *tls.Config
				if scheme == "tls" {
					cert, key, caFile := ca.WriteFiles(t, dir, identity.Scheduler, "sched")
					args = []string{"--tls-ca-file", rt.Path(t, caFile), "--tls-cert", rt.Path(t, cert), "--tls-key", rt.Path(t, key)}
					cfg = daskTLS(t, ca, identity.Client, "go")
				}
				sched := rt.StartScheduler(t, dasktest.SchedulerOptions{Args: args})
				checkDaskScheduler(t, sched.Addr, cfg)
			})
		}
	}
}

func checkDaskScheduler(t *testing.T, addr string, cfg *tls.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := transport.Connect(ctx, addr, cfg, wire.CommOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hs := c.PeerHandshake(); hs.PickleProtocol < 4 || len(hs.Python) != 3 || hs.Python[0] != 3 {
		t.Fatalf("scheduler handshake %+v", hs)
	}
	got, err := wire.Call(ctx, c, "identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := got.(map[string]any)
	if !ok || id["type"] != "Scheduler" || id["address"] != addr ||
		!strings.HasPrefix(id["id"].(string), "Scheduler-") {
		t.Fatalf("identity = %#v", got)
	}
	if _, ok := id["started"].(float64); !ok {
		t.Fatalf("started = %#v, want a float epoch", id["started"])
	}
	// An op Dask does not know: it replies None and keeps the comm.
	if got, err := wire.Call(ctx, c, "no-such-op", nil); err != nil || got != nil {
		t.Fatalf("unknown op: %#v, %v", got, err)
	}
	// A handler that raises: Dask sends the pickled exception out of band.
	_, err = wire.Call(ctx, c, "identity", map[string]any{"bogus": int64(1)})
	var rerr *wire.RemoteError
	if !errors.As(err, &rerr) || !strings.Contains(rerr.ExceptionText, "bogus") {
		t.Fatalf("error reply: %v", err)
	}
	if _, ok := rerr.Exception.(*wire.Serialized); !ok {
		t.Fatalf("exception %#v, want the serialized Python exception", rerr.Exception)
	}
	if err := wire.CloseRPC(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// rpcScript calls a Go server with Dask's own rpc and prints the replies.
const rpcScript = `
import asyncio, json, os
from distributed import Security
from distributed.core import rpc

async def main():
    kw = {}
    if os.environ["ADDR"].startswith("tls://"):
        sec = Security(tls_ca_file=os.environ["CA"], tls_client_cert=os.environ["CERT"],
                       tls_client_key=os.environ["KEY"], require_encryption=True)
        kw = sec.get_connection_args("client")
    async with rpc(os.environ["ADDR"], connection_args=kw) as r:
        out = {"identity": await r.identity(), "echo": await r.echo(x=[1, "a"], b=b"\x00\xff")}
        out["echo"]["b"] = out["echo"]["b"].hex()
        out["unknown"] = await r.no_such_op()
        try:
            await r.fail()
        except Exception as e:
            out["fail"] = [type(e).__name__, str(e)]
    print(json.dumps(out))

asyncio.run(main())
`

// TestCommDaskClientInterop serves Go handlers to Dask's own rpc client.
func TestCommDaskClientInterop(t *testing.T) {
	ca := testca.New(t)
	srv := &wire.Server{Handlers: map[string]wire.HandlerFunc{
		"identity": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return map[string]any{"type": "GoTest", "id": "GoTest-1"}, nil
		},
		"echo": func(_ context.Context, _ *wire.Comm, args map[string]any) (any, error) { return args, nil },
		"fail": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return nil, errors.New("go handler failed")
		},
	}}
	for _, rt := range dasktest.Runtimes(t) {
		for _, scheme := range []string{"tls", "tcp"} {
			t.Run(rt.Name+"/"+scheme, func(t *testing.T) {
				dir := rt.TempDir(t)
				var cfg *tls.Config
				env := []string{}
				if scheme == "tls" {
					cert, key, caFile := ca.WriteFiles(t, dir, identity.Client, "py")
					env = append(env, "CA="+rt.Path(t, caFile), "CERT="+rt.Path(t, cert), "KEY="+rt.Path(t, key))
					cfg = daskTLS(t, ca, identity.Scheduler, "go")
				}
				l, err := transport.Serve(context.Background(), scheme+"://127.0.0.1:0", cfg, srv, transport.ListenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				out, err := rt.RunPython(t, rpcScript, append(env, "ADDR="+l.Addr()), 60*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var got struct {
					Identity map[string]any `json:"identity"`
					Echo     map[string]any `json:"echo"`
					Unknown  any            `json:"unknown"`
					Fail     []string       `json:"fail"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("%v in %q", err, out)
				}
				if got.Identity["type"] != "GoTest" || got.Echo["b"] != "00ff" || got.Unknown != nil {
					t.Fatalf("replies %+v", got)
				}
				if len(got.Fail) != 2 || got.Fail[0] != "Exception" || got.Fail[1] != "go handler failed" {
					t.Fatalf("error as Python saw it: %q", got.Fail)
				}
			})
		}
	}
}

// recorder keeps a copy of every byte read through it.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

// TestCommDaskIdentityRequestBytes records the bytes Dask's rpc writes for
// identity() and compares them with the golden request: both generations
// send exactly the bytes in wire/testdata/wire.
func TestCommDaskIdentityRequestBytes(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("wire", "testdata", "wire", "identity-request-2022.12.hex"))
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, string(golden))
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			recorded := make(chan []byte, 1)
			go func() {
				defer close(recorded)
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				hs, _ := wire.EncodeMsg(map[string]any{"compression": nil, "python": []any{3, 11, 2}, "pickle-protocol": 5})
				if _, err := wire.WriteFrames(conn, hs); err != nil {
					return
				}
				if _, err := wire.ReadFrames(conn, wire.Limits{}); err != nil { // the client's handshake
					return
				}
				rec := &recorder{r: conn}
				if _, err := wire.ReadFrames(rec, wire.Limits{}); err != nil {
					return
				}
				recorded <- rec.buf.Bytes()
				reply, _ := wire.EncodeMsg(map[string]any{"type": "Raw"})
				_, _ = wire.WriteFrames(conn, reply)
			}()
			script := "import asyncio, os\nfrom distributed.core import rpc\n" +
				"async def main():\n    async with rpc(os.environ['ADDR']) as r:\n        print(await r.identity())\n" +
				"asyncio.run(main())\n"
			if _, err := rt.RunPython(t, script, []string{"ADDR=tcp://" + ln.Addr().String()}, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := <-recorded; !bytes.Equal(got, want) {
				t.Fatalf("Dask %s wrote\n%x\nwant\n%x", rt.Version, got, want)
			}
		})
	}
}

// hexBytes decodes a wire/testdata/wire hex file ('#' starts a comment).
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	var digits strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
