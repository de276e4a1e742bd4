"""daskca's Dask plugin: roles, revocation and live reload inside real Dask.

Loaded through Dask's preload mechanism (``distributed.scheduler.preload``,
``distributed.worker.preload``, ``dask worker --preload-nanny``,
``distributed.client.preload``). Everything happens when Dask imports this
file, before the first listener accepts and before the first dial:

* Every TLS context Dask builds (``Security.get_listen_args`` and
  ``get_connection_args``) becomes a ``LiveContext`` that hands each new
  handshake to the current material: certificate, key, CA bundle and CRL,
  polled every ``daskca.reload-interval`` and swapped only after a TLS
  handshake between the new server and client contexts succeeded.
* Listeners check the peer certificate's role and revocation right after the
  TLS handshake, dialers check the server's before sending anything, and
  the scheduler checks register-worker, heartbeat_worker, unregister,
  register-client and register_nanny against the policy table daskca embeds.
* A new CRL closes the established connections of the peers it revokes.

Anything the plugin cannot do raises at import, which stops the Dask process
(Dask only logs exceptions raised later, in ``dask_setup``). Standard library
and ``distributed`` only.
"""

import base64
import calendar
import hashlib
import inspect
import json
import logging
import os
import re
import ssl
import sys
import tempfile
import threading
import time
import types
import weakref

import dask
import distributed

# The strict role policy, filled in by daskca (daskplugin.Render).
POLICY_TABLE_JSON = r'''@DASKCA_POLICY_TABLE@'''

TESTED_VERSIONS = ("2022.12.1", "2024.12.1")
DEFAULT_RELOAD_INTERVAL = 2.0  # seconds, as transport.DefaultReloadInterval
REFUSAL_LOG_EVERY = 10.0  # seconds between two log lines for one refusal
log = logging.getLogger("distributed.daskca")


class PluginError(RuntimeError):
    """A reason the plugin cannot protect this process; raised at import."""


def fail(cause):
    """The PluginError for cause: one line naming it and the Dask version."""
    return PluginError(f"daskca plugin (Dask {distributed.__version__}): {cause}")


class MaterialError(ValueError):
    """Certificate, key, CA bundle or CRL that cannot be used."""


# --- Configuration: the `daskca:` keys, with the Go transport's rules -------

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_interval(value):
    """Seconds from a Go duration string ("2s", "1m30s") or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MaterialError(f"daskca.reload-interval: got {value!r}, want a duration such as 2s")
    if isinstance(value, str):
        s, total, pos = value.strip(), 0.0, 0
        sign = -1.0 if s[:1] == "-" else 1.0
        s = s[1:] if s[:1] in "+-" else s
        if s == "0":
            pos = 1
        while pos < len(s):
            m = _GO_PART.match(s, pos)
            if not m:
                raise MaterialError(f"daskca.reload-interval: {value!r} is not a duration (write e.g. 2s, 500ms or 1m)")
            total += float(m.group(1)) * _GO_UNITS[m.group(2)]
            pos = m.end()
        if not s or total > 9223372036.854775:
            raise MaterialError(f"daskca.reload-interval: {value!r} is not a duration (write e.g. 2s, 500ms or 1m)")
        seconds = sign * total
    else:
        if value != value or abs(value) > 1e9:
            raise MaterialError(f"daskca.reload-interval: {value} seconds is out of range")
        seconds = float(value)
    if seconds <= 0:
        raise MaterialError("daskca.reload-interval: must be positive")
    return seconds


class Settings:
    """The daskca: keys of Dask's configuration, validated."""

    KNOWN = ("role-policy", "verify-hostname", "crl-file", "reload", "reload-interval")

    def __init__(self, tree):
        if tree is None:
            tree = {}
        if not isinstance(tree, dict):
            raise MaterialError(f"daskca: got {tree!r}, want a mapping")
        tree = {str(k).replace("_", "-"): v for k, v in tree.items()}
        for k in sorted(set(tree) - set(self.KNOWN)):
            log.warning("daskca plugin: unknown key daskca.%s ignored (known: %s)", k, ", ".join(self.KNOWN))
        self.policy = self._get(tree, "role-policy", str, "") or "strict"
        if self.policy not in ("strict", "dask"):
            raise MaterialError(f'daskca.role-policy: "{self.policy}" is not a role policy, want "strict" or "dask"')
        self.verify_hostname = self._get(tree, "verify-hostname", bool, False)
        self.crl_file = self._get(tree, "crl-file", str, "")
        self.reload = self._get(tree, "reload", bool, True)
        iv = tree.get("reload-interval")
        self.interval = DEFAULT_RELOAD_INTERVAL if iv is None else parse_interval(iv)

    @staticmethod
    def _get(tree, key, kind, default):
        v = tree.get(key)
        if v is None:
            return default
        if not isinstance(v, kind):
            want = "a boolean (write true/false in YAML, True/False in a DASK_ variable)" if kind is bool else "a string"
            raise MaterialError(f"daskca.{key}: got {v!r}, want {want}")
        return v


# --- A bounded DER reader: just what CRLs and certificates need --------------

MAX_DER = 64 << 20  # bytes; a CRL of a million entries is ~40 MiB
OID_CRL_NUMBER = bytes.fromhex("551d14")
OID_SAN = bytes.fromhex("551d11")


