package transport

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// WorkerInfo is what the scheduler knows of a registered worker.
type WorkerInfo struct {
	// Address is where the worker listens, as it registered it.
	Address string
	// Name is the worker's Dask name (its address when it gave none).
	Name string
	// NThreads and MemoryLimit are as the worker announced them.
	NThreads    int
	MemoryLimit int64
	// Peer is the certificate the worker registered with.
	Peer Peer
	// Registered and LastSeen are the times of registration and of the last
	// heartbeat, on the scheduler's clock.
	Registered time.Time
	LastSeen   time.Time
}

// workerEntry is a registered worker and its stream comm.
type workerEntry struct {
	info   WorkerInfo
	stream *wire.Comm
}

// identity is the worker's entry in the scheduler's identity reply, in the
// shape of Dask's WorkerState.identity().
func (w *workerEntry) identity() map[string]any {
	host := w.info.Address
	if a, err := daskconfig.ParseAddr(w.info.Address, daskconfig.SchemeTCP); err == nil {
		host = a.Host
	}
	return map[string]any{
		"type":         "Worker",
		"id":           w.info.Name,
		"name":         w.info.Name,
		"host":         host,
		"nthreads":     int64(w.info.NThreads),
		"memory_limit": w.info.MemoryLimit,
		"last_seen":    epoch(w.info.LastSeen),
		"services":     map[string]any{},
		"metrics":      map[string]any{},
		"resources":    map[string]any{},
		"status":       "running",
		"nanny":        nil,
		"certificate":  map[string]any{"role": string(w.info.Peer.ID.Role), "name": w.info.Peer.ID.Name, "serial": w.info.Peer.Serial},
	}
}

// Workers returns the registered workers sorted by address.
func (s *Scheduler) Workers() []WorkerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WorkerInfo, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, w.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// heartbeatInterval is what the scheduler tells workers, Dask's rule:
// frequent for small clusters, slower as the cluster grows.
func (s *Scheduler) heartbeatInterval(n int) time.Duration {
	if s.opts.HeartbeatInterval > 0 {
		return s.opts.HeartbeatInterval
	}
	switch {
	case n <= 10:
		return 500 * time.Millisecond
	case n < 50:
		return time.Second
	case n < 200:
		return 2 * time.Second
	}
	return time.Duration(float64(n)/200+1) * time.Second
}

// handleRegister is "register-worker": the worker sends it with reply
// False, reads the answer, and the comm becomes its stream, kept until
// either side closes it. The worker is forgotten when the stream ends.
func (s *Scheduler) handleRegister(ctx context.Context, c *wire.Comm, args map[string]any) (any, error) {
	peer := PeerOf(c)
	info, err := s.admit(peer, args)
	if err == nil {
		err = s.add(info, c)
	}
	if err != nil {
		s.refusedOps.warn("worker registration refused", append(peer.LogAttrs(), "err", err)...)
		_ = c.Write(ctx, map[string]any{"status": "error", "message": err.Error(), "time": epoch(s.now())})
		_ = c.Close()
		return wire.NoReply, nil
	}
	reply := map[string]any{
		"status": "OK", "time": epoch(s.now()), "worker-plugins": map[string]any{},
		"heartbeat-interval": s.heartbeatInterval(len(s.Workers())).Seconds(),
	}
	if err := c.Write(ctx, reply); err != nil {
		s.remove(info.Address, c, "registration reply failed: "+err.Error())
		return wire.NoReply, nil
	}
	s.log.Info("worker registered", append(peer.LogAttrs(), "address", info.Address, "worker_name", info.Name, "nthreads", info.NThreads)...)
	why := "stream closed"
	if err := s.readStream(ctx, c); errors.Is(err, wire.ErrFrameLimit) || errors.Is(err, wire.ErrMalformed) {
		why = "stream closed: " + err.Error()
	}
	_ = c.Close()
	s.remove(info.Address, c, why)
	return wire.NoReply, nil
}

