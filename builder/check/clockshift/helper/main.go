//go:build linux && amd64

// Command reprove-clockshift runs a command whose wall clock reads a fixed
// offset ahead of the real one, for every process it starts: the varied
// build of reprove check runs each step under it, inside the build's
// container, as the build user. See package clockshift for how and why.
//
//	reprove-clockshift -offset SECONDS -- COMMAND [ARG...]
//
// It exits with the command's status (128+N when a signal N killed it)
// once the command has ended; as in a container, whose first process's
// end ends every other, what the command left running is killed then.
// It exits 125 when it cannot start the command under ptrace.
//
// It imports the standard library only, so that reprove builds it from
// its own source with a pinned Go toolchain and nothing else (package
// clockshift embeds this file).
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// filterArg marks the helper's second self: started under ptrace, it
// installs the seccomp filter and becomes the command.
const filterArg = "-filter-and-exec"

func main() {
	runtime.LockOSThread()
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == filterArg && args[1] == "--" {
		filterAndExec(args[2:])
	}
	if len(args) < 4 || args[0] != "-offset" || args[2] != "--" {
		fail(2, "usage: reprove-clockshift -offset SECONDS -- COMMAND [ARG...]")
	}
	offset, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		fail(2, "-offset %q: %v", args[1], err)
	}
	os.Exit(run(args[3:], offset))
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reprove-clockshift: "+format+"\n", args...)
	os.Exit(code)
}

// filterAndExec installs the filter on every thread and execs the command:
// the filter is inherited by every process the command starts.
func filterAndExec(args []string) {
	if len(args) == 0 {
		fail(125, "no command")
	}
	if err := installFilter(); err != nil {
		fail(125, "%v", err)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fail(127, "%v", err)
	}
	err = syscall.Exec(path, args, os.Environ())
	fail(126, "exec %s: %v", path, err)
}

// System call numbers and constants of linux/amd64 the syscall package
// lacks.
const (
	sysSeccomp         = 317
	seccompSetModeFilt = 1
	seccompFlagTsync   = 1
	prSetNoNewPrivs    = 38
	auditArchX8664     = 0xc000003e
	retAllow           = 0x7fff0000
	retTrace           = 0x7ff00000

	clockRealtime       = 0
	clockRealtimeCoarse = 5
	clockTAI            = 11
	timerAbstime        = 1

	futexCmdMask      = 0x7f
	futexClockRT      = 256
	futexLockPI       = 6
	futexWaitBitset   = 9
	futexWaitRequeuPI = 11
	futexLockPI2      = 13

	ptraceOTraceSeccomp = 0x80
	ptraceOExitKill     = 0x100000
	ptraceEventSeccomp  = 7
	atSysinfoEhdr       = 33
	atIgnore            = 1
)

// bpf assembles a classic BPF program with named jump targets (the
// kernel's seccomp filters are classic BPF; the standard library has no
// assembler for it, and this helper stands on the standard library only).
type bpf struct {
	prog   []syscall.SockFilter
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at     int
	jt, jf string
}

const (
	bpfLdAbs = syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS
	bpfJeq   = syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K
	bpfJset  = syscall.BPF_JMP | syscall.BPF_JSET | syscall.BPF_K
	bpfAnd   = syscall.BPF_ALU | syscall.BPF_AND | syscall.BPF_K
	bpfRet   = syscall.BPF_RET | syscall.BPF_K
)

func (b *bpf) label(name string) { b.labels[name] = len(b.prog) }
func (b *bpf) op(code uint16, k uint32) {
	b.prog = append(b.prog, syscall.SockFilter{Code: code, K: k})
}

// jump appends a conditional jump to jt when true and jf when false ("" is
// the next instruction).
func (b *bpf) jump(code uint16, k uint32, jt, jf string) {
	b.fixups = append(b.fixups, fixup{at: len(b.prog), jt: jt, jf: jf})
	b.op(code, k)
}

