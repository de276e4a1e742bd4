package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

func TestRPCRoundTrip(t *testing.T) {
	for _, scheme := range []string{daskconfig.SchemeTCP, daskconfig.SchemeTLS} {
		t.Run(scheme, func(t *testing.T) {
			var srvTLS, cliTLS *tls.Config
			if scheme == daskconfig.SchemeTLS {
				pki := mustTestPKI(t)
				srvTLS, cliTLS = pki.server, pki.client
			}
			l := mustServe(t, scheme, srvTLS, echoServer(), ListenOptions{})
			c := mustConnect(t, l.Addr(), cliTLS)
			ctx := context.Background()

			got, err := wire.Call(ctx, c, "identity", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, map[string]any{"type": "Test", "id": "Test-1"}) {
				t.Fatalf("identity = %#v", got)
			}
			args := map[string]any{"a": int64(1), "b": []byte("x"), "op": "ignored"}
			got, err = wire.Call(ctx, c, "echo", args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, map[string]any{"a": int64(1), "b": []byte("x")}) {
				t.Fatalf("echo = %#v", got)
			}
			if args["op"] != "ignored" {
				t.Fatal("Call modified its kwargs")
			}
		})
	}
}

func TestRPCUnknownOpRepliesNone(t *testing.T) {
	l := mustServe(t, daskconfig.SchemeTCP, nil, echoServer(), ListenOptions{})
	c := mustConnect(t, l.Addr(), nil)
	got, err := wire.Call(context.Background(), c, "no-such-op", map[string]any{"x": 1})
	if err != nil || got != nil {
		t.Fatalf("got %#v, %v; want nil, nil", got, err)
	}
	// The comm stays usable afterwards, as in Dask.
	if _, err := wire.Call(context.Background(), c, "identity", nil); err != nil {
		t.Fatal(err)
	}
}

func TestRPCErrorReply(t *testing.T) {
	var reported []string
	var mu sync.Mutex
	srv := echoServer()
	srv.OnError = func(op string, err error) {
		mu.Lock()
		reported = append(reported, op)
		mu.Unlock()
	}
	l := mustServe(t, daskconfig.SchemeTCP, nil, srv, ListenOptions{})
	c := mustConnect(t, l.Addr(), nil)
	_, err := wire.Call(context.Background(), c, "fail", nil)
	var rerr *wire.RemoteError
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %v, want *RemoteError", err)
	}
	if rerr.Op != "fail" || rerr.ExceptionText != string(errTest) || rerr.Exception != string(errTest) {
		t.Fatalf("remote error %+v", rerr)
	}
	if _, err := wire.Call(context.Background(), c, "identity", nil); err != nil {
		t.Fatalf("comm unusable after an error reply: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(reported, []string{"fail"}) {
		t.Fatalf("reported %v", reported)
	}
}

