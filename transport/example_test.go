package transport_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// A worker's Security, loaded from the Dask configuration file the worker
// runs with. The certificate files here come from a throw-away test CA;
// in a cluster they are the ones `daskca export` writes.
func ExampleNewSecurity() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	cert, key, caFile := writeExampleCerts(exampleCA(), dir, identity.Worker, "w1")

	cfg, err := daskconfig.ParseYAML([]byte(fmt.Sprintf(`
distributed:
  comm:
    require-encryption: true
    tls:
      ca-file: %s
      worker:
        cert: %s
        key: %s
`, caFile, cert, key)))
	if err != nil {
		log.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, identity.Worker, transport.SecurityOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer sec.Close()
	id, err := identity.FromCertificate(sec.Certificate())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sec.Role(), id)
	// A tcp:// address is refused, as Dask refuses it.
	a, _ := cfg.ParseAddr("tcp://10.0.0.5:8786")
	fmt.Println(errors.Is(sec.CheckScheme(a), daskconfig.ErrEncryptionRequired))
	// Output:
	// worker spiffe://example.org/dask/worker/w1
	// true
}

// The same from DASK_* environment variables, as a client started with
// `eval "$(daskca config ana --format env)"` sees them.
func ExampleNewSecurity_environment() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	cert, key, caFile := writeExampleCerts(exampleCA(), dir, identity.Client, "ana")

	cfg, err := daskconfig.LoadConfig(daskconfig.LoadOptions{
		Dirs: []string{}, // no files; nil searches Dask's directories
		Environ: []string{
			"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True",
			"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=" + caFile,
			"DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=" + cert,
			"DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=" + key,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, identity.Client, transport.SecurityOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer sec.Close()
	fmt.Println(sec.Role(), sec.Certificate().Subject.CommonName)
	// Output: client ana
}

// A Dask RPC server and a client talking over mutual TLS on loopback. Each
// side presents its certificate and checks the other's role: the server,
// a scheduler, accepts workers and clients; the client dials a scheduler
// only.
func ExampleServe() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	ca := exampleCA()
	scheduler := exampleSecurity(ca, dir, identity.Scheduler, "sched")
	defer scheduler.Close()
	client := exampleSecurity(ca, dir, identity.Client, "ana")
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	srv := &wire.Server{Handlers: map[string]wire.HandlerFunc{
		"ping": func(_ context.Context, c *wire.Comm, _ map[string]any) (any, error) {
			return "pong to " + transport.PeerOf(c).ID.Name, nil
		},
	}}
	l, err := transport.Serve(ctx, "tls://127.0.0.1:0", scheduler.ServerConfig(), srv, transport.ListenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	c, err := transport.Connect(ctx, l.Addr(), client.ClientConfig(identity.Scheduler), wire.CommOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	reply, err := wire.Call(ctx, c, "ping", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply)
	fmt.Println("server:", transport.PeerOf(c).ID)
	// Output:
	// pong to ana
	// server: spiffe://example.org/dask/scheduler/sched
}

// Probe connects to a Dask endpoint as `daskca probe` does and says how far
// it got: here a scheduler of this package, probed first with a client
// certificate of its CA, then with a client of another CA, which does not
// trust the scheduler's certificate: the probe stops at the TLS stage.
func ExampleProbe() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	ca := exampleCA()
	scheduler := exampleSecurity(ca, dir, identity.Scheduler, "sched")
	defer scheduler.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := transport.ListenScheduler(ctx, scheduler, transport.SchedulerOptions{Listen: "tls://127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	client := exampleSecurity(ca, dir, identity.Client, "ana")
	defer client.Close()
	res, err := transport.Probe(ctx, s.Addr(), transport.ProbeOptions{Security: client})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.OK, res.Stage, res.PeerChain[0].Identity, res.Identity.Type, res.Identity.Workers)

	strangerDir := exampleDir()
	defer os.RemoveAll(strangerDir)
	stranger := exampleSecurity(exampleCA(), strangerDir, identity.Client, "eve")
	defer stranger.Close()
	res, err = transport.Probe(ctx, s.Addr(), transport.ProbeOptions{Security: stranger})
	var unknownCA x509.UnknownAuthorityError
	fmt.Println(res.OK, res.Stage, errors.As(err, &unknownCA))
	// Output:
	// true done spiffe://example.org/dask/scheduler/sched Scheduler 0
	// false tls true
}
