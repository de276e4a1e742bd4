package transport

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Refused connections are logged, but a peer that retries ten times a
// second (a revoked Dask worker does), or anyone scanning the port, must
// not fill the log: each kind of refusal logs its first refusalBurst lines
// per refusalInterval, then one summary line saying how many it left out
// (with the last of them). A steady stream of refusals thus costs at most
// eleven lines per ten seconds instead of one line each.
const (
	refusalBurst    = 10
	refusalInterval = 10 * time.Second
)

// logLimiter logs the first burst warnings of each interval, counts the
// rest, and logs their number when the interval ends. It is safe for
// concurrent use.
type logLimiter struct {
	log      *slog.Logger
	now      func() time.Time
	burst    int
	interval time.Duration
	what     string // names the lines it limits, in its summaries

	mu         sync.Mutex
	start      time.Time // of the current interval
	logged     int
	suppressed int
	lastArgs   []any
	timer      *time.Timer
}

func newLogLimiter(log *slog.Logger, now func() time.Time, what string) *logLimiter {
	return &logLimiter{log: log, now: now, burst: refusalBurst, interval: refusalInterval, what: what}
}

// warn logs msg with args, unless this interval's burst is spent.
func (l *logLimiter) warn(msg string, args ...any) {
	l.mu.Lock()
	summary := l.rollLocked(l.now())
	ok := l.logged < l.burst
	if ok {
		l.logged++
	} else {
		l.suppressed++
		l.lastArgs = append([]any{"last", msg}, args...)
		if l.timer == nil {
			// The summary comes when the interval ends, even if no further
			// refusal arrives to trigger it.
			l.timer = time.AfterFunc(l.interval, l.flush)
		}
	}
	l.mu.Unlock()
	summary()
	if ok {
		l.log.Warn(msg, args...)
	}
}

// flush logs the summary of an interval that has ended.
func (l *logLimiter) flush() {
	l.mu.Lock()
	summary := l.rollLocked(l.now())
	if l.suppressed > 0 && l.timer != nil { // not over yet on the clock: look again later
		l.timer.Reset(l.interval - l.now().Sub(l.start))
	}
	l.mu.Unlock()
	summary()
}

// rollLocked starts a new interval when the current one has ended and
// returns the function that logs the ended one's summary (or does
// nothing). Called with l.mu held; the returned function must not be.
func (l *logLimiter) rollLocked(now time.Time) func() {
	if now.Sub(l.start) < l.interval {
		return func() {}
	}
	n, last, start := l.suppressed, l.lastArgs, l.start
	l.start, l.logged, l.suppressed, l.lastArgs = now, 0, 0, nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if n == 0 {
		return func() {}
	}
	return func() {
		l.log.Warn(fmt.Sprintf("... and %d more %s, not logged (at most %d in %v)", n, l.what, l.burst, l.interval),
			append([]any{"more", n, "since", start}, last...)...)
	}
}
