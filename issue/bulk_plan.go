package issue

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// Action is what a plan does with one request.
type Action string

// The actions of a plan.
const (
	ActionIssue  Action = "issue"  // sign a new certificate (possibly replacing one)
	ActionSkip   Action = "skip"   // an identical certificate is active and valid
	ActionRefuse Action = "refuse" // the request is invalid or conflicts; see Reason
)

// PlanItem is the decision about one request. A refused request read
// from a file (Request.Origin set) keeps none of the file's contents: its
// Name is the Origin, its DNS and IPs are empty, and the quoted values of
// its Reason are blanked out.
type PlanItem struct {
	Request Request
	Action  Action
	// Reason says why a request is skipped or refused, or, for an issue
	// that replaces a certificate, which one and why. Empty for a plain issue.
	Reason string
	// Current is the active certificate of the same role and name, if any.
	Current *store.Record
	// Err is the refusal of a re-issue (PlanReissue) as an error, so that
	// callers can tell causes apart (ca.ErrOutlivesIssuer, ...); its text
	// is Reason.
	Err error

	c checked // the validated request, for ActionIssue
}

// Plan is the decision about every request of a bulk run, in request order.
// Making a plan writes nothing.
type Plan struct {
	Items []PlanItem
}

// Count returns how many items have action a.
func (p Plan) Count(a Action) int {
	n := 0
	for _, it := range p.Items {
		if it.Action == a {
			n++
		}
	}
	return n
}

// Plan decides, without writing anything, what IssueBulk would do with
// reqs at is.Now:
//   - refuse an invalid request, or one whose role and name an earlier
//     request already uses (ErrDuplicate);
//   - skip a request whose role and name has an active certificate that is
//     identical (same DNS names, IP addresses and key type, from the current
//     issuing CA certificate, its files present) and not expired, unless
//     Force is set: re-running the same requests issues nothing;
//   - issue, replacing the current certificate, when that one has expired
//     or when Force is set;
//   - refuse, when an active certificate differs from the request and
//     Force is not set (as Issue does, ErrActive);
//   - issue otherwise.
//
// A request whose names the CA's name constraints do not permit is refused
// here, as signing would refuse it. The error is only for failing
// inventory reads.
func (is *Issuer) Plan(reqs []Request) (Plan, error) {
	p := Plan{Items: make([]PlanItem, len(reqs))}
	seen := make(map[string]int, len(reqs))
	issuer := ca.Fingerprint(is.CA.Issuer())
	now := is.now()
	var lookup []int // items to look up in the inventory
	var keys []store.RoleName
	for i, r := range reqs {
		it := &p.Items[i]
		it.Request = r
		c, err := r.check()
		if err == nil {
			err = is.checkConstraints(c, now)
		}
		if err != nil {
			it.Action, it.Reason = ActionRefuse, err.Error()
			if r.Origin != "" {
				it.Request.Name, it.Request.DNS, it.Request.IPs = r.Origin, nil, nil
				it.Reason = quoted().ReplaceAllString(it.Reason, `"..."`)
			}
			continue
		}
		key := string(c.Role) + "/" + c.Name
		if first, dup := seen[key]; dup {
			it.Action, it.Reason = ActionRefuse, fmt.Sprintf("%v (first as request %d)", ErrDuplicate, first+1)
			continue
		}
		seen[key] = i
		it.c = c
		lookup = append(lookup, i)
		keys = append(keys, store.RoleName{Role: string(c.Role), Name: c.Name})
	}
	err := is.Store.ActiveEach(keys, func(j int, cur store.Record, ok bool) error {
		it := &p.Items[lookup[j]]
		if ok {
			it.Current = &cur
		}
		it.Action, it.Reason = decide(it.c, it.Current, issuer, now)
		return nil
	})
	if err != nil {
		return Plan{}, fmt.Errorf("planning: %w", err)
	}
	return p, nil
}

// decide is the pure part of Plan for a valid request.
func decide(c checked, cur *store.Record, issuer string, now time.Time) (Action, string) {
	switch {
	case cur == nil:
		return ActionIssue, ""
	case cur.Expired(now):
		return ActionIssue, fmt.Sprintf("replaces %s, expired %s", cur.Serial, stamp(cur.NotAfter))
	}
	diff := difference(c, cur, issuer)
	switch {
	case c.Force && diff == "":
		return ActionIssue, fmt.Sprintf("replaces %s (--force)", cur.Serial)
	case c.Force:
		return ActionIssue, fmt.Sprintf("replaces %s: %s", cur.Serial, diff)
	case diff == "":
		return ActionSkip, fmt.Sprintf("identical %s valid until %s", cur.Serial, stamp(cur.NotAfter))
	}
	return ActionRefuse, fmt.Sprintf("%v (serial %s) and %s; pass --force to replace it", ErrActive, cur.Serial, diff)
}

// difference says how the active certificate cur differs from c, or "".
func difference(c checked, cur *store.Record, issuer string) string {
	ips := make([]string, len(c.ips))
	for i, ip := range c.ips {
		ips[i] = ip.String()
	}
	switch {
	case !sameSet(cur.DNS, c.dns):
		return fmt.Sprintf("its DNS names %v differ from %v", nonNil(cur.DNS), nonNil(c.dns))
	case !sameSet(cur.IPs, ips):
		return fmt.Sprintf("its IP addresses %v differ from %v", nonNil(cur.IPs), ips)
	case cur.KeyType != string(c.KeyType):
		return fmt.Sprintf("its key type %s differs from %s", cur.KeyType, c.KeyType)
	case cur.Issuer != issuer:
		return "it was issued by another CA certificate"
	case !exists(cur.CertFile) || !exists(cur.KeyFile):
		return "its files are missing"
	}
	return ""
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return path != "" && err == nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// checkConstraints refuses a checked request whose names the CA's name
// constraints do not permit, judging the template the signer would get.
func (is *Issuer) checkConstraints(c checked, now time.Time) error {
	id := identity.ID{TrustDomain: is.CA.TrustDomain, Role: c.Role, Name: c.Name}
	return is.CA.CheckNames(Template(id, c.dns, c.ips, c.KeyType, now.Add(-Backdate), now.Add(c.Validity)))
}

// quoted matches a Go-quoted string (%q) in an error message.
var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"(?:[^"\\]|\\.)*"`) })
