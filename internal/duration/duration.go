// Package duration parses the lifetimes operators type: "90d", "10y",
// "2160h", "1y6m" is not accepted (months have no fixed length); Go's own
// units (h, m, s) combine as in time.ParseDuration.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day and Year are the fixed lengths behind the "d" and "y" units. A year is
// 365 days: certificate lifetimes are counted in days by browsers and linters
// alike, and a leaf of "1y" must not become longer than 365 days.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid duration")

// Parse reads a positive duration such as "90d", "10y", "2160h", "36h30m" or
// "1y30d". It refuses zero, negative and overflowing values.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty (use e.g. 90d, 10y or 2160h)", ErrInvalid)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%w %q: expected a number at %q (use e.g. 90d, 10y or 2160h)", ErrInvalid, s, rest)
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w %q: number too large", ErrInvalid, s)
		}
		unit, err := unitOf(rest[i:j])
		if err != nil {
			return 0, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
		}
		if n > math.MaxInt64/int64(unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, fmt.Errorf("%w %q: too long", ErrInvalid, s)
		}
		total += time.Duration(n) * unit
		rest = rest[j:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("%w %q: must be longer than zero", ErrInvalid, s)
	}
	return total, nil
}

func unitOf(u string) (time.Duration, error) {
	switch strings.ToLower(u) {
	case "y":
		return Year, nil
	case "d":
		return Day, nil
	case "h":
		return time.Hour, nil
	case "m":
		return time.Minute, nil
	case "s":
		return time.Second, nil
	case "":
		return 0, errors.New("missing unit (y, d, h, m or s)")
	default:
		return 0, fmt.Errorf("unknown unit %q (use y, d, h, m or s)", u)
	}
}

// Format writes d in the largest whole units Parse reads back: "90d", "10y",
// "36h". Durations that are not whole seconds are rounded down.
func Format(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d%Year == 0:
		return strconv.FormatInt(int64(d/Year), 10) + "y"
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
}

// Value adapts a duration to the pflag.Value interface, so commands can take
// --validity 90d directly.
type Value struct{ D *time.Duration }

// String implements pflag.Value.
func (v Value) String() string {
	if v.D == nil || *v.D == 0 {
		return ""
	}
	return Format(*v.D)
}

// Set implements pflag.Value.
func (v Value) Set(s string) error {
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*v.D = d
	return nil
}

// Type implements pflag.Value.
func (Value) Type() string { return "duration" }