// admit checks who registers and reads the registration.
func (s *Scheduler) admit(peer Peer, args map[string]any) (WorkerInfo, error) {
	if err := authorizeOp(s.sec, identity.Scheduler, OpRegisterWorker, peer); err != nil {
		return WorkerInfo{}, err
	}
	addr := asString(args["address"])
	if _, err := daskconfig.ParseAddr(addr, s.defaultScheme()); err != nil {
		return WorkerInfo{}, fmt.Errorf("registering worker: %w", err)
	}
	name := asString(args["name"])
	if name == "" {
		name = addr
	}
	nthreads, _ := asInt(args["nthreads"])
	memory, _ := asInt(args["memory_limit"])
	now := s.now()
	return WorkerInfo{Address: addr, Name: name, NThreads: int(nthreads), MemoryLimit: memory,
		Peer: peer, Registered: now, LastSeen: now}, nil
}

// add records a worker. Under the strict role policy a registration is
// tied to the certificate identity that made it:
//
//   - an address or a name registered by one identity cannot be taken by
//     another (refused, and the registered worker keeps its stream);
//   - one identity holds one registration: registering again (a worker
//     restarted on a new port, or under a new name) replaces the old one,
//     whose stream is closed.
//
// Under the "dask" policy, or on tcp:// where peers have no certificate,
// it follows Dask: a registration at a known address replaces it, and a
// name taken at another address is refused.
func (s *Scheduler) add(info WorkerInfo, stream *wire.Comm) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return fmt.Errorf("scheduler is closing")
	}
	bound := s.bindsIdentity(info.Peer)
	var replaced []*workerEntry
	for addr, w := range s.workers {
		same := bound && w.info.Peer.ID == info.Peer.ID
		switch {
		case bound && !same && addr == info.Address:
			s.mu.Unlock()
			return fmt.Errorf("%w: address %s is registered by %s (serial %s); %s cannot take it over",
				ErrPeerRefused, addr, w.info.Peer.ID, w.info.Peer.Serial, info.Peer.ID)
		case !same && w.info.Name == info.Name && addr != info.Address:
			s.mu.Unlock()
			if bound {
				return fmt.Errorf("%w: name taken, %s is registered by %s (serial %s) at %s",
					ErrPeerRefused, info.Name, w.info.Peer.ID, w.info.Peer.Serial, addr)
			}
			return fmt.Errorf("name taken, %s", info.Name)
		case same || addr == info.Address:
			replaced = append(replaced, w)
		}
	}
	for _, w := range replaced {
		delete(s.workers, w.info.Address)
	}
	s.workers[info.Address] = &workerEntry{info: info, stream: stream}
	s.mu.Unlock()
	for _, w := range replaced {
		_ = w.stream.Close()
		s.log.Info("worker replaced by a new registration", append(w.info.Peer.LogAttrs(), "address", w.info.Address,
			"worker_name", w.info.Name, "new_address", info.Address, "new_worker_name", info.Name)...)
	}
	return nil
}

// bindsIdentity reports whether registrations of peer are tied to its
// certificate identity: under the strict policy, for a peer with one.
func (s *Scheduler) bindsIdentity(peer Peer) bool {
	return s.sec != nil && s.sec.Config().Daskca.Policy() != daskconfig.PolicyDask && peer.Authenticated() && peer.ID.Role != ""
}

// readStream reads the worker's batched stream (lists of ops) until it
// ends, and returns why. Task-related ops mean nothing here;
// "close-stream" ends it.
func (s *Scheduler) readStream(ctx context.Context, c *wire.Comm) error {
	for {
		m, err := c.Read(ctx)
		if err != nil {
			return err
		}
		msgs, ok := m.Value.([]any)
		if !ok {
			msgs = []any{m.Value}
		}
		for _, msg := range msgs {
			if op := (wire.Msg{Value: msg}).Op(); op == "close-stream" || op == "close" {
				return nil
			}
		}
	}
}

// remove forgets the worker at addr if its stream is still stream (a newer
// registration may have replaced it), and closes the stream.
func (s *Scheduler) remove(addr string, stream *wire.Comm, why string) {
	s.mu.Lock()
	w, ok := s.workers[addr]
	if ok && w.stream == stream {
		delete(s.workers, addr)
	} else {
		ok = false
	}
	s.mu.Unlock()
	if ok {
		s.removed(w, why)
	}
}

// removed closes the stream of a worker just deleted from the table and
// logs why.
func (s *Scheduler) removed(w *workerEntry, why string) {
	_ = w.stream.Close()
	s.log.Info("worker removed", append(w.info.Peer.LogAttrs(), "address", w.info.Address, "worker_name", w.info.Name, "reason", why)...)
}

