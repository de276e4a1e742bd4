// Command hello is the baseline of scripts/bench-startup: the least a Go
// program costs to start, print a line and exit on this machine.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
