package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// machineCosts measures what dominates a pod's CPU once its own work is small: a system call and a page fault
// on memory never touched. Both vary tenfold between machines (bare metal against some VMs), and so do the
// scale figures: the benchmarks print them next to their tables.
func machineCosts(b *testing.B) string {
	const calls = 200_000
	began := time.Now()
	for range calls {
		syscall.Getpid()
	}
	syscallCost := time.Since(began) / calls

	const size = 64 << 20
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatalf("mmap: %v", err)
	}
	defer func() { _ = syscall.Munmap(mem) }()
	page := syscall.Getpagesize()
	began = time.Now()
	for i := 0; i < size; i += page {
		mem[i] = 1
	}
	faultCost := time.Since(began) / time.Duration(size/page)
	return fmt.Sprintf("a system call (getpid) %s, a page fault (first touch) %s", syscallCost, faultCost)
}
