package enrol

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/daskca/daskca/lifecycle"
)

// RenewDir renews the certificate of an enrolled directory and writes the
// new files. server overrides the server remembered in the directory.
func RenewDir(ctx context.Context, dir, server string, now func() time.Time) (*Issued, error) {
	st, cert, roots, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if server != "" {
		st.Server = server
	}
	is, err := Renew(ctx, Renewal{Server: st.Server, Cert: cert, Roots: roots, Name: st.Name, Now: now})
	if err != nil {
		return nil, err
	}
	return is, writeDir(dir, is, st, false)
}

// RenewAt is when a certificate valid from notBefore to notAfter is renewed:
// two thirds into its lifetime, moved by up to a twentieth of the lifetime
// either way (jitter in [-1, 1]) so that hosts enrolled together do not all
// renew at once. The lifetime counts from issue: daskca backdates
// certificates by issue.Backdate, which would otherwise make a certificate
// of a few minutes due at once. The schedule is lifecycle.WatchRenewAt,
// which daskca status expects hosts to keep.
func RenewAt(notBefore, notAfter time.Time, jitter float64) time.Time {
	return lifecycle.WatchRenewAt(notBefore, notAfter, jitter)
}

// Watch renews the certificate of dir at RenewAt of each certificate until
// ctx is done; a failed renewal is retried after a twentieth of the
// lifetime (at least 5 s, at most 5 min) while the certificate lasts.
// onRenew, if set, is told of every renewal and every failure.
func Watch(ctx context.Context, dir, server string, onRenew func(*Issued, error)) error {
	for {
		_, cert, _, err := ReadDir(dir)
		if err != nil {
			return err
		}
		leaf := cert.Leaf
		at := RenewAt(leaf.NotBefore, leaf.NotAfter, rand.Float64()*2-1)
		if err := sleepUntil(ctx, at); err != nil {
			return nil
		}
		for {
			is, err := RenewDir(ctx, dir, server, nil)
			if onRenew != nil {
				onRenew(is, err)
			}
			if err == nil || ctx.Err() != nil {
				break
			}
			life := leaf.NotAfter.Sub(leaf.NotBefore)
			retry := min(max(life/lifecycle.WatchJitterDivisor, 5*time.Second), 5*time.Minute)
			if time.Now().Add(retry).After(leaf.NotAfter) {
				return err
			}
			if sleepUntil(ctx, time.Now().Add(retry)) != nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