// checkSameWorker applies the policy table to a heartbeat or unregister
// for a registered worker: the peer's role, and for a rule marked
// SameWorker the identity that registered the worker.
func (s *Scheduler) checkSameWorker(peer Peer, w WorkerInfo, op Operation) error {
	if err := authorizeOp(s.sec, identity.Scheduler, op, peer); err != nil {
		return err
	}
	if s.sec == nil || s.sec.Config().Daskca.Policy() == daskconfig.PolicyDask || !peer.Authenticated() {
		return nil
	}
	if r, _ := rule(identity.Scheduler, op); r.SameWorker && peer.ID != w.Peer.ID {
		return fmt.Errorf("%w: %s for worker %s, registered by %s, from %s", ErrPeerRefused, op, w.Address, w.Peer.ID, peer.ID)
	}
	return nil
}

// lookup returns the entry of addr and whether it exists.
func (s *Scheduler) lookup(addr string) (WorkerInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workers[addr]
	if !ok {
		return WorkerInfo{}, false
	}
	return w.info, true
}

// onRegistered runs do, with s.mu held, on the worker registered at addr
// if peer may do op on it, and reports whether a worker is registered
// there. The check and do see the same registration: checked apart, a
// registration that ended and was replaced by another certificate's in
// between would receive an operation the policy allowed only on the old
// one.
func (s *Scheduler) onRegistered(peer Peer, addr string, op Operation, do func(*workerEntry)) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workers[addr]
	if !ok {
		return false, nil
	}
	if err := s.checkSameWorker(peer, w.info, op); err != nil {
		return true, err
	}
	do(w)
	return true, nil
}

// handleHeartbeat is "heartbeat_worker": it answers {"status": "missing"}
// for an unknown worker (which then registers again), as Dask does.
func (s *Scheduler) handleHeartbeat(_ context.Context, c *wire.Comm, args map[string]any) (any, error) {
	addr := asString(args["address"])
	peer := PeerOf(c)
	now := s.now()
	var n int
	found, err := s.onRegistered(peer, addr, OpHeartbeatWorker, func(w *workerEntry) {
		w.info.LastSeen = now
		n = len(s.workers)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		if err := authorizeOp(s.sec, identity.Scheduler, OpHeartbeatWorker, peer); err != nil {
			return nil, err
		}
		return map[string]any{"status": "missing"}, nil
	}
	return map[string]any{"status": "OK", "time": epoch(now), "heartbeat-interval": s.heartbeatInterval(n).Seconds()}, nil
}

// handleUnregister is "unregister": a worker leaving on purpose.
func (s *Scheduler) handleUnregister(_ context.Context, c *wire.Comm, args map[string]any) (any, error) {
	addr := asString(args["address"])
	var gone *workerEntry
	found, err := s.onRegistered(PeerOf(c), addr, OpUnregister, func(w *workerEntry) {
		delete(s.workers, addr)
		gone = w
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return "already-removed", nil
	}
	s.removed(gone, "unregistered")
	return "OK", nil
}

// reapLoop forgets silent workers until the scheduler closes, checking ten
// times per TTL.
func (s *Scheduler) reapLoop() {
	defer s.wg.Done()
	t := time.NewTicker(max(s.opts.WorkerTTL/10, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.forgetSilent()
		}
	}
}

// forgetSilent removes every worker whose last heartbeat is older than the
// TTL on the scheduler's clock, and closes its stream.
func (s *Scheduler) forgetSilent() {
	now := s.now()
	var silent []*workerEntry
	s.mu.Lock()
	for addr, w := range s.workers {
		if now.Sub(w.info.LastSeen) > s.opts.WorkerTTL {
			silent = append(silent, w)
			delete(s.workers, addr)
		}
	}
	s.mu.Unlock()
	for _, w := range silent {
		_ = w.stream.Close()
		s.log.Warn("worker forgotten", append(w.info.Peer.LogAttrs(), "address", w.info.Address, "worker_name", w.info.Name,
			"reason", fmt.Sprintf("no heartbeat for %v (worker TTL %v)", now.Sub(w.info.LastSeen).Round(time.Millisecond), s.opts.WorkerTTL))...)
	}
}
