package daskconfig_test

import (
	"fmt"
	"log"

	"github.com/daskca/daskca/transport/daskconfig"
)

// ParseYAML reads a Dask configuration file with PyYAML's YAML 1.1 rules,
// so "yes" is true here as it is to Dask.
func ExampleParseYAML() {
	cfg, err := daskconfig.ParseYAML([]byte(`
distributed:
  comm:
    require-encryption: yes
    default-scheme: tls
    tls:
      ca-file: /etc/dask/ca.pem
      min-version: 1.3
      worker:
        cert: /etc/dask/worker.pem
        key: /etc/dask/worker-key.pem
daskca:
  role-policy: strict
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.EncryptionRequired(), cfg.TLS.MinVersion, cfg.TLS.Worker.Cert, cfg.Daskca.Policy())
	a, err := cfg.ParseAddr("10.0.0.5:8786") // a bare address takes the default scheme
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a)
	// Output:
	// true 1.3 /etc/dask/worker.pem strict
	// tls://10.0.0.5:8786
}

// LoadConfig reads Dask's files and then its DASK_* variables, whose values
// are Python literals; here only the environment, passed explicitly.
func ExampleLoadConfig() {
	cfg, err := daskconfig.LoadConfig(daskconfig.LoadOptions{
		Dirs: []string{}, // no files; nil would search Dask's directories
		Environ: []string{
			"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True",
			"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/etc/dask/ca.pem",
			"DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=/home/ana/client.pem",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.EncryptionRequired(), cfg.TLS.CAFile, cfg.TLS.Client.Cert)
	// Output: true /etc/dask/ca.pem /home/ana/client.pem
}

// A Config renders as the environment variables Dask reads (and, with
// Config.YAML, as its YAML file): what `daskca config` prints.
func ExampleConfig_Env() {
	yes := true
	cfg := daskconfig.Config{
		RequireEncryption: &yes,
		TLS: daskconfig.TLSConfig{
			CAFile: "/etc/dask/ca.pem",
			Worker: daskconfig.RoleFiles{Cert: "/etc/dask/worker.pem", Key: "/etc/dask/worker-key.pem"},
		},
	}
	for _, v := range cfg.Env() {
		fmt.Printf("%s=%s\n", v.Name, v.Value)
	}
	// Output:
	// DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True
	// DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/etc/dask/ca.pem
	// DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT=/etc/dask/worker.pem
	// DASK_DISTRIBUTED__COMM__TLS__WORKER__KEY=/etc/dask/worker-key.pem
}

// ParseCiphers maps an OpenSSL cipher string to Go's TLS 1.2 suites and
// names what Go does not implement.
func ExampleParseCiphers() {
	ids, skipped, err := daskconfig.ParseCiphers("ECDHE+AESGCM:DHE-RSA-AES128-GCM-SHA256")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ids), skipped) // the four ECDHE AES-GCM suites; Go has no DHE
	// Output: 4 [DHE-RSA-AES128-GCM-SHA256]
}
