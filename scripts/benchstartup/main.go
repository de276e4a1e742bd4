// Command benchstartup is the Go half of scripts/bench-startup: it times how
// long commands take from fork to exit, against a baseline measured in the
// same run.
//
//	benchstartup [-n 200] [-warmup 20] [-inittrace 30] BASELINE COMMAND...
//
// Each of BASELINE and COMMAND is one argument, a program and its arguments
// separated by spaces ("/tmp/x/daskca --help"). After the warm-up runs, the
// commands run in turn, n rounds, the order rotating each round, so that
// load from other work on the machine falls on all of them alike. For each
// it prints the median, minimum and maximum wall time (fork to wait, as
// os/exec sees it; output goes to /dev/null), the median CPU time (user +
// system) and the ratio of its median to the baseline's.
//
// First it measures what a page fault costs here, since on some virtual
// machines that is most of what a Go program's start-up costs: it touches
// 4096 fresh anonymous pages, three times, and prints the median wall and
// system time per page (on bare metal both are well under a microsecond).
//
// With -inittrace K it then runs each command K times more under
// GODEBUG=inittrace=1 and prints the median time at which package
// initialisation ended (from process start, as the Go runtime reports it),
// the median sum of the init functions' own clock and, for the commands
// other than the baseline, the packages whose inits cost most.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type command struct {
	label  string
	argv   []string
	wall   []time.Duration
	cpu    []time.Duration
	faults []int64
}

func main() {
	n := flag.Int("n", 200, "timed runs of each command")
	warmup := flag.Int("warmup", 20, "untimed runs of each command first")
	trace := flag.Int("inittrace", 0, "runs of each command under GODEBUG=inittrace=1 (0: none)")
	top := flag.Int("top", 8, "packages to list by init cost")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchstartup [flags] BASELINE COMMAND...   (each a quoted command line)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	faultCost()
	var cmds []*command
	for _, a := range flag.Args() {
		argv := strings.Fields(a)
		if len(argv) == 0 {
			fail(fmt.Errorf("empty command"))
		}
		label := strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " ")
		cmds = append(cmds, &command{label: label, argv: argv})
	}
	for range *warmup {
		for _, c := range cmds {
			if _, _, err := run(c.argv, nil); err != nil {
				fail(err)
			}
		}
	}
	for i := range *n {
		for j := range cmds {
			c := cmds[(i+j)%len(cmds)]
			wall, cpu, err := run(c.argv, nil)
			if err != nil {
				fail(err)
			}
			c.wall = append(c.wall, wall)
			c.cpu = append(c.cpu, cpu)
			c.faults = append(c.faults, lastFaults)
		}
	}
	base := median(cmds[0].wall)
	fmt.Printf("%-28s %9s %9s %9s %7s %9s %7s\n", "wall, "+strconv.Itoa(*n)+" runs each", "median", "min", "max", "ratio", "cpu med", "faults")
	for _, c := range cmds {
		m := median(c.wall)
		fmt.Printf("%-28s %9s %9s %9s %7.2f %9s %7d\n", c.label, ms(m), ms(slices.Min(c.wall)), ms(slices.Max(c.wall)),
			float64(m)/float64(base), ms(median(c.cpu)), median(c.faults))
	}
	if *trace > 0 {
		inittrace(cmds, *trace, *top)
	}
}

// faultCost prints the median wall-clock and system time of one page fault
// on a fresh anonymous page.
func faultCost() {
	const pages = 4096
	size := pages * os.Getpagesize()
	var walls, syss []time.Duration
	for range 3 {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fail(err)
		}
		var r0, r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		start := time.Now()
		for i := 0; i < size; i += os.Getpagesize() {
			b[i] = 1
		}
		walls = append(walls, time.Since(start)/pages)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		syss = append(syss, time.Duration(r1.Stime.Nano()-r0.Stime.Nano())/pages)
		_ = syscall.Munmap(b)
	}
	fmt.Printf("page fault (fresh anonymous page, median of 3 x %d): %.1f us wall, %.1f us system\n\n",
		pages, float64(median(walls))/1e3, float64(median(syss))/1e3)
}

// run starts argv with extra environment entries, waits for it and returns
// its wall-clock and CPU time, and its standard error when env is set.
func run(argv, env []string) (wall, cpu time.Duration, err error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = &stderr
	}
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v", strings.Join(argv, " "), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		lastFaults = ru.Minflt + ru.Majflt
	}
	lastStderr = stderr.Bytes()
	return wall, cpu, nil
}

// What the last run left: its standard error (when captured) and its page
// faults.
var (
	lastStderr []byte
	lastFaults int64
)

// inittrace prints, per command, when package initialisation ended and what
// it cost, from runs under GODEBUG=inittrace=1.
func inittrace(cmds []*command, runs, top int) {
	fmt.Printf("\n%-28s %9s %9s %6s   (GODEBUG=inittrace=1, %d runs each, medians)\n", "package inits", "end @", "own", "inits", runs)
	for k, c := range cmds {
		var ends, sums []float64
		var count int
		byPkg := map[string][]float64{}
		for range runs {
			if _, _, err := run(c.argv, []string{"GODEBUG=inittrace=1"}); err != nil {
				fail(err)
			}
			end, sum, n := 0.0, 0.0, 0
			sc := bufio.NewScanner(bytes.NewReader(lastStderr))
			for sc.Scan() {
				pkg, at, clock, ok := parseInit(sc.Text())
				if !ok {
					continue
				}
				end = max(end, at+clock)
				sum += clock
				n++
				byPkg[pkg] = append(byPkg[pkg], clock)
			}
			ends, sums, count = append(ends, end), append(sums, sum), n
		}
		fmt.Printf("%-28s %6.2f ms %6.2f ms %6d\n", c.label, median(ends), median(sums), count)
		if k == 0 || top <= 0 {
			continue
		}
		type cost struct {
			pkg string
			ms  float64
		}
		var costs []cost
		for p, v := range byPkg {
			costs = append(costs, cost{p, median(v)})
		}
		slices.SortFunc(costs, func(a, b cost) int {
			if a.ms != b.ms {
				if a.ms > b.ms {
					return -1
				}
				return 1
			}
			return strings.Compare(a.pkg, b.pkg)
		})
		for _, c := range costs[:min(top, len(costs))] {
			fmt.Printf("    %-50s %6.3f ms\n", c.pkg, c.ms)
		}
	}
}

// parseInit reads a line such as
// "init crypto/x509 @1.2 ms, 0.05 ms clock, 48 bytes, 2 allocs".
func parseInit(line string) (pkg string, at, clock float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[6] != "clock," {
		return "", 0, 0, false
	}
	at, err1 := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
	clock, err2 := strconv.ParseFloat(f[4], 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return f[1], at, clock, true
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchstartup:", err)
	os.Exit(1)
}
