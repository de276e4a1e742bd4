// Command benchissue is the Go half of scripts/bench-issue.
//
//	benchissue raw [-n 20000] [-workers N] [-dir DIR]
//	                                         the raw limit: P-256 key, signature and PEM;
//	                                         with -dir, also the least writing the files costs
//	benchissue fill -db FILE [-n 1000000]    a large inventory of generated records
//	benchissue query -db FILE [-within 30d]  time the expiring query without printing
//
// raw measures what the hardware allows for the leaf profile daskca issues:
// a P-256 key from crypto/ecdsa, a certificate signed by an in-memory P-256
// CA with crypto/x509 (the same subject, SANs, key usages, key identifiers
// and 159-bit random serial), and both encoded as PEM, in a bare loop on
// every core. Nothing is written, recorded or checked beyond what
// crypto/x509 does itself.
//
// fill adds generated records to an inventory with store/storetest: the
// certificates parse but their signatures are NOT valid, which is fine for
// timing queries and sizing the file.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/store/storetest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchissue raw|fill|query [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "raw":
		err = runRaw(os.Args[2:])
	case "fill":
		err = runFill(os.Args[2:])
	case "query":
		err = runQuery(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchissue:", err)
		os.Exit(1)
	}
}

func runFill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	db := fs.String("db", "", "inventory file (created if missing)")
	n := fs.Int("n", 1_000_000, "records to add")
	lifetime := fs.Duration("lifetime", 365*24*time.Hour, "certificate lifetime; NotAfter spreads from lifetime/2 ago to one lifetime ahead")
	_ = fs.Parse(args)
	if *db == "" {
		return fmt.Errorf("fill: -db is required")
	}
	s, err := store.Open(*db, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	o := storetest.Options{Now: time.Now(), Lifetime: *lifetime, TrustDomain: "bench-ca", Seed: uint64(start.UnixNano())}
	if err := storetest.Fill(s, *n, o); err != nil {
		return err
	}
	fmt.Printf("fill: %d records in %.1fs\n", *n, time.Since(start).Seconds())
	return nil
}
