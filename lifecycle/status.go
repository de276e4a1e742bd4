package lifecycle

import (
	"cmp"
	"slices"
	"time"

	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// Level is the severity of a status finding, and the exit code of
// `daskca status`, like a monitoring check's.
type Level int

// The levels.
const (
	OK       Level = 0 // nothing to do
	Warning  Level = 1 // something is inside the renewal window, overdue for renewal by its host, or needs a run of daskca
	Critical Level = 2 // something is expired, or revoked and still in use
)

// State is what an endpoint in a Report needs.
type State string

// The states of an endpoint in a Report.
const (
	StateOK      State = "ok"      // active, outside the window
	StateRenew   State = "renew"   // active, inside the window
	StateOverdue State = "overdue" // active, short-lived and enrolled: its host did not renew it in time (OverdueAt)
	StateExpired State = "expired" // active and past NotAfter
	StateRevoked State = "revoked" // revoked, unexpired, and still in use
	StateRetired State = "retired" // revoked or superseded with no active successor, out of use
)

// Endpoint is the status of one (role, name): its current certificate (the
// active one, else the newest).
type Endpoint struct {
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	Serial    string    `json:"serial"`
	State     State     `json:"state"`
	Level     Level     `json:"level"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// RenewAt is when the certificate enters its renewal window; for one
	// judged by its host's schedule (see Enrolled), when daskca enroll
	// --watch renews it (WatchRenewAt without jitter).
	RenewAt time.Time `json:"renew_at"`
	Issuer  string    `json:"issuer_fingerprint_sha256,omitempty"`
	// Enrolled: issued to a host that enrolled (store.Record.Enrolled),
	// which renews it itself. A short-lived one is judged by its host's
	// renewal schedule rather than by the renewal window or --within (see
	// ShortLived).
	Enrolled bool `json:"enrolled"`
}

// Report is the health of an inventory at one time.
type Report struct {
	Now       time.Time  `json:"now"`
	Level     Level      `json:"level"`
	Endpoints []Endpoint `json:"endpoints"`
	// Problems are findings about the home rather than one certificate.
	Problems []Problem `json:"problems"`
}

// Problem is one finding about the home (a stale CRL, files out of step).
type Problem struct {
	Level  Level  `json:"level"`
	Detail string `json:"detail"`
}

// Evaluate judges recs at now. An active certificate is due when Due(...,
// within) says so, except a short-lived enrolled one, which is judged by
// its host's renewal schedule (ShortLived, OverdueAt) with a problem line
// naming what to do on that host when it is overdue or expired (a longer
// enrolled one keeps the renewal window and gets such a line when due or
// expired: daskca renew leaves it to its host); a revoked
// one counts as in use unless it has expired, its reason retires it
// (cessationOfOperation, superseded), or inUse (nil: always) says it is
// not. Evaluate is a pure function of its arguments.
func Evaluate(recs []store.Record, now time.Time, within time.Duration, inUse func(store.Record) bool) Report {
	cur := map[[2]string]store.Record{}
	for _, r := range recs {
		k := [2]string{r.Role, r.Name}
		if c, ok := cur[k]; !ok || newer(r, c) {
			cur[k] = r
		}
	}
	rep := Report{Now: now.UTC(), Endpoints: []Endpoint{}, Problems: []Problem{}}
	var problems []Problem // in a stable order: cur is a map
	for _, r := range cur {
		e := Endpoint{Role: r.Role, Name: r.Name, Serial: r.Serial, NotBefore: r.NotBefore, NotAfter: r.NotAfter,
			RenewAt: RenewAt(r.NotBefore, r.NotAfter), Issuer: r.Issuer, Enrolled: r.Enrolled()}
		if r.Status == store.Active && byHost(r, within) {
			var fix string
			e.RenewAt = WatchRenewAt(r.NotBefore, r.NotAfter, 0)
			if e.State, e.Level, fix = judgeByHost(r, now); fix != "" {
				problems = append(problems, Problem{Level: e.Level, Detail: fix})
			}
		} else {
			e.State, e.Level = judge(r, now, within, inUse)
			if fix := hostFix(r, e.State); fix != "" {
				problems = append(problems, Problem{Level: e.Level, Detail: fix})
			}
		}
		rep.Endpoints = append(rep.Endpoints, e)
		rep.Level = max(rep.Level, e.Level)
	}
	slices.SortFunc(problems, func(a, b Problem) int { return cmp.Compare(a.Detail, b.Detail) })
	for _, p := range problems {
		rep.Add(p.Level, p.Detail)
	}
	slices.SortFunc(rep.Endpoints, func(a, b Endpoint) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Name, b.Name))
	})
	return rep
}

// newer prefers an active record, then the later IssuedAt, then the one
// not superseded, then the serial.
func newer(a, b store.Record) bool {
	if (a.Status == store.Active) != (b.Status == store.Active) {
		return a.Status == store.Active
	}
	if !a.IssuedAt.Equal(b.IssuedAt) {
		return a.IssuedAt.After(b.IssuedAt)
	}
	// Issue times are kept to the second: a renewal in the same second is
	// told apart by the link between the two records.
	if a.SupersededBy != "" || b.SupersededBy != "" {
		return b.SupersededBy == a.Serial || a.SupersededBy == ""
	}
	return a.Serial > b.Serial
}

func judge(r store.Record, now time.Time, within time.Duration, inUse func(store.Record) bool) (State, Level) {
	expired := issue.StatusOf(r, now) == issue.StatusExpired || now.After(r.NotAfter)
	switch r.Status {
	case store.Active:
		switch {
		case expired:
			return StateExpired, Critical
		case Due(r.NotBefore, r.NotAfter, now, within):
			return StateRenew, Warning
		}
		return StateOK, OK
	case store.Revoked:
		if !expired && !Reason(r.RevocationReason).retires() && (inUse == nil || inUse(r)) {
			return StateRevoked, Critical
		}
	}
	return StateRetired, OK
}

// Add records a finding about the home and raises the report's level.
func (r *Report) Add(level Level, detail string) {
	r.Problems = append(r.Problems, Problem{Level: level, Detail: detail})
	r.Level = max(r.Level, level)
}

// Counts returns how many endpoints of each role are in each state.
func (r *Report) Counts() map[string]map[State]int {
	out := map[string]map[State]int{}
	for _, e := range r.Endpoints {
		if out[e.Role] == nil {
			out[e.Role] = map[State]int{}
		}
		out[e.Role][e.State]++
	}
	return out
}