class DERError(ValueError):
    pass


def der_tlv(buf, pos, end):
    """One TLV at buf[pos:end]: (tag, content start, content end)."""
    if end - pos < 2:
        raise DERError("truncated element")
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise DERError("high tag numbers are not used in X.509")
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise DERError("indefinite or absurd length")
        if end - pos < n:
            raise DERError("truncated length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if length > end - pos:
        raise DERError(f"element of {length} bytes overruns its container")
    return tag, pos, pos + length


def der_children(buf, start, end):
    """The elements of a constructed value, as (tag, start, content start, end).
    The reader descends a fixed number of levels, never as deep as the input says."""
    out, pos = [], start
    while pos < end:
        tag, cs, ce = der_tlv(buf, pos, end)
        out.append((tag, pos, cs, ce))
        pos = ce
    return out


def _first(elements):
    return elements[0] if elements else None


def _expect(el, tag, what):
    if el is None or el[0] != tag:
        raise DERError(f"{what}: unexpected element")
    return el


def der_int(buf, el):
    _expect(el, 0x02, "integer")
    if el[3] == el[2] or el[3] - el[2] > 64:
        raise DERError("integer of absurd size")
    return int.from_bytes(buf[el[2]:el[3]], "big", signed=True)


def der_time(buf, el):
    """Seconds since the epoch from a UTCTime or GeneralizedTime."""
    s = bytes(buf[el[2]:el[3]]).decode("ascii", "replace")
    if el[0] == 0x17 and re.fullmatch(r"\d{12}Z", s):
        year = int(s[:2])
        s = ("19" if year >= 50 else "20") + s
    elif not (el[0] == 0x18 and re.fullmatch(r"\d{14}Z", s)):
        raise DERError("bad time")
    try:
        return calendar.timegm(time.strptime(s, "%Y%m%d%H%M%SZ"))
    except ValueError:
        raise DERError("bad time") from None


def _extensions(buf, el):
    """Yield (oid bytes, value start, value end) from an Extensions SEQUENCE."""
    for ext in der_children(buf, el[2], el[3]):
        parts = der_children(buf, _expect(ext, 0x30, "extension")[2], ext[3])
        if len(parts) < 2:
            raise DERError("short extension")
        val = _expect(parts[-1], 0x04, "extension value")
        yield bytes(buf[parts[0][2]:parts[0][3]]), val[2], val[3]


class CRL:
    """What the plugin needs of a CRL: issuer, number, dates, revoked serials."""

    def __init__(self, der):
        if len(der) > MAX_DER:
            raise DERError(f"CRL of {len(der)} bytes is larger than {MAX_DER}")
        buf = memoryview(der)
        _, cs, ce = der_tlv(buf, 0, len(buf))
        top = der_children(buf, cs, ce)
        if len(top) != 3:
            raise DERError("not a CRL")
        tbs = iter(der_children(buf, _expect(top[0], 0x30, "tbsCertList")[2], top[0][3]))
        el = next(tbs, None)
        if el is not None and el[0] == 0x02:  # version
            el = next(tbs, None)
        _expect(el, 0x30, "signature algorithm")
        issuer = _expect(next(tbs, None), 0x30, "issuer")
        self.issuer = bytes(buf[issuer[1]:issuer[3]])
        self.this_update = der_time(buf, next(tbs, None) or (0, 0, 0, 0))
        self.next_update, self.number, self.revoked = None, None, set()
        for el in tbs:
            if el[0] in (0x17, 0x18):
                self.next_update = der_time(buf, el)
            elif el[0] == 0x30:
                for entry in der_children(buf, el[2], el[3]):
                    parts = der_children(buf, _expect(entry, 0x30, "revoked entry")[2], entry[3])
                    self.revoked.add(der_int(buf, parts[0] if parts else None))
            elif el[0] == 0xA0:
                exts = _expect(_first(der_children(buf, el[2], el[3])), 0x30, "extensions")
                for oid, vs, ve in _extensions(buf, exts):
                    if oid == OID_CRL_NUMBER:
                        tag, ns, ne = der_tlv(buf, vs, ve)
                        self.number = der_int(buf, (tag, vs, ns, ne))
            else:
                raise DERError("unexpected element in tbsCertList")


class Cert:
    """What the plugin needs of a certificate: serial, issuer, subject, URIs, DNS and IP SANs."""

    def __init__(self, der):
        if len(der) > 1 << 20:
            raise DERError("certificate larger than 1 MiB")
        buf = memoryview(der)
        _, cs, ce = der_tlv(buf, 0, len(buf))
        top = der_children(buf, cs, ce)
        tbs = der_children(buf, _expect(top[0] if top else None, 0x30, "tbsCertificate")[2], top[0][3])
        if tbs and tbs[0][0] == 0xA0:
            tbs = tbs[1:]
        if len(tbs) < 6:
            raise DERError("short tbsCertificate")
        self.serial = der_int(buf, tbs[0])
        self.issuer = bytes(buf[_expect(tbs[2], 0x30, "issuer")[1]:tbs[2][3]])
        self.subject = bytes(buf[_expect(tbs[4], 0x30, "subject")[1]:tbs[4][3]])
        self.uris, self.dns, self.ips = [], [], []
        for el in tbs[6:]:
            if el[0] != 0xA3:
                continue
            exts = _expect(_first(der_children(buf, el[2], el[3])), 0x30, "extensions")
            for oid, vs, ve in _extensions(buf, exts):
                if oid != OID_SAN:
                    continue
                _, ns, ne = der_tlv(buf, vs, ve)
                for name in der_children(buf, ns, ne):
                    value = bytes(buf[name[2]:name[3]])
                    if name[0] == 0x86:
                        self.uris.append(value.decode("ascii", "replace"))
                    elif name[0] == 0x82:
                        self.dns.append(value.decode("ascii", "replace").lower())
                    elif name[0] == 0x87:
                        self.ips.append(value)

    def identity(self):
        """(trust domain, role, name) of the daskca URI SAN, or None; raises on two or a bad one."""
        found = [u for u in self.uris if re.match(r"spiffe://[^/]*/dask/", u)]
        if not found:
            return None
        m = re.fullmatch(r"spiffe://([a-z0-9._-]+)/dask/(scheduler|worker|client)/([^/?#]+)", found[0])
        if len(found) > 1 or not m:
            raise DERError(f"malformed daskca identity {found!r}")
        return m.groups()

    def describe(self):
        try:
            _, role, name = self.identity() or ("-", "-", "-")
        except DERError:
            role, name = "?", "?"
        return f"role={role} name={name} serial={self.serial:x}"


def pem_blocks(data, label):
    """DER bodies of the PEM blocks of one label."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    try:
        return [base64.b64decode(re.sub(r"\s+", "", b), validate=True)
                for b in re.findall(rf"-----BEGIN {label}-----(.*?)-----END {label}-----", text, re.S)]
    except ValueError:
        raise MaterialError(f"a PEM {label} block is not valid base64") from None


def der_to_pem(der, label):
    b = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + f"\n-----END {label}-----\n"


# --- Material: one role's certificate, key, bundle and CRL ----------------

def _read(path, what):
    if "\n" in path:  # PEM text itself, as Dask allows
        return path.encode()
    try:
        with open(path, "rb") as f:
            return f.read(MAX_DER + 1)
    except OSError as e:
        raise MaterialError(f"cannot read the {what} {path}: {e.strerror or e}") from None


def handshake(server_ctx, client_ctx):
    """A TLS handshake in memory; raises ssl.SSLError when either side refuses."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    sides = [[client_ctx.wrap_bio(c_in, c_out, server_side=False), c_out, s_in, False],
             [server_ctx.wrap_bio(s_in, s_out, server_side=True), s_out, c_in, False]]
    for _ in range(16):
        for side in sides:
            try:
                side[3] = side[3] or side[0].do_handshake() or True
            except ssl.SSLWantReadError:
                pass
            side[2].write(side[1].read())
    if not (sides[0][3] and sides[1][3]):
        raise ssl.SSLError("handshake did not complete")
    sides[0][0].write(b"x")  # under TLS 1.3 a refused client certificate shows on the first read
    s_in.write(c_out.read())
    sides[1][0].read(1)


