package daskplugin

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport/daskconfig"
)

// derScript loads the plugin as a library (no Dask object: nothing is
// hooked) and parses every file in $DIR as a CRL or, for *.crt, a
// certificate. Each input must parse or raise DERError; anything else is
// a defect. It then mutates the valid inputs $FUZZ times at random
// (seeded) with the same rule. It prints one JSON object.
const derScript = `
import importlib.util, json, os, random, sys
spec = importlib.util.spec_from_file_location("daskca_plugin", os.environ["PLUGIN"])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
def parse(name, data):
    try:
        if name.endswith(".crt"):
            c = m.Cert(data)
            return {"ok": True, "serial": format(c.serial, "x"), "identity": list(c.identity() or []), "issuer": c.issuer.hex()}
        c = m.CRL(data)
        return {"ok": True, "number": c.number, "next_update": c.next_update, "this_update": c.this_update,
                "issuer": c.issuer.hex(), "revoked": sorted(format(s, "x") for s in c.revoked)}
    except m.DERError as e:
        return {"ok": False, "error": str(e)}
    except Exception as e:
        return {"ok": False, "defect": repr(e)}
out, valid = {}, []
d = os.environ["DIR"]
for name in sorted(os.listdir(d)):
    data = open(os.path.join(d, name), "rb").read()
    out[name] = parse(name, data)
    if name.startswith("valid"):
        valid.append((name, data))
rng, defects = random.Random(11), []
for i in range(int(os.environ["FUZZ"])):
    name, data = rng.choice(valid)
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op, pos = rng.randrange(4), rng.randrange(len(b) or 1)
        if op == 0 and b: b[pos] ^= 1 << rng.randrange(8)
        elif op == 1: b[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and b: del b[pos]
        else: b = b[:pos]
    r = parse(name, bytes(b))
    if "defect" in r:
        defects.append([bytes(b).hex(), r["defect"]])
print(json.dumps({"inputs": out, "fuzz_defects": defects[:5], "fuzz_defect_count": len(defects)}))
`

