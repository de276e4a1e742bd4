package lifecycle

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRenewalWindow(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		nb, na   time.Time
		now      time.Time
		within   time.Duration
		wantAt   time.Time
		inWindow bool
		due      bool
	}{
		{"fresh 90d", t0, t0.Add(90 * day), t0.Add(time.Hour), 0, t0.Add(60 * day), false, false},
		{"one second before the window", t0, t0.Add(90 * day), t0.Add(60*day - time.Second), 0, t0.Add(60 * day), false, false},
		{"first second of the window", t0, t0.Add(90 * day), t0.Add(60 * day), 0, t0.Add(60 * day), true, true},
		{"expired", t0, t0.Add(90 * day), t0.Add(91 * day), 0, t0.Add(60 * day), true, true},
		{"one year", t0, t0.Add(365 * day), t0.Add(244 * day), 0, t0.Add(365*day - 365*day/3), true, true},
		{"within overrides the window: not due", t0, t0.Add(90 * day), t0.Add(61 * day), 20 * day, t0.Add(60 * day), true, false},
		{"within overrides the window: due", t0, t0.Add(90 * day), t0.Add(71 * day), 20 * day, t0.Add(60 * day), true, true},
		{"within, far from expiry", t0, t0.Add(90 * day), t0, 30 * day, t0.Add(60 * day), false, false},
		{"inverted dates", t0.Add(day), t0, t0, 0, t0.Add(day), false, false},
		{"zero lifetime", t0, t0, t0, 0, t0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RenewAt(tt.nb, tt.na); !got.Equal(tt.wantAt) {
				t.Errorf("RenewAt = %s, want %s", got, tt.wantAt)
			}
			if got := InWindow(tt.nb, tt.na, tt.now); got != tt.inWindow {
				t.Errorf("InWindow = %v, want %v", got, tt.inWindow)
			}
			if got := Due(tt.nb, tt.na, tt.now, tt.within); got != tt.due {
				t.Errorf("Due = %v, want %v", got, tt.due)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		in   string
		want Reason
		code int
		ok   bool
	}{
		{"", Unspecified, 0, true},
		{"keyCompromise", KeyCompromise, 1, true},
		{"KEYCOMPROMISE", KeyCompromise, 1, true},
		{"affiliationChanged", AffiliationChanged, 3, true},
		{"superseded", Superseded, 4, true},
		{"cessationOfOperation", CessationOfOperation, 5, true},
		{"privilegeWithdrawn", PrivilegeWithdrawn, 9, true},
		{"certificateHold", "", 0, false},
		{"removeFromCRL", "", 0, false},
		{"key-compromise", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReason(tt.in)
			if (err == nil) != tt.ok || got != tt.want || got.Code() != tt.code {
				t.Errorf("ParseReason(%q) = %q (code %d), %v; want %q (code %d), ok=%v", tt.in, got, got.Code(), err, tt.want, tt.code, tt.ok)
			}
		})
	}
}