class Material:
    """The live TLS material of one (Security, role): reloadable, validated, swapped whole."""

    def __init__(self, plugin, security, role):
        self.plugin, self.security, self.role = plugin, security, role
        tls = security.get_tls_config_for_role(role)
        for what, key in (("CA bundle", "ca-file"), ("certificate", f"{role}.cert")):
            if not tls["ca_file" if what == "CA bundle" else "cert"]:
                raise MaterialError(f"no {what} is configured for the {role} (distributed.comm.tls.{key}); "
                                    "the plugin protects TLS clusters only")
        self.paths = {"CA bundle": tls["ca_file"], "certificate": tls["cert"], "key": tls.get("key"),
                      "CRL": plugin.settings.crl_file or None}
        self.stats, self.stale, self.last_error = self._stat(), set(), None
        self.current = self._build(None)
        self.warn_stale()

    def _stat(self):
        out = []
        for p in self.paths.values():
            try:
                st = os.stat(p) if p and "\n" not in p else None
                out.append(st and (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))
            except OSError:
                out.append("missing")
        return out

    def _build(self, old):
        """Read, parse, build and validate a new set (contexts and what the checks need);
        MaterialError says why not."""
        settings, raw = self.plugin.settings, {}
        for what, p in self.paths.items():
            if p:
                raw[what] = _read(p, what)
        ca_ders = pem_blocks(raw["CA bundle"], "CERTIFICATE")
        if not ca_ders:
            raise MaterialError(f"the CA bundle {self.paths['CA bundle']} holds no PEM certificate")
        chain = pem_blocks(raw["certificate"], "CERTIFICATE")
        if not chain:
            raise MaterialError(f"the certificate {self.paths['certificate']} holds no PEM certificate")
        try:
            cas = [Cert(d) for d in ca_ders + chain[1:]]
            own = Cert(chain[0])
            me = own.identity()
        except DERError as e:
            raise MaterialError(f"certificate {self.paths['certificate']}: {e}") from None
        if settings.policy == "strict":
            if me is None:
                raise MaterialError(f"our certificate ({own.describe()}) carries no daskca identity; the strict role "
                                    "policy needs one (issue it with daskca, or set daskca.role-policy: dask)")
            if me[1] != self.role:
                raise MaterialError(f"our certificate is spiffe://{me[0]}/dask/{me[1]}/{me[2]}, not a {self.role} certificate")
        crls, crl_pem = self._crls(raw.get("CRL"), cas, old)
        revoked = {(c.issuer, s) for c in crls.values() for s in c.revoked}
        if (own.issuer, own.serial) in revoked:
            raise MaterialError(f"our own certificate ({own.describe()}) is revoked by {self.paths['CRL']}")
        # OpenSSL checks the CRL in the handshake itself when every CA that issues
        # leaves has a CRL that is not about to expire; otherwise the Python check
        # after the handshake (always on) is what refuses revoked peers.
        leaf_issuers = {c.subject for c in cas} - {c.issuer for c in cas if c.issuer != c.subject}
        soon = time.time() + 2 * settings.interval
        openssl_crl = bool(crls) and leaf_issuers <= set(crls) and all(
            c.next_update is None or c.next_update > soon for c in crls.values())
        tls = dict(self.security.get_tls_config_for_role(self.role))
        tls["ca_file"] = raw["CA bundle"].decode("ascii", "replace")
        try:
            server = self.plugin.orig_context(self.security, tls, ssl.Purpose.CLIENT_AUTH)
            client = self.plugin.orig_context(self.security, tls, ssl.Purpose.SERVER_AUTH)
            if openssl_crl:
                self._load_crl(server, client, crl_pem)
            if self.role in ("scheduler", "worker"):
                handshake(server, client)
            else:  # a client certificate cannot serve; prove it as a client only
                client.verify_mode = ssl.CERT_NONE
                try:
                    handshake(server, client)
                finally:
                    client.verify_mode = ssl.CERT_REQUIRED
        except (ssl.SSLError, OSError, ValueError) as e:
            why = str(e)
            if "CRL" in why and "expired" not in why:
                why = f"no CRL in the file verifies against the CA that issued our certificate ({why})"
            raise MaterialError(f"the set does not validate ({own.describe()}): {why}") from None
        for what, p in self.paths.items():  # a file that changed while we built is retried next poll
            if p and _read(p, what) != raw[what]:
                raise MaterialError(f"the {what} {p} changed while it was loaded")
        return types.SimpleNamespace(server=server, client=client, own=own, me=me, crls=crls, revoked=revoked,
                                     openssl_crl=openssl_crl, digest=hashlib.sha256(b"".join(raw.values())).hexdigest())

    def _crls(self, data, cas, old):
        if data is None:
            return {}, ""
        ders = pem_blocks(data, "X509 CRL") or [data]
        crls = {}
        for der in ders:
            try:
                crl = CRL(der)
            except DERError as e:
                raise MaterialError(f"the CRL {self.paths['CRL']} cannot be read: {e}") from None
            if crl.issuer not in {c.subject for c in cas}:
                if old is None:  # at start: the wrong file is configured
                    raise MaterialError(f"the CRL {self.paths['CRL']} is from a CA that is not in the CA bundle")
                log.warning("daskca plugin: ignoring a CRL in %s from a CA that is no longer in the CA bundle", self.paths["CRL"])
                continue
            crls[crl.issuer] = crl
        if old is not None:
            subjects = {c.subject for c in cas}
            for issuer, prev in old.crls.items():
                new = crls.get(issuer)
                if new is None and issuer in subjects:
                    raise MaterialError(f"the CRL file {self.paths['CRL']} no longer holds the CRL of a CA that is "
                                        "still in the bundle; keeping the loaded one")
                if new is not None and prev.number is not None and (new.number or -1) < prev.number:
                    raise MaterialError(f"the CRL {self.paths['CRL']} has number {new.number}, older than the "
                                        f"loaded number {prev.number}; keeping the newer one")
        return crls, "".join(der_to_pem(d, "X509 CRL") for d in ders)

    @staticmethod
    def _load_crl(server, client, crl_pem):
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:  # cadata takes certificates only
            f.write(crl_pem)
            f.flush()
            for ctx in (server, client):
                ctx.load_verify_locations(cafile=f.name)
                ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF

    def warn_stale(self):
        """Warn once per CRL that is past its next update: it stays in use."""
        for c in self.current.crls.values():
            if c.next_update is not None and c.next_update < time.time() and (c.issuer, c.number) not in self.stale:
                self.stale.add((c.issuer, c.number))
                log.warning("daskca plugin: the CRL %s (number %s) is past its next update (%s); it is still used, "
                            "publish a fresh one", self.paths["CRL"], c.number,
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c.next_update)))

    def poll(self):
        """Reload when a file changed (or the CRL nears nextUpdate); swap only a valid set."""
        self.warn_stale()
        stats, cur = self._stat(), self.current
        expiring = cur.openssl_crl and any(c.next_update is not None and c.next_update <= time.time() + 2 * self.plugin.settings.interval
                                           for c in cur.crls.values())
        if stats == self.stats and not expiring:
            return
        try:
            new = self._build(cur)
        except MaterialError as e:
            if "changed while it was loaded" not in str(e):
                self.stats = stats
            if str(e) != self.last_error:
                log.warning("daskca plugin: keeping the current %s material: %s", self.role, e)
                self.last_error = str(e)
            return
        self.stats, self.last_error = stats, None
        if new.digest == cur.digest and new.openssl_crl == cur.openssl_crl:
            return
        self.current = new
        self.warn_stale()
        log.info("daskca plugin: new %s material in use (%s, CRL check %s)", self.role, new.own.describe(),
                 "in the handshake" if new.openssl_crl else "after the handshake" if new.crls else "off")
        if new.revoked - cur.revoked:
            self.plugin.drop_revoked(new.revoked)


