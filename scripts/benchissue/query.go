package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/daskca/daskca/store"
)

// runQuery times the inventory queries behind "list --expiring-within"
// without the printing: the expiry index read from its start (what List
// with NotAfterBefore does) and read from now (ExpiringBetween).
func runQuery(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	db := fs.String("db", "", "inventory file")
	within := fs.Duration("within", 30*24*time.Hour, "expiring within")
	_ = fs.Parse(args)
	s, err := store.Open(*db, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	n, start := 0, time.Now()
	err = s.ExpiringBefore(now.Add(*within), func(r store.Record) error {
		if r.Status == store.Active && !r.Expired(now) {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("query: ExpiringBefore(now+%v), expired ones skipped: %d records in %.3fs\n", *within, n, time.Since(start).Seconds())
	n, start = 0, time.Now()
	err = s.ExpiringBetween(now, now.Add(*within), func(r store.Record) error {
		if r.Status == store.Active {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("query: ExpiringBetween(now, now+%v): %d records in %.3fs\n", *within, n, time.Since(start).Seconds())
	return nil
}
