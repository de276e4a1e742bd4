package enrol

import (
	"sync"
	"time"

	"github.com/daskca/daskca/store"
)

// DefaultIdleClose is how long the server keeps the inventory open after
// its last use when it opens it itself (Config.OpenStore): short, so that
// daskca token create and other commands on the CA host get the lock while
// the server is idle, long enough that a burst of enrolments opens it once.
const DefaultIdleClose = 500 * time.Millisecond

// lease shares one open inventory among the server's requests and closes
// it when nobody has used it for idle, so other daskca processes can take
// bbolt's lock between bursts. With open nil the store is fixed and never
// closed. Safe for concurrent use.
type lease struct {
	open  func() (*store.Store, error)
	idle  time.Duration
	mu    sync.Mutex
	s     *store.Store
	users int
	gen   int // counts releases, so a stale timer does not close a store in use
}

func (l *lease) acquire() (*store.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		s, err := l.open()
		if err != nil {
			return nil, err
		}
		l.s = s
	}
	l.users++
	return l.s, nil
}

func (l *lease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users--
	if l.users > 0 || l.open == nil {
		return
	}
	l.gen++
	gen := l.gen
	time.AfterFunc(l.idle, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.users == 0 && l.gen == gen && l.s != nil {
			_ = l.s.Close()
			l.s = nil
		}
	})
}

// close closes the store if the lease opened it.
func (l *lease) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open != nil && l.s != nil {
		_ = l.s.Close()
		l.s = nil
	}
}