// TestDERReaderHostile drives the plugin's DER reader with valid CRLs and
// certificates from Go (their fields must match what Go's x509 reads) and
// with hostile input: every truncation, flipped bytes, absurd and
// indefinite lengths, deep nesting, high tag numbers, random garbage and
// seeded random mutations. Hostile input must raise DERError, nothing else.
func TestDERReaderHostile(t *testing.T) {
	rt := dasktest.Host(t)
	dir := rt.TempDir(t)
	plugin := filepath.Join(dir, FileName)
	if err := WriteFile(plugin); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(in, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ca := testca.New(t)
	next := time.Now().Add(time.Hour).Truncate(time.Second)
	serials := []*big.Int{big.NewInt(1), big.NewInt(255), new(big.Int).Lsh(big.NewInt(1), 150)}
	crl := crlDER(t, ca, 42, next, serials...)
	empty := crlDER(t, ca, 7, next)
	big1 := make([]*big.Int, 20000)
	for i := range big1 {
		big1[i] = big.NewInt(int64(i + 1))
	}
	large := crlDER(t, ca, 9, next, big1...)
	certPEM, _ := ca.Issue(t, identity.Worker, "w1")
	block, _ := pem.Decode(certPEM)
	leaf, _ := x509.ParseCertificate(block.Bytes)
	put("valid-crl", crl)
	put("valid-empty", empty)
	put("large-crl", large)
	put("valid-leaf.crt", block.Bytes)

	hostile := map[string][]byte{
		"absurd-length":     {0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00},
		"five-byte-length":  {0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00},
		"indefinite-length": {0x30, 0x80, 0x00, 0x00},
		"high-tag":          {0x3f, 0x01, 0x00},
		"empty":             {},
		"one-byte":          {0x30},
		"deep-nesting":      nested(5000),
		"int-too-large":     intCRL(200),
	}
	for name, b := range hostile {
		put("hostile-"+name, b)
	}
	for i := 0; i < len(crl); i++ {
		put(fmt.Sprintf("trunc-%04d", i), crl[:i])
		flipped := append([]byte(nil), crl...)
		flipped[i] ^= 0xff
		put(fmt.Sprintf("flip-%04d", i), flipped)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(600))
		_, _ = rand.Read(b)
		if len(b) > 0 && i%2 == 0 {
			b[0] = 0x30
		}
		put(fmt.Sprintf("random-%03d", i), b)
	}

	out, err := rt.RunPython(t, derScript, []string{"PLUGIN=" + rt.Path(t, plugin), "DIR=" + rt.Path(t, in), "FUZZ=10000"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Inputs map[string]struct {
			OK         bool     `json:"ok"`
			Error      string   `json:"error"`
			Defect     string   `json:"defect"`
			Number     *int64   `json:"number"`
			NextUpdate *int64   `json:"next_update"`
			Issuer     string   `json:"issuer"`
			Revoked    []string `json:"revoked"`
			Serial     string   `json:"serial"`
			Identity   []string `json:"identity"`
		} `json:"inputs"`
		FuzzDefects     [][]string `json:"fuzz_defects"`
		FuzzDefectCount int        `json:"fuzz_defect_count"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	issuer := fmt.Sprintf("%x", ca.Cert.RawSubject)
	t.Run("valid", func(t *testing.T) {
		for name, want := range map[string]struct {
			number  int64
			revoked []string
		}{"valid-crl": {42, []string{"1", serials[2].Text(16), "ff"}}, "valid-empty": {7, nil}} {
			got := res.Inputs[name]
			if !got.OK || got.Number == nil || *got.Number != want.number || got.NextUpdate == nil || *got.NextUpdate != next.Unix() ||
				got.Issuer != issuer || strings.Join(got.Revoked, ",") != strings.Join(want.revoked, ",") {
				t.Errorf("%s: got %+v, want number %d, next update %d, issuer %s, revoked %v", name, got, want.number, next.Unix(), issuer, want.revoked)
			}
		}
		if got := res.Inputs["large-crl"]; !got.OK || len(got.Revoked) != len(big1) {
			t.Errorf("large-crl: ok=%v, %d revoked, want %d", got.OK, len(got.Revoked), len(big1))
		}
		got := res.Inputs["valid-leaf.crt"]
		wantID := []string{ca.TrustDomain, "worker", "w1"}
		if !got.OK || got.Serial != leaf.SerialNumber.Text(16) || strings.Join(got.Identity, "/") != strings.Join(wantID, "/") ||
			got.Issuer != fmt.Sprintf("%x", leaf.RawIssuer) {
			t.Errorf("leaf: got %+v, want serial %s identity %v", got, leaf.SerialNumber.Text(16), wantID)
		}
	})
	t.Run("hostile", func(t *testing.T) {
		for name, r := range res.Inputs {
			if r.Defect != "" {
				t.Errorf("%s: raised %s, want DERError", name, r.Defect)
			}
			if strings.HasPrefix(name, "hostile-") || strings.HasPrefix(name, "trunc-") {
				if r.OK {
					t.Errorf("%s: parsed, want DERError", name)
				}
			}
		}
		if res.FuzzDefectCount != 0 {
			t.Errorf("%d random mutations raised something else than DERError, e.g. %v", res.FuzzDefectCount, res.FuzzDefects)
		}
	})
}

// nested returns n SEQUENCEs inside each other.
func nested(n int) []byte {
	b := []byte{}
	for i := 0; i < n; i++ {
		l := len(b)
		switch {
		case l < 0x80:
			b = append([]byte{0x30, byte(l)}, b...)
		case l < 1<<16:
			b = append([]byte{0x30, 0x82, byte(l >> 8), byte(l)}, b...)
		default:
			b = append([]byte{0x30, 0x83, byte(l >> 16), byte(l >> 8), byte(l)}, b...)
		}
		if len(b) > 1<<20 {
			break
		}
	}
	return b
}

// intCRL is a CRL-shaped SEQUENCE whose first element is an INTEGER of n bytes.
func intCRL(n int) []byte {
	i := append([]byte{0x02, 0x81, byte(n)}, make([]byte, n)...)
	i[3] = 1
	tbs := append([]byte{0x30, 0x81, byte(len(i))}, i...)
	return append([]byte{0x30, 0x82, byte(len(tbs) >> 8), byte(len(tbs))}, tbs...)
}

// settingsScript reads a YAML document with PyYAML, as Dask does, and
// gives its daskca: mapping to the plugin's Settings.
const settingsScript = `
import importlib.util, json, os, yaml
spec = importlib.util.spec_from_file_location("daskca_plugin", os.environ["PLUGIN"])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
out = []
for doc in json.loads(os.environ["DOCS"]):
    try:
        s = m.Settings((yaml.safe_load(doc) or {}).get("daskca"))
        out.append({"ok": True, "policy": s.policy, "interval": s.interval, "reload": s.reload, "verify": s.verify_hostname, "crl": s.crl_file})
    except m.MaterialError as e:
        out.append({"ok": False, "error": str(e)})
print(json.dumps(out))
`

// TestSettingsMatchGo: the plugin accepts exactly the daskca: values the Go
// transport accepts, with the same meaning.
func TestSettingsMatchGo(t *testing.T) {
	docs := []string{"", "daskca:", "daskca: 3"}
	for _, v := range []string{"strict", "dask", "lax", "''", "Strict", "1", "null"} {
		docs = append(docs, "daskca:\n  role-policy: "+v)
	}
	for _, v := range []string{"2s", "500ms", "1m30s", "1.5s", ".5s", "2", "0.25", "0", "0s", "-1s", "soon", "2 s", "5d", "true",
		"'3'", "1h", "10us", "1e3", "3000000000s", "1000000001", "null", " 3s", "+4s", "1:30"} {
		docs = append(docs, "daskca:\n  reload-interval: "+v)
	}
	for _, v := range []string{"true", "false", "yes", "off", "'true'", "1", "null"} {
		docs = append(docs, "daskca:\n  reload: "+v, "daskca:\n  verify-hostname: "+v)
	}
	for _, v := range []string{"/etc/ca.crl", "3", "null"} {
		docs = append(docs, "daskca:\n  crl-file: "+v)
	}
	rt := dasktest.Host(t)
	dir := rt.TempDir(t)
	plugin := filepath.Join(dir, FileName)
	if err := WriteFile(plugin); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(docs)
	out, err := rt.RunPython(t, settingsScript, []string{"PLUGIN=" + rt.Path(t, plugin), "DOCS=" + string(b)}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		OK       bool    `json:"ok"`
		Error    string  `json:"error"`
		Policy   string  `json:"policy"`
		Interval float64 `json:"interval"`
		Reload   bool    `json:"reload"`
		Verify   bool    `json:"verify"`
		CRL      string  `json:"crl"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != len(docs) {
		t.Fatalf("%v: %s", err, out)
	}
	for i, doc := range docs {
		t.Run(strings.ReplaceAll(doc, "\n", " "), func(t *testing.T) {
			c, goErr := daskconfig.ParseYAML([]byte(doc))
			py := got[i]
			if (goErr == nil) != py.OK {
				t.Fatalf("Go err=%v, plugin ok=%v %s", goErr, py.OK, py.Error)
			}
			if goErr != nil {
				return
			}
			if py.Policy != c.Daskca.Policy() || py.Reload != c.Daskca.ReloadEnabled() || py.Verify != c.Daskca.VerifyHostname ||
				py.CRL != c.Daskca.CRLFile || time.Duration(py.Interval*float64(time.Second)).Round(time.Microsecond) != c.Daskca.Interval() {
				t.Errorf("plugin %+v, Go %+v (interval %v)", py, c.Daskca, c.Daskca.Interval())
			}
		})
	}
}

// rateScript refuses one peer 100 times within a second, then once more
// 11 s later (on a fake clock), and another peer once; it does the same
// with Dask's "TLS handshake failed" warnings. It prints the log lines.
const rateScript = `
import importlib.util, json, logging, os, time
spec = importlib.util.spec_from_file_location("daskca_plugin", os.environ["PLUGIN"])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
clock = [1000.0]
time.monotonic = lambda: clock[0]
lines = []
class H(logging.Handler):
    def emit(self, r): lines.append(r.getMessage())
logging.getLogger("distributed.daskca").addHandler(H())
p = m.Plugin()
a, b = m.Cert(bytes.fromhex(os.environ["A"])), m.Cert(bytes.fromhex(os.environ["B"]))
for i in range(100):
    p.refuse("register-worker on the scheduler", a, "certificate has role client")
    clock[0] += 0.01
clock[0] += 11
p.refuse("register-worker on the scheduler", a, "certificate has role client")
p.refuse("register-worker on the scheduler", b, "certificate has role client")
f, tcp = m.HandshakeLogLimit(p), logging.getLogger("distributed.comm.tcp")
tcp.addFilter(f); tcp.addHandler(H()); tcp.propagate = False
for i in range(50):
    tcp.warning("Listener on %r: TLS handshake failed with remote %r: %s", "tls://127.0.0.1:1", "tls://127.0.0.1:%d" % (5000 + i), "certificate revoked")
clock[0] += 11
tcp.warning("Listener on %r: TLS handshake failed with remote %r: %s", "tls://127.0.0.1:1", "tls://127.0.0.1:6000", "certificate revoked")
print(json.dumps(lines))
`

// TestRefusalLogRateLimited: a peer refused over and over (a refused worker
// retries about ten times a second) is logged once per interval, with the
// count of refusals in between; other peers are logged on their own.
func TestRefusalLogRateLimited(t *testing.T) {
	rt := dasktest.Host(t)
	dir := rt.TempDir(t)
	plugin := filepath.Join(dir, FileName)
	if err := WriteFile(plugin); err != nil {
		t.Fatal(err)
	}
	ca := testca.New(t)
	der := func(name string) string {
		c, _ := ca.Issue(t, identity.Client, name)
		b, _ := pem.Decode(c)
		return fmt.Sprintf("%x", b.Bytes)
	}
	out, err := rt.RunPython(t, rateScript, []string{"PLUGIN=" + rt.Path(t, plugin), "A=" + der("a"), "B=" + der("b")}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := json.Unmarshal([]byte(out), &lines); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []string{"name=a ", "name=a .*(99 more since the last report)", "name=b ",
		"TLS handshake failed.*certificate revoked$", "TLS handshake failed.*(49 more from this host since the last report)"}
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want match %q", i, lines[i], w)
		}
	}
}
