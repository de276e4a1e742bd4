package snippet

import (
	"encoding/base32"
	"strings"

	"github.com/daskca/daskca/identity"
)

// secretPrefix starts every Secret name daskca renders.
const secretPrefix = "dask-tls-"

// nameCode encodes an endpoint name into the tail of a Secret name:
// lower-case base32 (a-z, 2-7), no padding, never a '-'.
var nameCode = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// SecretName returns the name of the Kubernetes Secret that holds the files
// of endpoint (role, name). Two distinct endpoints never get the same name,
// and every name is a valid Kubernetes object name (a lower-case RFC 1123
// subdomain of at most 253 characters):
//
//   - A name that is already a lower-case subdomain without "--" is used as
//     it is: dask-tls-worker-node07, dask-tls-worker-node07.example.org.
//   - Any other name (upper case, '_', "--", a label that starts or ends
//     with '-', a trailing '.') is made readable — lower-cased, '_' as '-',
//     labels trimmed of '-', empty labels dropped — and followed by "--" and
//     the exact name in lower-case base32: Node2 becomes
//     dask-tls-worker-node2--jzxwizjs, node_2 dask-tls-worker-node-2--nzxwizk7gi.
//
// The role is spelled out after the prefix, and the roles begin with
// different letters. Names of the first kind have no "--"; names of the
// second kind end in "--" and a code without '-', which decodes to the exact
// name. So no two (role, name) pairs meet. With names of at most 64
// characters the longest result is 188 characters.
func SecretName(role identity.Role, name string) string {
	readable := readableLabel(name)
	out := secretPrefix + string(role) + "-" + readable
	if readable == name && !strings.Contains(name, "--") {
		return out
	}
	return out + "--" + nameCode.EncodeToString([]byte(name))
}

// readableLabel lower-cases name, turns '_' into '-', trims '-' from the
// ends of each dot-separated label and drops labels left empty. The result
// of an endpoint name (which starts with a letter or digit) is never empty.
func readableLabel(name string) string {
	s := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	var labels []string
	for _, l := range strings.Split(s, ".") {
		if l = strings.Trim(l, "-"); l != "" {
			labels = append(labels, l)
		}
	}
	return strings.Join(labels, ".")
}

// labelValue returns name as a Kubernetes label value, or false when it is
// not one (longer than 63 characters, or not starting and ending with a
// letter or digit); the exact name is always in an annotation.
func labelValue(name string) (string, bool) {
	if name == "" || len(name) > 63 || !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return "", false
		}
	}
	return name, true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
