package enrol

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/store"
)

// Defaults of Config's zero fields.
const (
	DefaultFailureBurst = 10              // failed attempts a client address may make at once
	DefaultFailureEvery = 6 * time.Second // one more failed attempt allowed per interval
	DefaultMaxBatch     = 256             // requests recorded per inventory transaction at most
	// GCPercent is the garbage collector's target daskca serve runs with:
	// an enrolment allocates about 250 KiB that live for one request and
	// the live heap stays small, so a larger target trades a few MiB of
	// memory for about a fifth of the CPU an enrolment costs.
	GCPercent = 400
	// DefaultCommitDelay bounds how long a group commit waits for requests
	// already on their way (see Config.CommitDelay).
	DefaultCommitDelay = 10 * time.Millisecond
)

// Timeouts of the HTTP server: a client gets a few seconds for its headers
// and its small body, and idle keep-alive connections are closed soon, so
// slow or idle clients cannot hold many goroutines and descriptors.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 8 << 10
)

// Config configures a Server. Issuer is required, and the CA it signs
// with, loaded with its keys: LoadCA, or else Issuer.CA (not both). So is
// an inventory: OpenStore, or else Issuer.Store open for writing. Other
// zero values take defaults.
type Config struct {
	Issuer *issue.Issuer
	// LoadCA, if set, loads the CA from the home. New calls it after it
	// has read the CA rotation state the server guards on, so that a
	// rotation step committed while the CA loads (daskca ca rotate beside
	// a starting server) changes that state under the server and stops it
	// from signing: loaded the other way round, the server would hold the
	// CA of before the step and guard on the state of after it. Give
	// Issuer.CA instead only for a CA that no rotation changes while the
	// server starts (one held in memory). Either way New refuses a CA that
	// is not the one the rotation state puts in the home
	// (lifecycle.CheckSigning).
	LoadCA func() (*ca.Authority, error)
	// OpenStore, if set, opens the inventory when a request needs it; the
	// server closes it again after IdleClose without use, so other daskca
	// commands can write it while the server is idle. Nil: Issuer.Store,
	// held open throughout.
	OpenStore func() (*store.Store, error)
	IdleClose time.Duration // zero: DefaultIdleClose
	DNS       []string      // names in the server certificate
	IPs       []net.IP      // addresses in the server certificate
	// CRLFile is where the CA publishes its CRL (the home's crl.pem),
	// handed out with every answer. It is read again only when it changed
	// (daskca crl and revoke rename a new file into place), never through
	// a symbolic link. Empty, or no file there: answers carry no CRL.
	CRLFile      string
	FailureBurst int           // zero: DefaultFailureBurst
	FailureEvery time.Duration // zero: DefaultFailureEvery
	MaxBatch     int           // zero: DefaultMaxBatch
	// CommitDelay is how long the committer, holding decisions to record,
	// waits for requests that are still being decided so that they share
	// the transaction and its fsyncs: the longest a decision waits beyond
	// its own commit. It only waits while other requests are in progress,
	// so a lone request is recorded at once. Zero: DefaultCommitDelay;
	// negative: no waiting.
	CommitDelay time.Duration
	Log         *log.Logger // one line per decision; nil: none. Never holds a token.
}

// Server is an enrolment server. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	is     *issue.Issuer
	root   [32]byte
	bundle string // the CA's trust bundle, PEM, as answers carry it
	// caState is the CA rotation state in the inventory when the server
	// started, read before its CA was loaded (nil: none); every commit
	// checks it is unchanged (see store.Guard), and once it has changed
	// the server signs no more.
	caState []byte
	stale   atomic.Bool
	roots   *x509.CertPool
	cert    *serverCert
	crlFile *fsutil.Cached // nil: no CRL
	store   *lease
	limiter *failLimiter
	queue   chan *pending
	// deciding counts requests that may still queue a decision (see
	// flight); the committer waits for them up to CommitDelay.
	deciding atomic.Int64
	decided  chan struct{}             // signalled when deciding drops to zero
	conns    sync.Map                  // net.Conn -> *flight: connections whose flight may not have landed
	onWait   func()                    // tests: called when the committer starts waiting for requests being decided
	onCommit func(items, refusals int) // tests: called after each commit
	stopped  chan struct{}
	wg       sync.WaitGroup
	handler  http.Handler
}