func TestRPCClose(t *testing.T) {
	tests := []struct {
		name      string
		send      map[string]any
		wantReply any
	}{
		{"close op without reply", map[string]any{"op": "close", "reply": false}, nil},
		{"close op with reply", map[string]any{"op": "close", "reply": true}, "OK"},
		{"close after reply", map[string]any{"op": "identity", "reply": true, "close": true},
			map[string]any{"type": "Test", "id": "Test-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustServe(t, daskconfig.SchemeTCP, nil, echoServer(), ListenOptions{})
			c := mustConnect(t, l.Addr(), nil)
			ctx := context.Background()
			if err := c.Write(ctx, tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.wantReply != nil {
				m, err := c.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(m.Value, tt.wantReply) {
					t.Fatalf("reply %#v", m.Value)
				}
			}
			// The server ends the comm: the next read sees it closed.
			if _, err := c.Read(ctx); !errors.Is(err, wire.ErrClosed) {
				t.Fatalf("after close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestRPCCloseRPC(t *testing.T) {
	ended := make(chan struct{})
	srv := echoServer()
	l, err := Listen(context.Background(), "tcp://127.0.0.1:0", nil, func(c *wire.Comm) {
		srv.ServeComm(context.Background(), c)
		close(ended) // the dispatcher returned on its own after the close op
	}, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := mustConnect(t, l.Addr(), nil)
	if err := wire.CloseRPC(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	<-ended
	if !c.Closed() {
		t.Fatal("CloseRPC left the comm open")
	}
}

func TestRPCBadRequestEndsComm(t *testing.T) {
	var reported error
	done := make(chan struct{})
	srv := &wire.Server{OnError: func(_ string, err error) { reported = err; close(done) }}
	l := mustServe(t, daskconfig.SchemeTCP, nil, srv, ListenOptions{})
	c := mustConnect(t, l.Addr(), nil)
	if err := c.Write(context.Background(), []any{"not", "a", "map"}); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(reported, wire.ErrBadRequest) {
		t.Fatalf("reported %v", reported)
	}
	if _, err := c.Read(context.Background()); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("after a bad request: %v, want ErrClosed", err)
	}
}

// TestRPCStreamHandler hands the comm to a long-lived handler, the way a
// scheduler keeps a worker's "register-worker" comm for its batched stream,
// then lets the dispatcher resume once the stream says it is done.
func TestRPCStreamHandler(t *testing.T) {
	var (
		mu  sync.Mutex
		got []any
	)
	srv := echoServer()
	srv.Handlers["register-worker"] = func(ctx context.Context, c *wire.Comm, args map[string]any) (any, error) {
		if err := c.Write(ctx, map[string]any{"status": "OK"}); err != nil {
			return nil, err
		}
		for {
			m, err := c.Read(ctx)
			if err != nil {
				return nil, err
			}
			batch, _ := m.Value.([]any)
			for _, e := range batch {
				if d, _ := e.(map[string]any); d["op"] == "stream-end" {
					return wire.NoReply, nil
				}
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
		}
	}
	l := mustServe(t, daskconfig.SchemeTCP, nil, srv, ListenOptions{})
	c := mustConnect(t, l.Addr(), nil)
	ctx := context.Background()
	reply, err := wire.Call(ctx, c, "register-worker", map[string]any{"address": "tcp://w:1"})
	if err != nil || !reflect.DeepEqual(reply, map[string]any{"status": "OK"}) {
		t.Fatalf("register-worker: %#v, %v", reply, err)
	}
	for _, batch := range []any{
		[]any{map[string]any{"op": "heartbeat", "n": int64(1)}},
		[]any{map[string]any{"op": "heartbeat", "n": int64(2)}, map[string]any{"op": "stream-end"}},
	} {
		if err := c.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Back in the dispatcher: ordinary calls work again.
	if _, err := wire.Call(ctx, c, "identity", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("stream handler saw %#v", got)
	}
}

func TestRPCSendNoReply(t *testing.T) {
	seen := make(chan map[string]any, 1)
	srv := &wire.Server{Handlers: map[string]wire.HandlerFunc{
		"note": func(_ context.Context, _ *wire.Comm, args map[string]any) (any, error) {
			seen <- args
			return "ignored", nil
		},
		"identity": echoServer().Handlers["identity"],
	}}
	l := mustServe(t, daskconfig.SchemeTCP, nil, srv, ListenOptions{})
	c := mustConnect(t, l.Addr(), nil)
	if err := wire.Send(context.Background(), c, "note", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if args := <-seen; !reflect.DeepEqual(args, map[string]any{"k": "v"}) {
		t.Fatalf("handler args %#v", args)
	}
	// The next reply on the comm is identity's, so "note" sent nothing.
	got, err := wire.Call(context.Background(), c, "identity", nil)
	if err != nil || got.(map[string]any)["type"] != "Test" {
		t.Fatalf("identity after Send: %#v, %v", got, err)
	}
}
