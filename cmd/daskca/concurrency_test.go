package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// TestConcurrentIssue starts several daskca processes issuing into one home
// at the same moment, first one certificate each, then a bulk run of 300
// each (which holds the inventory lock long enough for others to time
// out). Each process must succeed or fail with the lock-timeout error and
// its hint; afterwards no serial appears twice, every certificate a
// successful process reported is in the inventory with its files, a failed
// process left nothing, and the home passes the consistency checks.
func TestConcurrentIssue(t *testing.T) {
	testtier.Full(t, "six daskca processes racing on one home")
	const procs = 6
	h := newBinHome(t, buildDaskca(t))
	rounds := []struct {
		name string
		args func(i int) []string
		per  int // certificates per process
	}{
		{"one each", func(i int) []string {
			return []string{"issue", "worker", fmt.Sprintf("w%d", i), "--dns", fmt.Sprintf("w%d.dask.internal", i)}
		}, 1},
		{"bulk", func(i int) []string {
			return []string{"issue", "worker", "--hosts", fmt.Sprintf("c%dn[001-300].dask.internal", i)}
		}, 300},
	}
	total := 0
	for _, rd := range rounds {
		t.Run(rd.name, func(t *testing.T) {
			codes, errs := runTogether(h, procs, rd.args)
			ok := 0
			for i := range procs {
				switch {
				case codes[i] == 0:
					ok++
				case codes[i] == 1 && strings.Contains(errs[i], "inventory is locked by another daskca process") &&
					strings.Contains(errs[i], "\nhint: another daskca process is writing"):
				default:
					t.Errorf("process %d: exit %d, stderr:\n%s", i, codes[i], errs[i])
				}
			}
			total += ok * rd.per
			recs := h.checkConsistent(t, true)
			if len(recs) != total {
				t.Errorf("%d records, want %d from the processes that succeeded", len(recs), total)
			}
			t.Logf("%d processes at once: %d succeeded, %d timed out on the lock", procs, ok, procs-ok)
		})
	}
}

// runTogether starts n daskca processes as close together as possible and
// returns their exit codes and stderr.
func runTogether(h binHome, n int, args func(i int) []string) ([]int, []string) {
	codes, errs := make([]int, n), make([]string, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			codes[i], _, errs[i] = h.run(args(i)...)
		})
	}
	start.Done()
	wg.Wait()
	return codes, errs
}
