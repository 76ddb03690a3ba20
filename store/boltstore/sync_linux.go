package boltstore

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data, and its metadata only as far as reading the
// data back needs (its length), as bbolt does on Linux.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