func (b *bpf) assemble() ([]syscall.SockFilter, error) {
	for _, f := range b.fixups {
		for _, t := range []struct {
			name string
			dst  *uint8
		}{{f.jt, &b.prog[f.at].Jt}, {f.jf, &b.prog[f.at].Jf}} {
			if t.name == "" {
				continue
			}
			to, ok := b.labels[t.name]
			if !ok || to <= f.at || to-f.at-1 > 255 {
				return nil, fmt.Errorf("bpf: bad jump to %q", t.name)
			}
			*t.dst = uint8(to - f.at - 1)
		}
	}
	return b.prog, nil
}

// filterProgram stops (for the tracer) only the system calls that read
// the realtime clock or wait until a realtime deadline; every other call
// runs untraced.
func filterProgram() ([]syscall.SockFilter, error) {
	b := &bpf{labels: map[string]int{}}
	// struct seccomp_data: nr at 0, arch at 4, args[i] at 16+8i (the low
	// half first).
	b.op(bpfLdAbs, 4)
	b.jump(bpfJeq, auditArchX8664, "", "allow")
	b.op(bpfLdAbs, 0)
	b.jump(bpfJeq, syscall.SYS_GETTIMEOFDAY, "trace", "")
	b.jump(bpfJeq, syscall.SYS_TIME, "trace", "")
	b.jump(bpfJeq, syscall.SYS_CLOCK_GETTIME, "clock", "")
	b.jump(bpfJeq, syscall.SYS_CLOCK_NANOSLEEP, "sleep", "")
	b.jump(bpfJeq, syscall.SYS_FUTEX, "futex", "allow")

	b.label("clock") // clock_gettime(clockid, tp)
	b.op(bpfLdAbs, 16)
	b.jump(bpfJeq, clockRealtime, "trace", "")
	b.jump(bpfJeq, clockRealtimeCoarse, "trace", "")
	b.jump(bpfJeq, clockTAI, "trace", "allow")

	b.label("sleep") // clock_nanosleep(clockid, flags, request, remain)
	b.op(bpfLdAbs, 16)
	b.jump(bpfJeq, clockRealtime, "sleepflags", "")
	b.jump(bpfJeq, clockTAI, "sleepflags", "allow")
	b.label("sleepflags")
	b.op(bpfLdAbs, 24)
	b.jump(bpfJset, timerAbstime, "trace", "allow")

	b.label("futex") // futex(uaddr, op, val, timeout, …)
	b.op(bpfLdAbs, 24)
	b.jump(bpfJset, futexClockRT, "trace", "")
	b.op(bpfAnd, futexCmdMask)
	b.jump(bpfJeq, futexLockPI, "trace", "allow")

	b.label("allow")
	b.op(bpfRet, retAllow)
	b.label("trace")
	b.op(bpfRet, retTrace)
	return b.assemble()
}

func installFilter() error {
	prog, err := filterProgram()
	if err != nil {
		return err
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("set no_new_privs: %w", e)
	}
	fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := syscall.RawSyscall(sysSeccomp, seccompSetModeFilt, seccompFlagTsync, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("install the seccomp filter: %w", e)
	}
	return nil
}

// run starts args under ptrace (through the helper's second self, which
// installs the filter) and traces it and everything it starts.
func run(args []string, offset int64) int {
	self, err := os.Executable()
	if err != nil {
		fail(125, "%v", err)
	}
	cmd := &exec.Cmd{
		Path:   self,
		Args:   append([]string{self, filterArg, "--"}, args...),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		// The first stop is the exec of the second self; every later
		// process is followed through the options set then.
		SysProcAttr: &syscall.SysProcAttr{Ptrace: true},
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			fail(125, "start %s under ptrace: %v (the kernel or a security module refuses ptrace here, e.g. kernel.yama.ptrace_scope above 1)", args[0], err)
		}
		fail(125, "start %s under ptrace: %v", args[0], err)
	}
	t := &tracer{main: cmd.Process.Pid, offset: offset, pending: map[int]pending{}}
	code, err := t.loop()
	if err != nil {
		fail(125, "%v", err)
	}
	return code
}

