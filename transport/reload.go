package transport

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// stamp identifies one version of a file cheaply: size, modification time
// and inode. An atomic rename-into-place changes the inode even when size
// and time happen to match.
type stamp struct {
	path  string
	ok    bool
	size  int64
	mtime time.Time
	ino   uint64
}

type stamps []stamp

func takeStamps(paths []string) stamps {
	out := make(stamps, 0, len(paths))
	for _, p := range paths {
		st := stamp{path: p}
		if fi, err := os.Stat(p); err == nil {
			st.ok, st.size, st.mtime, st.ino = true, fi.Size(), fi.ModTime(), inode(fi)
		}
		out = append(out, st)
	}
	return out
}

func (a stamps) equal(b stamps) bool {
	return slices.EqualFunc(a, b, func(x, y stamp) bool {
		return x.path == y.path && x.ok == y.ok && x.size == y.size && x.mtime.Equal(y.mtime) && x.ino == y.ino
	})
}

// Reload re-reads the certificate, key, CA bundle and CRL now and, if they
// are all valid and fit together (see NewSecurity), swaps them in for new
// handshakes. Established connections stay, except those of endpoints
// (scheduler, worker) whose peer the new CRL revokes: they are closed, and
// logged. On error the current
// material stays in use, the reason is logged and returned (wrapping
// ErrBadMaterial), and OnReload is called with it.
func (s *Security) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, st, err := s.load()
	s.lastSeen = st
	if err != nil {
		s.log.Error("tls reload failed; keeping the current certificate", "role", s.role,
			"serial", s.Certificate().SerialNumber.Text(16), "err", err)
	} else {
		old := s.cur.Swap(m)
		s.log.Info("tls material reloaded", "role", s.role,
			"old_serial", old.leaf().SerialNumber.Text(16), "serial", m.leaf().SerialNumber.Text(16),
			"not_after", m.leaf().NotAfter)
		s.dropRevoked(old, m)
	}
	if s.hook != nil {
		s.hook(err)
	}
	return err
}

// Run polls the material files every daskca.reload-interval and reloads
// when one changed (size, modification time or inode), until ctx is done or
// Close is called. A broken file is tried once per change, not every poll.
// Run returns at once when daskca.reload is false.
func (s *Security) Run(ctx context.Context) {
	if !s.cfg.Daskca.ReloadEnabled() {
		return
	}
	t := time.NewTicker(s.cfg.Daskca.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
			s.poll()
		}
	}
}

// poll reloads when the files differ from the last load attempt.
func (s *Security) poll() {
	now := takeStamps(s.watched())
	s.mu.Lock()
	changed := !now.equal(s.lastSeen)
	s.mu.Unlock()
	if changed {
		_ = s.Reload() // logged and reported by Reload
	}
}

// WatchSIGHUP reloads on every SIGHUP until ctx is done or Close is called;
// run it in its own goroutine. While it runs, SIGHUP no longer ends the
// process.
func (s *Security) WatchSIGHUP(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	s.reloadOn(ctx, ch)
}

func (s *Security) reloadOn(ctx context.Context, ch <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-ch:
			_ = s.Reload()
		}
	}
}

// Close stops Run and WatchSIGHUP. The tls.Configs keep working with the
// last material. Close is idempotent and always returns nil.
func (s *Security) Close() error {
	s.stop.Do(func() { close(s.done) })
	return nil
}
