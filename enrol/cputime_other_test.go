//go:build !unix

package enrol

import "time"

// processCPU is not measured here: zero.
func processCPU() time.Duration { return 0 }