// pending is a traced system call awaiting its exit stop: a clock read,
// whose result gets the offset, or a wait until a realtime deadline,
// whose deadline (moved back by the offset on entry) is restored.
type pending struct {
	nr      uint64
	restore uint64 // address of the deadline's tv_sec, 0 for a clock read
}

type tracer struct {
	main    int
	offset  int64
	pending map[int]pending
	started bool
}

const traceOptions = ptraceOTraceSeccomp | syscall.PTRACE_O_TRACEEXEC | syscall.PTRACE_O_TRACEFORK |
	syscall.PTRACE_O_TRACEVFORK | syscall.PTRACE_O_TRACECLONE | ptraceOExitKill | syscall.PTRACE_O_TRACESYSGOOD

func (t *tracer) loop() (int, error) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(t.pending, pid)
			if pid != t.main {
				continue
			}
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		case !ws.Stopped():
			continue
		}
		sig := ws.StopSignal()
		cause := ws.TrapCause()
		resume := syscall.PtraceCont
		deliver := 0
		switch {
		case pid == t.main && !t.started && sig == syscall.SIGTRAP:
			// The second self's exec: from now on follow everything.
			t.started = true
			if err := syscall.PtraceSetOptions(pid, traceOptions); err != nil {
				return 0, fmt.Errorf("ptrace options: %w", err)
			}
		case sig == syscall.SIGTRAP|0x80:
			t.exit(pid)
		case sig == syscall.SIGTRAP && cause == ptraceEventSeccomp:
			if t.enter(pid) {
				resume = syscall.PtraceSyscall
			}
		case sig == syscall.SIGTRAP && cause == syscall.PTRACE_EVENT_EXEC:
			t.hideVDSO(pid)
		case sig == syscall.SIGTRAP && cause != 0:
			// fork, vfork, clone: the new task is followed.
		case sig == syscall.SIGSTOP && cause == 0:
			// A new task's first stop, or a stop signal: resume.
		default:
			deliver = int(sig)
		}
		resume(pid, deliver)
	}
}

func (t *tracer) word(pid int, addr uint64) (uint64, bool) {
	var b [8]byte
	n, err := syscall.PtracePeekData(pid, uintptr(addr), b[:])
	return binary.LittleEndian.Uint64(b[:]), err == nil && n == 8
}

func (t *tracer) setWord(pid int, addr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	syscall.PtracePokeData(pid, uintptr(addr), b[:])
}

// add adds delta to the 64-bit word at addr (a tv_sec).
func (t *tracer) add(pid int, addr uint64, delta int64) bool {
	if addr == 0 {
		return false
	}
	v, ok := t.word(pid, addr)
	if ok {
		t.setWord(pid, addr, v+uint64(delta))
	}
	return ok
}

// enter handles a seccomp stop (a filtered call's entry) and reports
// whether the call's exit must be stopped at too.
func (t *tracer) enter(pid int) bool {
	var regs syscall.PtraceRegs
	if syscall.PtraceGetRegs(pid, &regs) != nil {
		return false
	}
	p := pending{nr: regs.Orig_rax}
	switch regs.Orig_rax {
	case syscall.SYS_CLOCK_GETTIME:
		t.emulateClock(pid, &regs)
		return false
	case syscall.SYS_CLOCK_NANOSLEEP:
		// The filter passes only absolute sleeps on a realtime clock:
		// the deadline was computed from the shifted clock.
		p.restore = regs.Rdx
	case syscall.SYS_FUTEX:
		op := regs.Rsi
		switch cmd := op & futexCmdMask; {
		case cmd == futexLockPI,
			op&futexClockRT != 0 && (cmd == futexWaitBitset || cmd == futexWaitRequeuPI || cmd == futexLockPI2):
			p.restore = regs.R10 // an absolute realtime deadline
		default:
			return false // a relative timeout: nothing to do
		}
	}
	if p.nr == syscall.SYS_CLOCK_NANOSLEEP || p.nr == syscall.SYS_FUTEX {
		if !t.add(pid, p.restore, -t.offset) {
			return false
		}
	}
	t.pending[pid] = p
	return true
}