class LiveContext(ssl.SSLContext):
    """An SSLContext that hands each new connection to the current material's context."""

    def __new__(cls, material, server_side):
        self = super().__new__(cls, ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
        self.material, self.server_side = material, server_side
        if not server_side:
            self.check_hostname = False
        self.verify_mode = ssl.CERT_REQUIRED
        return self

    def __init__(self, material, server_side):  # SSLContext takes no __init__ arguments
        pass

    def _now(self):
        snap = self.material.current
        return snap.server if self.server_side else snap.client

    def wrap_socket(self, *args, **kwargs):
        return self._now().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args, **kwargs):
        return self._now().wrap_bio(*args, **kwargs)


# --- Policy and peers -----------------------------------------------------

class Policy:
    """The strict role policy table daskca embedded (transport.PolicyTable)."""

    def __init__(self, text):
        if "@DASKCA_" in text:
            raise fail("this plugin file was not rendered by daskca (the policy table is missing); "
                              "write it with `daskca config` or `daskca export`")
        try:
            rows = json.loads(text)
            self.rows = {(r["local"], r["op"]): r for r in rows}
        except (ValueError, KeyError, TypeError) as e:
            raise fail(f"the embedded policy table is malformed: {e}") from None

    def row(self, local, op):
        return self.rows.get((local, op))

    def allowed(self, local, op, peer_role):
        r = self.row(local, op)
        return r is not None and peer_role in r["peers"]


