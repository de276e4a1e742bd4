package lifecycle

import (
	"fmt"
	"time"

	"github.com/daskca/daskca/internal/duration"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// An enrolled certificate (store.Record.Enrolled) is renewed by the host
// that holds its key, with daskca enroll --renew, and by daskca enroll
// --renew --watch at two thirds of each lifetime; never by the CA host.
// Such certificates may live hours. Judged like the home's certificates,
// by the last third of their lifetime or by --within, one renewed on time
// would be "due" part of every lifetime, or always; what matters is a
// host that stopped renewing. So status judges short-lived enrolled
// certificates by their host's schedule: fine until the renewal is
// overdue (OverdueAt), a warning after, critical once expired.

// ShortLived is the longest lifetime, counted from issue, for which status
// judges an enrolled certificate by its host's schedule: a week, the
// CA/Browser Forum's bound for "short-lived" certificates. Certificates
// that short are renewed by a watcher, not by a person answering a
// warning; a longer one is judged like the home's, unless --within is at
// least its lifetime (then no renewal could ever take it outside --within).
const ShortLived = 7 * 24 * time.Hour

// Lifetime returns when a certificate valid from notBefore to notAfter was
// issued and how long it lives from then: daskca backdates NotBefore by
// issue.Backdate (for hosts whose clocks lag), which would otherwise make
// a certificate of a few minutes look mostly used up at once.
func Lifetime(notBefore, notAfter time.Time) (issued time.Time, life time.Duration) {
	if notAfter.Sub(notBefore) > issue.Backdate {
		notBefore = notBefore.Add(issue.Backdate)
	}
	return notBefore, notAfter.Sub(notBefore)
}

// WatchJitterDivisor bounds how far daskca enroll --watch moves a renewal
// from two thirds of the lifetime, either way: a twentieth of it, so that
// hosts enrolled together do not renew together.
const WatchJitterDivisor = 20

// WatchRenewAt is when daskca enroll --watch renews a certificate valid
// from notBefore to notAfter: two thirds into its lifetime from issue,
// moved by jitter (in [-1, 1]) times a twentieth of the lifetime.
func WatchRenewAt(notBefore, notAfter time.Time, jitter float64) time.Time {
	issued, life := Lifetime(notBefore, notAfter)
	return issued.Add(life*2/3 + time.Duration(jitter*float64(life)/WatchJitterDivisor))
}

// OverdueAt is when the renewal of an enrolled certificate is overdue:
// three quarters into its lifetime from issue. --watch renews by two
// thirds plus a twentieth at the latest; what is left of the twelfth
// between two thirds and three quarters is for its retries of a failed
// attempt (every twentieth of the lifetime, at most 5 minutes apart).
func OverdueAt(notBefore, notAfter time.Time) time.Time {
	issued, life := Lifetime(notBefore, notAfter)
	return issued.Add(life * 3 / 4)
}

// byHost reports whether status judges r by its host's schedule: enrolled,
// and living at most ShortLived, or at most within when within is set.
func byHost(r store.Record, within time.Duration) bool {
	if !r.Enrolled() {
		return false
	}
	_, life := Lifetime(r.NotBefore, r.NotAfter)
	return life <= ShortLived || (within > 0 && life <= within)
}

// judgeByHost judges an active certificate that byHost selects, with the
// line naming what to do on its host when it needs anything.
func judgeByHost(r store.Record, now time.Time) (State, Level, string) {
	_, life := Lifetime(r.NotBefore, r.NotAfter)
	host := fmt.Sprintf("enrolled %s/%s (serial %s, lifetime %s)", r.Role, r.Name, r.Serial, duration.Format(life))
	switch {
	case now.After(r.NotAfter):
		return StateExpired, Critical, fmt.Sprintf("%s expired at %s without being renewed: an expired certificate cannot renew; enrol %s again with a new token (daskca token create) and keep daskca enroll --renew --watch running there",
			host, stamp(r.NotAfter), r.Name)
	case !now.Before(OverdueAt(r.NotBefore, r.NotAfter)):
		return StateOverdue, Warning, fmt.Sprintf("%s was not renewed by its host by %s (daskca enroll --watch renews at two thirds of the lifetime); it expires at %s: check daskca enroll --renew --watch on %s",
			host, stamp(OverdueAt(r.NotBefore, r.NotAfter)), stamp(r.NotAfter), r.Name)
	}
	return StateOK, OK, ""
}

// hostFix names what to do on the host of an active enrolled certificate
// that status judges by the renewal window (one living longer than
// ShortLived) when it is due or expired: its key is on its host, which
// renews it, and daskca renew leaves it alone.
func hostFix(r store.Record, st State) string {
	if !r.Enrolled() || r.Status != store.Active {
		return ""
	}
	host := fmt.Sprintf("enrolled %s/%s (serial %s)", r.Role, r.Name, r.Serial)
	switch st {
	case StateRenew:
		return fmt.Sprintf("%s is due for renewal and expires at %s; its key is on its host, which renews it (daskca renew does not): run daskca enroll --renew on %s",
			host, stamp(r.NotAfter), r.Name)
	case StateExpired:
		return fmt.Sprintf("%s expired at %s: an expired certificate cannot renew; enrol %s again with a new token (daskca token create)",
			host, stamp(r.NotAfter), r.Name)
	}
	return ""
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
