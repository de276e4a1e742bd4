package lifecycle

import "time"

// RenewalDivisor sets the renewal window: a certificate is due once no more
// than 1/RenewalDivisor of its lifetime is left. A third leaves a 90-day
// certificate 30 days and a one-year certificate four months of retries
// (and of restarts for real Dask, which loads certificates only at start).
const RenewalDivisor = 3

// RenewAt returns when a certificate valid from notBefore to notAfter
// enters its renewal window: notAfter minus a third of its lifetime. A
// certificate whose notAfter is not after its notBefore is due from its
// notBefore on (RenewAt returns notBefore).
func RenewAt(notBefore, notAfter time.Time) time.Time {
	life := notAfter.Sub(notBefore)
	if life <= 0 {
		return notBefore
	}
	return notAfter.Add(-life / RenewalDivisor)
}

// InWindow reports whether at now a certificate valid from notBefore to
// notAfter should be renewed: from RenewAt on, including after expiry.
func InWindow(notBefore, notAfter, now time.Time) bool {
	return !now.Before(RenewAt(notBefore, notAfter))
}

// Due reports whether a certificate should be renewed at now: with within
// zero, when it is InWindow; otherwise when it expires within that long.
func Due(notBefore, notAfter, now time.Time, within time.Duration) bool {
	if within > 0 {
		return notAfter.Before(now.Add(within))
	}
	return InWindow(notBefore, notAfter, now)
}