def peer_cert(comm_or_stream):
    """The peer's leaf certificate (Cert) of a TLS comm or tornado stream, or None."""
    sock = getattr(getattr(comm_or_stream, "stream", comm_or_stream), "socket", None)
    try:
        return Cert(sock.getpeercert(binary_form=True)) if sock is not None else None
    except (ValueError, OSError, TypeError):  # DERError is a ValueError; no certificate gives None
        return None


class Plugin:
    """Process-wide state: settings, materials, hooks, live comms, the reload thread."""

    def __init__(self):
        self.settings = Settings(dask.config.get("daskca", default=None))
        self.policy = Policy(POLICY_TABLE_JSON)
        self.materials = {}
        self.objects = weakref.WeakSet()
        self.comms = weakref.WeakKeyDictionary()  # TLS comm -> (loop, Cert)
        self.registered = {}  # scheduler id -> {worker address: identity}
        self.refusals = {}
        self.lock = threading.RLock()
        self.thread = None
        self.orig_context = None

    # -- materials and contexts
    def material(self, security, role):
        key = (role, security.tls_ca_file, getattr(security, f"tls_{role}_cert"),
               getattr(security, f"tls_{role}_key"), security.tls_ciphers, security.tls_min_version, security.tls_max_version)
        with self.lock:
            m = self.materials.get(key)
            if m is None:
                m = self.materials[key] = Material(self, security, role)
                self._start_reloader()
            return m

    def live_args(self, args, security, role, server_side):
        if isinstance(args.get("ssl_context"), ssl.SSLContext) and not isinstance(args["ssl_context"], LiveContext):
            try:
                args["ssl_context"] = LiveContext(self.material(security, role), server_side)
            except MaterialError as e:
                raise fail(f"{role} TLS material: {e}") from None
        return args

    def _start_reloader(self):
        if self.settings.reload and self.thread is None:
            self.thread = threading.Thread(target=self._reload_loop, name="daskca-reload", daemon=True)
            self.thread.start()

    def _reload_loop(self):
        while True:
            time.sleep(self.settings.interval)
            with self.lock:
                materials = list(self.materials.values())
            for m in materials:
                try:
                    m.poll()
                except Exception:  # never let the reloader die
                    log.exception("daskca plugin: reloading the %s material failed", m.role)

    # -- decisions
    def limited(self, key):
        """None when a line for key was logged within REFUSAL_LOG_EVERY, else how many were held back."""
        now, (last, n) = time.monotonic(), self.refusals.get(key, (-REFUSAL_LOG_EVERY, 0))
        if now - last < REFUSAL_LOG_EVERY:
            self.refusals[key] = (last, n + 1)
            return None
        if len(self.refusals) > 4096:
            self.refusals.clear()
        self.refusals[key] = (now, 0)
        return n

    def refuse(self, what, cert, reason):
        """Log a refusal (rate-limited per peer and reason) and return the answer's text."""
        n = self.limited((what, cert.serial if cert else None, reason))
        if n is not None:
            log.warning("daskca plugin: refused %s from %s: %s%s", what, cert.describe() if cert else "a peer without certificate",
                        reason, f" ({n} more since the last report)" if n else "")
        return f"daskca: refused {what}: {reason}"

    def check(self, material, local, op, cert, *, roles=None):
        """None when the peer may do op, else the reason it may not."""
        if cert is None:
            return "no peer certificate"
        snap = material.current
        if (cert.issuer, cert.serial) in snap.revoked:
            return "certificate is revoked"
        if self.settings.policy == "dask":
            return None
        try:
            ident = cert.identity()
        except DERError as e:
            return str(e)
        if ident is None:
            return "certificate carries no daskca identity (the strict role policy needs one)"
        if ident[0] != snap.me[0]:
            return f"certificate is from trust domain {ident[0]!r}, ours is {snap.me[0]!r}"
        if roles is not None:
            if ident[1] not in roles:
                return f"certificate has role {ident[1]}; only {'/'.join(roles)} may do that"
        elif not self.policy.allowed(local, op, ident[1]):
            row = self.policy.row(local, op)
            return f"certificate has role {ident[1]}; a {local} allows {op} only to {', '.join(row['peers']) if row else 'nobody'}"
        return None

    def scheduler_addresses(self):
        out = set()
        for obj in list(self.objects):
            for a in (getattr(getattr(obj, "scheduler", None), "address", None), getattr(obj, "scheduler_addr", None),
                      getattr(obj, "_start_arg", None), getattr(getattr(obj, "cluster", None), "scheduler_address", None)):
                if isinstance(a, str):
                    out.add(a.split("://")[-1].lower())
        a = dask.config.get("scheduler-address", default=None)
        if isinstance(a, str):
            out.add(a.split("://")[-1].lower())
        return out

    def drop_revoked(self, revoked):
        """Close the established comms of peers a new CRL revokes."""
        with self.lock:
            comms = list(self.comms.items())
        for comm, (loop, cert) in comms:
            if (cert.issuer, cert.serial) in revoked and not comm.closed():
                log.warning("daskca plugin: closing the connection %s of revoked peer %s", comm.peer_address, cert.describe())
                try:
                    loop.call_soon_threadsafe(comm.abort)
                except RuntimeError:  # loop closed
                    pass


