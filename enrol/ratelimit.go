package enrol

import (
	"sync"
	"time"
)

// failLimiter bounds the failed attempts of each client address: a bucket
// of burst attempts per address, refilled by one every `every`. A client
// whose bucket is empty is refused (429) without its request being looked
// at, so guessing tokens costs time, not server work. Only failures take
// from the bucket: a host enrolling and renewing correctly is never slowed.
// Safe for concurrent use.
type failLimiter struct {
	burst float64
	every time.Duration
	mu    sync.Mutex
	m     map[string]*failBucket
}

type failBucket struct {
	left  float64
	at    time.Time
	noted bool // the audit log has its "rate limited" event for this emptying
}

// maxTracked bounds the addresses remembered; full buckets are forgotten
// first.
const maxTracked = 65536

func newFailLimiter(burst int, every time.Duration) *failLimiter {
	return &failLimiter{burst: float64(burst), every: every, m: map[string]*failBucket{}}
}

func (l *failLimiter) refill(b *failBucket, now time.Time) {
	if l.every > 0 && now.After(b.at) {
		b.left = min(l.burst, b.left+float64(now.Sub(b.at))/float64(l.every))
	}
	b.at = now
}

// limited reports whether addr may not try now, the time to wait, and
// whether this is the first refusal since its bucket emptied.
func (l *failLimiter) limited(addr string, now time.Time) (bool, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		return false, 0, false
	}
	l.refill(b, now)
	if b.left >= 1 {
		b.noted = false
		return false, 0, false
	}
	first := !b.noted
	b.noted = true
	wait := time.Duration((1 - b.left) * float64(l.every))
	return true, wait, first
}

// fail takes one attempt from addr's bucket.
func (l *failLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		if len(l.m) >= maxTracked {
			l.prune(now)
		}
		b = &failBucket{left: l.burst, at: now}
		l.m[addr] = b
	}
	l.refill(b, now)
	b.left = max(0, b.left-1)
}

// prune forgets full buckets, or every bucket if none is full.
func (l *failLimiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.left >= l.burst {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxTracked {
		clear(l.m)
	}
}