// pending is one decision waiting for the group commit: an enrolment to
// record (result in done) or a refusal for the audit log.
type pending struct {
	item    *store.Enrolment
	refusal *store.Refusal
	done    chan error
}

// New makes a server and starts its committer; Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Issuer == nil || (cfg.Issuer.CA == nil) == (cfg.LoadCA == nil) || (cfg.Issuer.Store == nil && cfg.OpenStore == nil) {
		return nil, errors.New("enrolment server: an issuer, its CA (Issuer.CA or LoadCA, one of them) and an inventory are required")
	}
	if cfg.IdleClose <= 0 {
		cfg.IdleClose = DefaultIdleClose
	}
	if cfg.FailureBurst <= 0 {
		cfg.FailureBurst = DefaultFailureBurst
	}
	if cfg.FailureEvery <= 0 {
		cfg.FailureEvery = DefaultFailureEvery
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.CommitDelay == 0 {
		cfg.CommitDelay = DefaultCommitDelay
	}
	is := *cfg.Issuer // Store is set per use from the lease
	s := &Server{
		cfg:     cfg,
		is:      &is,
		store:   &lease{open: cfg.OpenStore, idle: cfg.IdleClose, s: cfg.Issuer.Store},
		roots:   x509.NewCertPool(),
		limiter: newFailLimiter(cfg.FailureBurst, cfg.FailureEvery),
		queue:   make(chan *pending, 4*cfg.MaxBatch),
		decided: make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	if cfg.CRLFile != "" {
		s.crlFile = fsutil.NewCached(cfg.CRLFile)
	}
	// The state first, then the CA (see Config.LoadCA).
	if err := s.loadCAState(); err != nil {
		s.store.close()
		return nil, err
	}
	if cfg.LoadCA != nil {
		a, err := cfg.LoadCA()
		if err == nil && (a == nil || !a.CanSign()) {
			err = errors.New("enrolment server: the CA is loaded without its keys")
		}
		if err != nil {
			s.store.close()
			return nil, err
		}
		is.CA = a
	}
	if err := lifecycle.CheckSigning(s.caState, is.CA); err != nil {
		s.store.close()
		return nil, err
	}
	s.root = sha256.Sum256(is.CA.Root.Raw)
	s.bundle = string(is.CA.BundlePEM())
	for _, r := range is.CA.Roots() {
		s.roots.AddCert(r)
	}
	s.cert = &serverCert{ca: is.CA, dns: cfg.DNS, ips: cfg.IPs, now: s.now}
	if _, err := s.cert.get(nil); err != nil {
		s.store.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEnrol, s.handleEnrol)
	mux.HandleFunc("POST "+PathRenew, s.handleRenew)
	s.handler = mux
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

func (s *Server) now() time.Time {
	if s.is.Now != nil {
		return s.is.Now()
	}
	return time.Now()
}

// RootFingerprint is the SHA-256 of the CA root that tokens carry.
func (s *Server) RootFingerprint() [32]byte { return s.root }

// Handler is the HTTP API. It expects requests that came over TLS from
// TLSConfig (renewal reads the verified client certificate).
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the server's TLS configuration: TLS 1.2 or later, its own
// certificate from the CA, and client certificates of the CA verified when
// offered (renewal needs one, enrolment none).
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.cert.get,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      s.roots,
		// A host enrols once and renews hours apart: nothing would resume a
		// session, so issuing tickets is work for nothing.
		SessionTicketsDisabled: true,
		// Every connection carries one answer of a few KiB: sent in one
		// record (one write) rather than in the small records that
		// dynamic sizing starts a connection with.
		DynamicRecordSizingDisabled: true,
	}
}