# --- Hooks ----------------------------------------------------------------

def _need(obj, name, where):
    if not hasattr(obj, name):
        raise fail(f"cannot hook {where}.{name}: not found in this Dask version")
    return getattr(obj, name)


class HandshakeLogLimit(logging.Filter):
    """Dask logs every failed TLS handshake; a refused peer retries ~10 times a
    second. Let one line per remote host and error through per REFUSAL_LOG_EVERY."""

    def __init__(self, plugin):
        super().__init__()
        self.plugin = plugin

    def filter(self, record):
        if "TLS handshake failed" not in str(record.msg) or not isinstance(record.args, tuple) or len(record.args) < 3:
            return True
        n = self.plugin.limited(("handshake", str(record.args[1]).rsplit(":", 1)[0], str(record.args[2])))
        if n is None:
            return False
        if n:
            record.msg = str(record.msg) + f" ({n} more from this host since the last report)"
        return True


def install_process_hooks(plugin):
    """Class-level hooks, once per process: contexts, listeners, dialers, comms."""
    from distributed.comm import core as comm_core, tcp
    from distributed.security import Security

    plugin.orig_context = _need(Security, "_get_tls_context", "distributed.security.Security")
    orig_conn = _need(Security, "get_connection_args", "distributed.security.Security")
    orig_listen = _need(Security, "get_listen_args", "distributed.security.Security")
    _need(Security, "get_tls_config_for_role", "distributed.security.Security")
    orig_prepare = _need(tcp.TLSListener, "_prepare_stream", "distributed.comm.tcp.TLSListener")
    orig_connect = _need(tcp.TLSConnector, "connect", "distributed.comm.tcp.TLSConnector")
    orig_extra = _need(tcp.TLS, "_read_extra", "distributed.comm.tcp.TLS")
    fatal = _need(comm_core, "FatalCommClosedError", "distributed.comm.core")

    def get_connection_args(self, role):
        return plugin.live_args(orig_conn(self, role), self, role, False)

    def get_listen_args(self, role):
        return plugin.live_args(orig_listen(self, role), self, role, True)

    async def _prepare_stream(self, stream, address):
        stream = await orig_prepare(self, stream, address)
        if stream is None:
            return None
        ctx = self.server_args.get("ssl_options")
        cert = peer_cert(stream)
        if not isinstance(ctx, LiveContext):
            why = plugin.refuse("a connection", cert, "this listener's TLS context was not built through the daskca plugin")
        else:
            why = plugin.check(ctx.material, ctx.material.role, "accept", cert)
            why = why and plugin.refuse(f"a connection to the {ctx.material.role} listener", cert, why)
        if why:
            stream.close()
            return None
        return stream

    async def connect(self, address, deserialize=True, **connection_args):
        comm = await orig_connect(self, address, deserialize=deserialize, **connection_args)
        ctx, cert = connection_args.get("ssl_context"), peer_cert(comm)
        if not isinstance(ctx, LiveContext):
            why = "this dialer's TLS context was not built through the daskca plugin"
        else:
            local = ctx.material.role
            why = plugin.check(ctx.material, local, "dial", cert)
            if why is None and address.lower() in plugin.scheduler_addresses():
                row = plugin.policy.row(local, "dial-scheduler")
                why = plugin.check(ctx.material, local, "dial-scheduler", cert, roles=row["peers"] if row else ["scheduler"])
            if why is None and plugin.settings.verify_hostname:
                why = _check_hostname(cert, address)
        if why:
            comm.abort()
            raise fatal(plugin.refuse(f"the server at tls://{address}", cert, why))
        return comm

    def _read_extra(self):
        orig_extra(self)
        cert = peer_cert(self)
        if cert is not None:
            try:
                import asyncio

                with plugin.lock:
                    plugin.comms[self] = (asyncio.get_running_loop(), cert)
            except (RuntimeError, TypeError):
                pass

    logging.getLogger("distributed.comm.tcp").addFilter(HandshakeLogLimit(plugin))
    for cls, name, fn in ((Security, "get_connection_args", get_connection_args), (Security, "get_listen_args", get_listen_args),
                          (tcp.TLSListener, "_prepare_stream", _prepare_stream), (tcp.TLSConnector, "connect", connect),
                          (tcp.TLS, "_read_extra", _read_extra)):
        fn.__daskca__ = True
        setattr(cls, name, fn)