// emulateClock answers clock_gettime at its entry: it reads the clock
// the program asked for, writes it shifted where the program wants it,
// and skips the system call. One stop per read rather than two (at the
// entry and at the exit) matters: Go's compiler reads the wall clock
// around each pass over each function, a million times when it compiles
// the standard library.
func (t *tracer) emulateClock(pid int, regs *syscall.PtraceRegs) {
	var ts syscall.Timespec
	clock := uintptr(uint32(regs.Rdi)) // a clockid_t is an int
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		regs.Rax = negErrno(e)
	} else {
		var b [16]byte // struct timespec: tv_sec, tv_nsec
		binary.LittleEndian.PutUint64(b[:8], uint64(ts.Sec+t.offset))
		binary.LittleEndian.PutUint64(b[8:], uint64(ts.Nsec))
		if n, err := syscall.PtracePokeData(pid, uintptr(regs.Rsi), b[:]); err != nil || n != len(b) {
			regs.Rax = negErrno(syscall.EFAULT)
		} else {
			regs.Rax = 0
		}
	}
	regs.Orig_rax = ^uint64(0) // skip the call; it returns Rax
	syscall.PtraceSetRegs(pid, regs)
}

// negErrno is the return register of a system call that failed with e.
func negErrno(e syscall.Errno) uint64 { return uint64(-int64(e)) }

// exit completes a call stopped at its entry: the offset is added to what
// a clock read returned, or a deadline moved back is restored.
func (t *tracer) exit(pid int) {
	p, ok := t.pending[pid]
	if !ok {
		return
	}
	delete(t.pending, pid)
	if p.restore != 0 {
		t.add(pid, p.restore, t.offset)
		return
	}
	var regs syscall.PtraceRegs
	if syscall.PtraceGetRegs(pid, &regs) != nil || int64(regs.Rax) < 0 {
		return
	}
	switch p.nr {
	case syscall.SYS_GETTIMEOFDAY:
		t.add(pid, regs.Rdi, t.offset) // struct timeval: tv_sec first
	case syscall.SYS_TIME:
		regs.Rax += uint64(t.offset)
		syscall.PtraceSetRegs(pid, &regs)
		t.add(pid, regs.Rdi, t.offset)
	}
}

// hideVDSO turns the AT_SYSINFO_EHDR entry of a freshly exec'd program's
// auxiliary vector into AT_IGNORE, so that neither its C library nor the
// Go runtime finds the vDSO, and its clock reads are system calls the
// filter sees.
func (t *tracer) hideVDSO(pid int) {
	var regs syscall.PtraceRegs
	if syscall.PtraceGetRegs(pid, &regs) != nil {
		return
	}
	sp := regs.Rsp
	argc, ok := t.word(pid, sp)
	if !ok || argc > 1<<20 {
		return
	}
	p := sp + 8 + (argc+1)*8 // past argv and its NULL
	for i := 0; ; i++ {
		v, ok := t.word(pid, p)
		if !ok || i > 1<<20 {
			return
		}
		p += 8
		if v == 0 {
			break // end of envp
		}
	}
	for i := 0; i < 256; i++ {
		typ, ok := t.word(pid, p)
		if !ok || typ == 0 { // AT_NULL
			return
		}
		if typ == atSysinfoEhdr {
			t.setWord(pid, p, atIgnore)
			return
		}
		p += 16
	}
}