// Serve answers requests on ln over TLS until ctx is done, then stops
// accepting, lets requests in flight finish (up to 10 s) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.landsConnection(s.handler),
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0), // handshake noise from scanners
		ConnContext:       s.connTakesOff,
		ConnState:         s.connState,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if rerr := <-errc; !errors.Is(rerr, http.ErrServerClosed) && err == nil {
		err = rerr
	}
	return err
}

// Close stops the committer after the requests queued so far are recorded.
// Call it after Serve returned.
func (s *Server) Close() error {
	close(s.queue)
	s.wg.Wait()
	s.store.close()
	return nil
}

// RotationStateKey is the inventory meta key under which daskca ca rotate
// records its state (lifecycle.RotationKey). A change of it means another
// CA signs, or the trust bundle changed: a running server no longer
// matches.
const RotationStateKey = lifecycle.RotationKey

// loadCAState reads the CA rotation state the server starts with.
func (s *Server) loadCAState() error {
	st, err := s.store.acquire()
	if err != nil {
		return err
	}
	defer s.store.release()
	v, err := st.Meta(RotationStateKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.caState = nil
	case err != nil:
		return fmt.Errorf("reading the CA rotation state: %w", err)
	default:
		s.caState = v
	}
	return nil
}

// caChanged is the refusal once the CA changed under the server.
func caChanged() *RefusedError {
	return refusal(http.StatusServiceUnavailable, CodeCAChanged,
		"the CA changed (daskca ca rotate) since this enrolment server started; it signs nothing more until it is restarted")
}

// token reads a token from the inventory.
func (s *Server) token(id string) (store.TokenRecord, error) {
	st, err := s.store.acquire()
	if err != nil {
		return store.TokenRecord{}, err
	}
	defer s.store.release()
	return st.Token(id)
}

// commitLoop records queued decisions in batches: whatever queued while the
// previous transaction was being written goes into the next one, and while
// other requests are still being decided it waits for them up to
// CommitDelay, so the cost of a commit (two fsyncs, during which the
// committer also holds one of the Go scheduler's processors) is shared by
// all concurrent requests.
func (s *Server) commitLoop() {
	defer s.wg.Done()
	var timer *time.Timer
	for first := range s.queue {
		batch := []*pending{first}
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case p, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		if s.cfg.CommitDelay > 0 && len(batch) < s.cfg.MaxBatch && s.deciding.Load() > 0 {
			if timer == nil {
				timer = time.NewTimer(s.cfg.CommitDelay)
			} else {
				timer.Reset(s.cfg.CommitDelay)
			}
			if s.onWait != nil {
				s.onWait()
			}
		wait:
			for len(batch) < s.cfg.MaxBatch && s.deciding.Load() > 0 {
				select {
				case p, ok := <-s.queue:
					if !ok {
						break wait
					}
					batch = append(batch, p)
				case <-s.decided:
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		s.commit(batch)
	}
}

func (s *Server) commit(batch []*pending) {
	var items []store.Enrolment
	var refusals []store.Refusal
	var waiting []*pending
	for _, p := range batch {
		if p.item != nil {
			items = append(items, *p.item)
			waiting = append(waiting, p)
		} else {
			refusals = append(refusals, *p.refusal)
		}
	}
	var errs []error
	st, err := s.store.acquire()
	if err == nil {
		errs, err = st.EnrolGuarded(&store.Guard{Key: RotationStateKey, Want: s.caState}, items, refusals, s.is.Actor)
		s.store.release()
	}
	if err != nil {
		s.logf("recording %d enrolments and %d refusals: %v", len(items), len(refusals), err)
	}
	for _, e := range errs {
		if errors.Is(e, store.ErrGuard) {
			if !s.stale.Swap(true) {
				s.logf("the CA changed (daskca ca rotate) since start: refusing every request; restart daskca serve to sign with the current CA")
			}
			break
		}
	}
	if s.onCommit != nil {
		s.onCommit(len(items), len(refusals))
	}
	for i, p := range waiting {
		switch {
		case err != nil:
			p.done <- err
		default:
			p.done <- errs[i]
		}
	}
	for _, p := range batch {
		if p.item == nil && p.done != nil {
			p.done <- err
		}
	}
}

// flight is a request that may still queue a decision for the committer:
// it counts in Server.deciding from takeOff until it has queued one or
// ends (land). A request is handled by one goroutine. Landing after
// queueing lets the committer, which waits while anything is deciding,
// take the decision into the batch it is filling.
type flight struct {
	s      *Server
	landed atomic.Bool
}

func (s *Server) takeOff() *flight {
	s.deciding.Add(1)
	return &flight{s: s}
}

func (f *flight) land() {
	if f != nil && f.landed.CompareAndSwap(false, true) {
		if f.s.deciding.Add(-1) == 0 {
			select {
			case f.s.decided <- struct{}{}:
			default:
			}
		}
	}
}

// A connection is a request on its way from the moment it is accepted: its
// flight starts then (connTakesOff), so that under load the committer,
// holding decisions, waits for the handshakes in progress and records
// the decisions of a whole CommitDelay in one transaction instead of one
// or two each. The connection's first request lands it by queueing its
// decision (flightOf); a connection that closes without one lands it then
// (connState). An idle or slow connection thus delays a commit by at most
// CommitDelay.
type connFlightKey struct{}

func (s *Server) connTakesOff(ctx context.Context, c net.Conn) context.Context {
	fl := s.takeOff()
	s.conns.Store(c, fl)
	return context.WithValue(ctx, connFlightKey{}, fl)
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		if fl, ok := s.conns.LoadAndDelete(c); ok {
			fl.(*flight).land()
		}
	}
}

// landsConnection lands the flight of a request's connection once h has
// answered it, whatever it was (a rate-limited request, another path).
func (s *Server) landsConnection(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if fl, ok := r.Context().Value(connFlightKey{}).(*flight); ok {
			fl.land()
		}
	})
}