def _check_hostname(cert, address):
    import ipaddress

    host = address.rsplit(":", 1)[0].strip("[]").lower()
    try:
        if ipaddress.ip_address(host).packed in cert.ips:
            return None
    except ValueError:
        if host in cert.dns or any(d.startswith("*.") and host.split(".", 1)[-1] == d[2:] for d in cert.dns):
            return None
    return f"certificate does not name the host {host} (daskca.verify-hostname is on)"


SCHEDULER_OPS = {  # handler name in Dask -> (method, policy op, fallback op)
    "register-worker": ("add_worker", "register-worker", None),
    "heartbeat_worker": ("heartbeat_worker", "heartbeat_worker", None),
    "unregister": ("remove_worker", "unregister", None),
    "register-client": ("add_client", "register-client", None),
    "register_nanny": ("add_nanny", "register_nanny", "register-worker"),
}


def hook_scheduler(plugin, sched, material):
    """Instance-level guards on the scheduler's handlers (its table is built after import)."""
    from distributed.comm.core import Comm
    from distributed.comm.tcp import TLS
    from distributed.core import _expects_comm

    registered = plugin.registered.setdefault(id(sched), {})
    for handler, (method, op, fallback) in SCHEDULER_OPS.items():
        orig = _need(sched, method, "distributed.scheduler.Scheduler")
        if plugin.policy.row("scheduler", op) is None and fallback:
            op = fallback
        row = plugin.policy.row("scheduler", op)
        guard = _make_guard(plugin, sched, material, registered, orig, handler, op, row, (Comm, TLS), _expects_comm(orig))
        if isinstance(getattr(sched, "handlers", None), dict):
            sched.handlers[handler] = guard
        else:
            setattr(sched, method, guard)


def _make_guard(plugin, sched, material, registered, orig, handler, op, row, classes, expects):
    Comm, TLS = classes
    def address_of(kw):
        from distributed.comm.addressing import normalize_address

        try:
            return normalize_address(sched.coerce_address(kw["address"], kw.get("resolve_address", True)))
        except Exception:
            return kw.get("address")

    def decide(comm, kw):
        cert = peer_cert(comm)
        if not isinstance(comm, TLS):
            return None, cert  # tcp:// comms: require-encryption is the control
        why = plugin.check(material, "scheduler", op, cert)
        if why is None and row and row.get("same_worker") and plugin.settings.policy == "strict":
            owner = registered.get(address_of(kw))
            if owner is not None and owner != cert.identity():
                why = f"worker {kw.get('address')} was registered by spiffe://{owner[0]}/dask/{owner[1]}/{owner[2]}"
        return why and plugin.refuse(f"{handler} on the scheduler", cert, why), cert

    async def refused(comm, msg):
        if handler == "register-client":
            await comm.write([{"op": "stream-start", "error": msg}])
        elif handler == "register-worker" or (handler == "register_nanny" and expects):
            await comm.write({"status": "error", "message": msg, "time": time.time()})
        else:
            return {"status": "error", "message": msg}

    def passthrough(comm, args, kw):
        return orig(*((comm,) + args if comm is not None else args), **kw)

    if inspect.iscoroutinefunction(orig):
        async def guard(comm=None, *args, **kw):
            if not isinstance(comm, Comm):
                return await passthrough(comm, args, kw)
            why, cert = decide(comm, kw)
            if why:
                return await refused(comm, why)
            if handler != "register-worker" or cert is None:
                return await (orig(comm, *args, **kw) if expects else orig(*args, **kw))
            # Dask's add_worker returns only when the worker's stream ends: note
            # the owner of a new address first, forget it when it is gone.
            addr, ident = address_of(kw), cert.identity()
            if addr not in sched.workers:
                registered[addr] = ident
            try:
                return await orig(comm, *args, **kw)
            finally:
                if addr not in sched.workers and registered.get(addr) == ident:
                    del registered[addr]
    else:
        def guard(comm=None, *args, **kw):
            if not isinstance(comm, Comm):
                return passthrough(comm, args, kw)
            why, _ = decide(comm, kw)
            if why:
                return {"status": "error", "message": why}
            return orig(comm, *args, **kw) if expects else orig(*args, **kw)

    guard.__signature__ = inspect.Signature([inspect.Parameter("comm", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
                                             inspect.Parameter("kw", inspect.Parameter.VAR_KEYWORD)])
    guard.__name__ = guard.__qualname__ = method_name = getattr(orig, "__name__", handler)
    guard.__doc__ = f"{method_name}, guarded by the daskca plugin"
    return guard


# --- Import: find the Dask object, hook it, or refuse to let it run ---------

def _caller_object():
    """The Dask object whose Preload imports us, and the frames above it."""
    from distributed.preloading import Preload

    frame = sys._getframe(1)
    seen_preload_module = False
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("distributed", "preloading.py")):
            seen_preload_module = True
            me = frame.f_locals.get("self")
            if isinstance(me, Preload):
                if not hasattr(me, "dask_object"):
                    raise fail("cannot hook distributed.preloading.Preload.dask_object: not found in this Dask version")
                return me.dask_object, frame
        frame = frame.f_back
    if seen_preload_module:
        raise fail("cannot find the Dask object that loads this preload (distributed.preloading.Preload changed)")
    return None, None


