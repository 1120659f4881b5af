//go:build linux && amd64

package clockshift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childEnv marks the re-executed helper that installs the filter and
// execs the command (see init).
const childEnv = "REPROVE_CLOCKSHIFT_CHILD"

func init() {
	if os.Getenv(childEnv) != "1" || len(os.Args) < 2 {
		return
	}
	// The helper: filter every thread, then become the command.
	if err := installFilter(); err != nil {
		fmt.Fprintf(os.Stderr, "clockshift: %v\n", err)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if len(e) < len(childEnv) || e[:len(childEnv)] != childEnv {
			env = append(env, e)
		}
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "clockshift: %v\n", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[1:], env)
	fmt.Fprintf(os.Stderr, "clockshift: exec %s: %v\n", path, err)
	os.Exit(127)
}

// Syscall numbers (x86-64) and clock ids.
const (
	sysGettimeofday = 96
	sysTime         = 201
	sysClockGettime = 228
	auditArchX8664  = 0xc000003e
	retAllow        = 0x7fff0000
	retTrace        = 0x7ff00000
)

// installFilter installs, on every thread, a seccomp filter that hands the
// realtime clock reads to the tracer.
func installFilter() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	// struct seccomp_data: nr at 0, arch at 4, args at 16.
	prog := []unix.SockFilter{
		{Code: ld, K: 4},
		{Code: jeq, K: auditArchX8664, Jt: 1},
		{Code: ret, K: retAllow},
		{Code: ld, K: 0},
		{Code: jeq, K: sysGettimeofday, Jt: 8},
		{Code: jeq, K: sysTime, Jt: 7},
		{Code: jeq, K: sysClockGettime, Jt: 1},
		{Code: ret, K: retAllow},
		{Code: ld, K: 16}, // clockid (low half)
		{Code: jeq, K: unix.CLOCK_REALTIME, Jt: 3},
		{Code: jeq, K: unix.CLOCK_REALTIME_COARSE, Jt: 2},
		{Code: jeq, K: unix.CLOCK_TAI, Jt: 1},
		{Code: ret, K: retAllow},
		{Code: ret, K: retTrace},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, 1 /* SECCOMP_SET_MODE_FILTER */, 1 /* TSYNC */, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	return nil
}

// Cmd is a command to run with a shifted clock.
type Cmd struct {
	Args   []string
	Env    []string
	Dir    string
	Stdout *os.File
	Stderr *os.File
}

// Run runs c with the wall clock offset seconds ahead (or behind) and
// returns its exit status once it and every process it started have
// ended. The calling binary must import this package (its init is the
// helper that starts c).
func Run(c Cmd, offset int64) (int, error) {
	if len(c.Args) == 0 {
		return 0, errors.New("clockshift: no command")
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("clockshift: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := &exec.Cmd{Path: self, Args: append([]string{self}, c.Args...), Dir: c.Dir,
		Env: append(append([]string{}, c.Env...), childEnv+"=1"), Stdout: c.Stdout, Stderr: c.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Ptrace: true, Setpgid: true}}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("clockshift: start: %w", err)
	}
	t := &tracer{main: cmd.Process.Pid, offset: offset, pending: map[int]uint64{}}
	return t.loop()
}

type tracer struct {
	main    int
	offset  int64
	pending map[int]uint64 // pid → syscall awaiting its exit stop
	status  int
	started bool
}

const opts = unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD

func (t *tracer) loop() (int, error) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.ECHILD {
			return t.status, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("clockshift: wait: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(t.pending, pid)
			if pid == t.main {
				if ws.Exited() {
					t.status = ws.ExitStatus()
				} else {
					t.status = 128 + int(ws.Signal())
				}
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig := ws.StopSignal()
		cause := ws.TrapCause()
		resume := unix.PtraceCont
		deliver := 0
		switch {
		case pid == t.main && !t.started && sig == unix.SIGTRAP:
			// The helper's own exec stop: from now on, follow everything.
			t.started = true
			unix.PtraceSetOptions(pid, opts)
		case sig == unix.SIGTRAP|0x80:
			t.exit(pid)
		case sig == unix.SIGTRAP && cause == unix.PTRACE_EVENT_SECCOMP:
			var regs unix.PtraceRegs
			if unix.PtraceGetRegs(pid, &regs) == nil {
				t.pending[pid] = regs.Orig_rax
				resume = unix.PtraceSyscall
			}
		case sig == unix.SIGTRAP && cause == unix.PTRACE_EVENT_EXEC:
			t.hideVDSO(pid)
		case sig == unix.SIGTRAP && (cause == unix.PTRACE_EVENT_FORK || cause == unix.PTRACE_EVENT_VFORK || cause == unix.PTRACE_EVENT_CLONE):
		case sig == unix.SIGSTOP && cause == 0:
			// A new task's first stop, or a stop signal: resume.
		case sig == unix.SIGTRAP:
		default:
			deliver = int(sig)
		}
		resume(pid, deliver)
	}
}

// exit adds the offset to what a pending clock read returned.
func (t *tracer) exit(pid int) {
	nr, ok := t.pending[pid]
	if !ok {
		return
	}
	delete(t.pending, pid)
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(pid, &regs) != nil || int64(regs.Rax) < 0 {
		return
	}
	addAt := func(addr uint64) {
		if addr == 0 {
			return
		}
		var b [8]byte
		if n, err := unix.PtracePeekData(pid, uintptr(addr), b[:]); err != nil || n != 8 {
			return
		}
		binary.LittleEndian.PutUint64(b[:], binary.LittleEndian.Uint64(b[:])+uint64(t.offset))
		unix.PtracePokeData(pid, uintptr(addr), b[:])
	}
	switch nr {
	case sysClockGettime:
		addAt(regs.Rsi) // struct timespec: tv_sec first
	case sysGettimeofday:
		addAt(regs.Rdi) // struct timeval: tv_sec first
	case sysTime:
		regs.Rax += uint64(t.offset)
		unix.PtraceSetRegs(pid, &regs)
		addAt(regs.Rdi)
	}
}

// hideVDSO turns the AT_SYSINFO_EHDR entry of a freshly exec'd program's
// auxiliary vector into AT_IGNORE, so that its clock reads are system
// calls the filter sees.
func (t *tracer) hideVDSO(pid int) {
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(pid, &regs) != nil {
		return
	}
	word := func(addr uint64) (uint64, bool) {
		var b [8]byte
		n, err := unix.PtracePeekData(pid, uintptr(addr), b[:])
		return binary.LittleEndian.Uint64(b[:]), err == nil && n == 8
	}
	sp := regs.Rsp
	argc, ok := word(sp)
	if !ok || argc > 1<<20 {
		return
	}
	p := sp + 8 + (argc+1)*8 // past argv and its NULL
	for i := 0; i < 1<<20; i++ {
		v, ok := word(p)
		if !ok {
			return
		}
		p += 8
		if v == 0 {
			break // end of envp
		}
	}
	for i := 0; i < 256; i++ {
		typ, ok := word(p)
		if !ok || typ == 0 { // AT_NULL
			return
		}
		if typ == 33 { // AT_SYSINFO_EHDR
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], 1) // AT_IGNORE
			unix.PtracePokeData(pid, uintptr(p), b[:])
			return
		}
		p += 16
	}
}

// Offset is the clock shift reprove check applies: a year, a month, a
// day, some hours, minutes and seconds, so that the year, the month, the
// day, the hour and the minute all read differently.
const Offset = 398*24*3600 + 7*3600 + 13*60 + 17