// flightOf returns the flight of r's connection if it has not landed
// yet (its first request), else a new one.
func (s *Server) flightOf(r *http.Request) *flight {
	if fl, ok := r.Context().Value(connFlightKey{}).(*flight); ok && !fl.landed.Load() {
		return fl
	}
	return s.takeOff()
}

// record queues an enrolment for the next group commit and waits for it.
func (s *Server) record(fl *flight, e store.Enrolment) error {
	p := &pending{item: &e, done: make(chan error, 1)}
	s.queue <- p
	fl.land()
	return <-p.done
}

// refuse queues a refusal for the audit log and waits until it is
// recorded, so that every answered refusal is in the log.
func (s *Server) refuse(fl *flight, f store.Refusal) {
	p := &pending{refusal: &f, done: make(chan error, 1)}
	s.queue <- p
	fl.land()
	if err := <-p.done; err != nil {
		s.logf("recording a refusal in the audit log: %v", err)
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log.Printf(format, args...)
	}
}

// crl reads the CRL to hand out, PEM: "" when none is published. A CRL
// that is there but cannot be read (a symbolic link, not a regular file,
// unreadable) refuses the request, said in the log: a host must not be
// left with a CRL older than the CA's while being told it has the
// current one. Requests call it before anything is signed or a token's
// use is spent, and answer with what it read.
func (s *Server) crl() (string, *RefusedError) {
	if s.crlFile == nil {
		return "", nil
	}
	b, err := s.crlFile.Read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		s.logf("refusing requests until the CRL can be read: %v", err)
		return "", refusal(http.StatusServiceUnavailable, CodeCRL, "the enrolment server cannot read the CA's CRL; the CA operator must republish it (daskca crl)")
	}
	return string(b), nil
}

// response builds the answer for a recorded certificate with crl, the CRL
// read when the request was decided.
func (s *Server) response(rec store.Record, chain []byte, crl string) Response {
	return Response{
		Role: rec.Role, Name: rec.Name, Serial: rec.Serial, NotAfter: rec.NotAfter,
		Certificate: string(chain), CA: s.bundle, CRL: crl,
	}
}

// refusal builds an answer with an error.
func refusal(status int, code, format string, args ...any) *RefusedError {
	return &RefusedError{Status: status, Body: ErrorBody{Code: code, Error: fmt.Sprintf(format, args...)}}
}
