package homefiles

import (
	"fmt"

	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// maxProblems bounds the problems, and the notes, a Report lists; the
// rest are only counted.
const maxProblems = 200

// Report is the outcome of Check. Its JSON form is what
// `daskca inventory check -o json` prints.
type Report struct {
	Inventory string   `json:"inventory"`
	Records   int      `json:"records"`  // records that decoded
	Events    int      `json:"events"`   // audit events that decoded
	Verified  int      `json:"verified"` // certificates whose CA signature verified
	Active    int      `json:"active"`   // active certificates whose files were checked
	Problems  []string `json:"problems"` // the first maxProblems problems
	Notes     []string `json:"notes"`    // unfinished work a re-run completes; not problems
	Omitted   int      `json:"omitted"`  // problems beyond those listed
	// NotesOmitted counts notes beyond those listed.
	NotesOmitted int `json:"notes_omitted"`
}

// OK reports whether Check found no problem (notes are allowed).
func (r *Report) OK() bool { return len(r.Problems) == 0 && r.Omitted == 0 }

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.Omitted++
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func (r *Report) note(s string) {
	if len(r.Notes) >= maxProblems {
		r.NotesOmitted++
		return
	}
	r.Notes = append(r.Notes, s)
}

// Check verifies the home l around its open inventory s: store.Check (pages,
// records, indexes, audit chain), then every record against the CA
// certificates of the home (Authorities.Verify), then the files of every
// active certificate and what interrupted runs left in the endpoint
// directories. It changes nothing. Problems go into the Report; the error
// is for a check that could not run (an unreadable CA, a failing read).
func Check(l home.Layout, s *store.Store) (Report, error) {
	rep := Report{Inventory: s.Path(), Problems: []string{}, Notes: []string{}}
	sr, err := s.Check()
	if err != nil {
		return rep, fmt.Errorf("checking %s: %w", s.Path(), err)
	}
	rep.Records, rep.Events = sr.Records, sr.Events
	for _, p := range sr.Problems {
		rep.problem("inventory: %s", p)
	}
	rep.Omitted += sr.Omitted
	as, err := LoadAuthorities(l)
	if err != nil {
		return rep, fmt.Errorf("checking %s: %w", s.Path(), err)
	}
	bundle, err := bundleSet(l)
	if err != nil {
		return rep, fmt.Errorf("checking %s: %w", s.Path(), err)
	}
	if err := checkBundle(l.Bundle(), bundle); err != nil {
		rep.problem("%v", err)
	}
	err = s.List(store.Filter{}, func(r store.Record) error {
		cert, err := as.Verify(r)
		if err != nil {
			rep.problem("%v", err)
			return nil
		}
		rep.Verified++
		if r.Status != store.Active {
			return nil
		}
		rep.Active++
		if r.Enrolled() { // its files are on the host that enrolled
			return nil
		}
		problems, note := checkFiles(l, r, cert, as, bundle)
		for _, p := range problems {
			rep.problem("%s", p)
		}
		if note != "" {
			rep.note(note)
		}
		return nil
	})
	if err != nil { // a record that does not decode; store.Check named it
		rep.problem("inventory: reading the records: %v", err)
	}
	if err := checkCRL(l, s, as, &rep); err != nil {
		return rep, fmt.Errorf("checking %s: %w", s.Path(), err)
	}
	problems, notes, err := strayFiles(l)
	if err != nil {
		return rep, fmt.Errorf("checking %s: %w", l.CertsDir(), err)
	}
	for _, p := range problems {
		rep.problem("%s", p)
	}
	for _, n := range notes {
		rep.note(n)
	}
	return rep, nil
}
