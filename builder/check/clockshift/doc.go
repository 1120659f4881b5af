// Package clockshift is how reprove check shifts the wall clock of a
// build: its varied build runs each step under a small static helper
// (helper/, built from this package's embedded source by reprove's own
// builder, and pinned by digest) whose clock, and that of every process it
// starts, reads Offset ahead of the real one, static Go binaries
// included. A build that embeds the date or the year then differs every
// time, not only across midnight.
//
// The kernel has no namespace for CLOCK_REALTIME (time namespaces offset
// only the monotonic and boot clocks), and an LD_PRELOAD library such as
// libfaketime misses static binaries. So the helper, inside the build's
// container and as the build user, runs the step under ptrace:
//   - at every exec it removes AT_SYSINFO_EHDR from the new program's
//     auxiliary vector, so neither the C library nor the Go runtime finds
//     the vDSO, and clock reads become system calls;
//   - a seccomp filter, installed before the step's command starts and
//     inherited by every process, stops only the calls that read the
//     realtime clocks (clock_gettime, gettimeofday, time) or wait until a
//     realtime deadline (clock_nanosleep with TIMER_ABSTIME, futex waits
//     on CLOCK_REALTIME); the helper adds the offset to what the former
//     return, and moves the latter's deadline back by it for the call.
//     Every other system call runs untraced.
//
// Nothing is added to the container: the build user traces its own
// children, which the default seccomp profile allows (ptrace, on kernels
// from 4.8), without capabilities and with no-new-privileges kept; the
// helper's filter only adds stops. File times the kernel writes (a file's
// mtime) and timers armed on realtime file descriptors (timerfd,
// timer_settime) are not shifted; a build that uses ptrace itself (a test
// under strace, LeakSanitizer) cannot, since its processes are traced
// already. Only linux/amd64 is supported.
package clockshift