def _security_of(obj, frame):
    """The object's Security; Worker 2022.12 builds it after its preloads, so read __init__'s argument.

    `dask scheduler|worker --tls-*` hand the object a dict of Security's
    arguments, which it turns into a Security only after its preloads ran.
    """
    from distributed.security import Security

    def usable(v):
        return isinstance(v, (Security, dict))

    sec = getattr(obj, "security", None)
    if not usable(sec):
        sec = None
    while sec is None and frame is not None:
        if frame.f_locals.get("self") is obj and usable(frame.f_locals.get("security")):
            sec = frame.f_locals["security"]
        frame = frame.f_back
    if isinstance(sec, dict):
        sec = Security(**sec)
    return sec if sec is not None else Security()


def _role_of(obj, frame):
    """The certificate role of obj, as Dask's Security picks it."""
    from distributed import Client, Nanny, Scheduler, Worker

    for cls, role in ((Scheduler, "scheduler"), (Nanny, "worker"), (Worker, "worker")):
        if isinstance(obj, cls):
            return role
    if isinstance(obj, Client):  # Client(name="worker"), a task's get_client(), uses the worker's
        ctx = (getattr(obj, "connection_args", None) or {}).get("ssl_context")
        if isinstance(ctx, LiveContext):
            return ctx.material.role
        while frame is not None:
            if frame.f_locals.get("self") is obj and "name" in frame.f_locals:
                return "worker" if frame.f_locals["name"] == "worker" else "client"
            frame = frame.f_back
        return "client"
    raise fail(f"cannot hook a {type(obj).__name__}: the plugin protects Scheduler, Worker, Nanny and Client")


def activate():
    """Hook this process and the object that loads us; raises PluginError on anything missing."""
    state = sys.modules.setdefault("_daskca_plugin_state", type(sys)("_daskca_plugin_state"))
    obj, frame = _caller_object()
    if obj is None:
        return None  # imported as a library (tests of the DER reader): nothing to protect
    plugin = getattr(state, "plugin", None)
    if plugin is None:
        version = distributed.__version__.split("+")[0]
        if version not in TESTED_VERSIONS:
            log.warning("daskca plugin: Dask %s is not a version this plugin was tested on (%s); its hooks are in "
                        "place, check `daskca probe` against this cluster", version, ", ".join(TESTED_VERSIONS))
        try:
            plugin = Plugin()
        except MaterialError as e:
            raise fail(str(e)) from None
        install_process_hooks(plugin)
        state.plugin = plugin
    if obj in plugin.objects:
        return plugin  # Dask imports the file, then reloads it: one activation per object
    role = _role_of(obj, frame)
    security = _security_of(obj, frame)
    try:
        material = plugin.material(security, role)
    except MaterialError as e:
        raise fail(f"{role} TLS material: {e}") from None
    for args in (getattr(obj, "connection_args", None), getattr(getattr(obj, "rpc", None), "connection_args", None)):
        if isinstance(args, dict):  # built before we were imported (Nanny, Client, Worker 2024.12)
            plugin.live_args(args, security, role, False)
    from distributed import Nanny, Scheduler

    if isinstance(obj, Scheduler):
        hook_scheduler(plugin, obj, material)
    if isinstance(obj, Nanny):  # the worker process it starts must load us too
        preload = _need(obj, "preload", "distributed.nanny.Nanny")
        preload = [preload] if isinstance(preload, str) else list(preload or [])
        if not any(os.path.basename(str(p)) == os.path.basename(__file__) for p in preload):
            obj.preload = preload + [os.path.abspath(__file__)]
    plugin.objects.add(obj)
    log.info("daskca plugin: protecting %s as %s (%s, role policy %s, CRL check %s, reload %s)", type(obj).__name__, role,
             material.current.own.describe(), plugin.settings.policy,
             "in the handshake" if material.current.openssl_crl else "after the handshake" if material.current.crls else "off",
             f"every {plugin.settings.interval:g}s" if plugin.settings.reload else "off")
    return plugin


# Dask imports this file and then reloads it, which runs this body again in
# the same module: keep the first run's classes and functions, so that the
# contexts and hooks already made stay instances of what the code checks.
_state = sys.modules.setdefault("_daskca_plugin_state", type(sys)("_daskca_plugin_state"))
if hasattr(_state, "definitions"):
    globals().update(_state.definitions)
else:
    _state.definitions = {k: v for k, v in globals().items() if not k.startswith("__")}
try:
    activate()
except PluginError:
    raise
except Exception as e:  # still one line naming the cause
    raise fail(f"unexpected {type(e).__name__}: {e}") from e
