package lifecycle

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
)

func TestHealthAndProm(t *testing.T) {
	f := newFixture(t, false)
	h, err := f.m.Health(0)
	if err != nil || h.Level != OK || len(h.Endpoints) != 4 {
		t.Fatalf("fresh home: level %d, %d endpoints, %v, problems %+v", h.Level, len(h.Endpoints), err, h.Problems)
	}
	if _, _, err := f.m.Revoke("w1", KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if h, _ = f.m.Health(0); h.Level != Critical {
		t.Errorf("revoked, files still in place: level %d, want 2", h.Level)
	}
	if _, err := f.m.Renew(context.Background(), Selection{}, RenewOptions{}); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(61 * day)
	h, _ = f.m.Health(0)
	if h.Level != Critical {
		t.Errorf("level %d", h.Level)
	}
	for _, want := range []string{"the CRL of", "was due for renewal"} {
		if !strings.Contains(problems(h), want) {
			t.Errorf("problems %q lack %q", problems(h), want)
		}
	}
	var b bytes.Buffer
	if err := WriteProm(&b, h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE daskca_cert_not_after_seconds gauge\n",
		`daskca_cert_not_after_seconds{role="worker",name="w2",serial="` + f.active("worker", "w2").Serial + `"} ` + itoa(f.active("worker", "w2").NotAfter.Unix()) + "\n",
		`daskca_cert_level{role="worker",name="w1",serial=`,
		`state="revoked"} 2`,
		`daskca_certs{role="worker",state="renew"} 1`,
		"daskca_status 2\n",
		`daskca_ca_rotation_in_progress{phase="none"} 0`,
		"daskca_crl_next_update_seconds{issuer=",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("prom output lacks %q:\n%s", want, b.String())
		}
	}
}

func problems(h Health) string {
	var s []string
	for _, p := range h.Problems {
		s = append(s, p.Detail)
	}
	return strings.Join(s, "; ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
