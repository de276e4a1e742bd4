//go:build !race

package wire

// raceEnabled reports a build with the race detector, whose instrumentation
// changes what the runtime allocates (maps grow larger).
const raceEnabled = false
