// Package clockshift runs a command whose wall clock reads a fixed offset
// ahead of the real one, for every process it starts, static Go binaries
// included: the varied build of reprove check, so that a build embedding
// the date or the year differs every time, not only across midnight.
//
// The kernel has no namespace for CLOCK_REALTIME (time namespaces offset
// only the monotonic and boot clocks), and an LD_PRELOAD library such as
// libfaketime misses static binaries. So the command runs under ptrace:
//   - at every exec the tracer removes AT_SYSINFO_EHDR from the new
//     program's auxiliary vector, so neither glibc nor the Go runtime finds
//     the vDSO, and clock reads become system calls;
//   - a seccomp filter, installed before the command starts and inherited
//     by all its processes, stops only clock_gettime on the realtime
//     clocks, gettimeofday and time; the tracer adds the offset to what
//     they return. Every other system call runs untraced.
//
// File times the kernel writes (a file's mtime) are not shifted. Only
// linux/amd64 is supported.
//
// Not yet wired into reprove check: the build runs in a container, and
// the helper that installs the filter must run there (a static binary
// mounted read-only into it); until then check relies on builds being
// more than a second apart.
package clockshift
