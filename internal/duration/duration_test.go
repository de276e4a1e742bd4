package duration

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * Day},
		{"10y", 10 * Year},
		{"2160h", 2160 * time.Hour},
		{"1y30d", Year + 30*Day},
		{"36h30m", 36*time.Hour + 30*time.Minute},
		{"45s", 45 * time.Second},
		{"7D", 7 * Day},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "0d", "-5d", "d", "90", "5w", "1.5d", "99999999999999999999d", "300y", "1y-1d", "90d ", " 90d", "9\x00d"} {
		t.Run(in, func(t *testing.T) {
			if d, err := Parse(in); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) = %v, %v; want ErrInvalid", in, d, err)
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{Year, 3 * Year, 90 * Day, 36 * time.Hour, 90 * time.Minute, 61 * time.Second} {
		s := Format(d)
		got, err := Parse(s)
		if err != nil || got != d {
			t.Errorf("Parse(Format(%v)=%q) = %v, %v", d, s, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"90d", "10y", "2160h", "1y30d", "-1d", "9223372036854775807s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d <= 0 {
			t.Fatalf("Parse(%q) = %v, want > 0", s, d)
		}
		if again, err := Parse(Format(d)); err != nil || (d%time.Second == 0 && again != d) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}
