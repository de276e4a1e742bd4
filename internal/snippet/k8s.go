package snippet

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// Material is the content of an endpoint's files, for forms that embed it.
type Material struct {
	CA, Cert, Key []byte // Key is nil when Cert is the combined file
	CRL           []byte // nil when the home has no CRL
	Plugin        []byte // daskca's Dask plugin; nil to leave it out (--no-plugin)
}

// endpoint returns the file paths of m's files under prefix.
func (m Material) endpoint(role identity.Role, name, prefix string) Endpoint {
	ep := Files(role, name, prefix, m.Key == nil)
	if m.CRL != nil {
		ep = ep.WithCRL(prefix)
	}
	if m.Plugin != nil {
		ep = ep.WithPlugin(prefix)
	}
	return ep
}

// K8sSecret renders a Kubernetes Secret holding the endpoint's files (and
// crl.pem when m has a CRL, daskca_plugin.py when m has the plugin), followed
// by the pod spec fragment (as comments, so the output applies as is) that
// mounts it at prefix and points Dask at it.
func K8sSecret(role identity.Role, name, prefix string, m Material, o Options) (string, error) {
	ep := m.endpoint(role, name, prefix)
	data := map[string]string{CAName: string(m.CA)}
	if m.Key == nil {
		data[CombinedName] = string(m.Cert)
	} else {
		data[CertName], data[KeyName] = string(m.Cert), string(m.Key)
	}
	if m.CRL != nil {
		data[CRLName] = string(m.CRL)
	}
	if m.Plugin != nil {
		data[PluginName] = string(m.Plugin)
	}
	secretName := SecretName(role, name)
	labels := map[string]string{"app.kubernetes.io/managed-by": "daskca", "daskca.io/role": string(role)}
	if v, ok := labelValue(name); ok {
		labels["daskca.io/name"] = v
	}
	secret := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "Opaque",
		"metadata": map[string]any{
			"name":        secretName,
			"labels":      labels,
			"annotations": map[string]string{"daskca.io/name": name},
		},
		"stringData": data,
	}
	body, err := marshal(secret)
	if err != nil {
		return "", err
	}
	pod := map[string]any{
		"volumes":      []any{map[string]any{"name": "dask-tls", "secret": map[string]any{"secretName": secretName, "defaultMode": 0o400}}},
		"volumeMounts": []any{map[string]any{"name": "dask-tls", "mountPath": prefix, "readOnly": true}},
		"env":          envList(Config(ep, o).Env()),
	}
	frag, err := marshal(pod)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Kubernetes Secret with the TLS files of %s %s.\n", role, name)
	b.Write(body)
	b.WriteString("# Pod spec: add the volume, mount it in the Dask container, and set its env:\n")
	for _, line := range strings.Split(strings.TrimRight(string(frag), "\n"), "\n") {
		b.WriteString("#   " + line + "\n")
	}
	if ep.Plugin != "" && role == identity.Worker {
		fmt.Fprintf(&b, "# dask worker ignores distributed.nanny.preload from config: add --preload-nanny %s to its args.\n", ep.Plugin)
	}
	return b.String(), nil
}

func envList(vars []daskconfig.EnvVar) []any {
	var out []any
	for _, v := range vars {
		out = append(out, map[string]string{"name": v.Name, "value": v.Value})
	}
	return out
}

// marshal writes YAML with the two-space indentation Kubernetes manifests use.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
