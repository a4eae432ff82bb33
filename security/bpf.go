package security

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A tiny classic-BPF assembler with forward labels, enough for a seccomp
// filter: absolute 32-bit loads, conditional jumps on constants, returns.

// label names an instruction that a jump can target; next means "the next
// instruction" (a jump offset of 0).
type label int

const next label = -1

type pendingJump struct {
	at     int   // index of the jump instruction
	jt, jf label // targets
}

type emitter struct {
	prog   []unix.SockFilter
	labels []int // label → instruction index, -1 while unbound
	jumps  []pendingJump
}

func (e *emitter) newLabel() label {
	e.labels = append(e.labels, -1)
	return label(len(e.labels) - 1)
}

// bind makes l name the next instruction emitted.
func (e *emitter) bind(l label) {
	e.labels[l] = len(e.prog)
}

// load sets A to the 32-bit word at offset off of struct seccomp_data.
func (e *emitter) load(off uint32) {
	e.prog = append(e.prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}

// jump emits a conditional jump comparing A with k (op is unix.BPF_JEQ,
// BPF_JGE, BPF_JGT or BPF_JSET).
func (e *emitter) jump(op uint16, k uint32, jt, jf label) {
	e.jumps = append(e.jumps, pendingJump{at: len(e.prog), jt: jt, jf: jf})
	e.prog = append(e.prog, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (e *emitter) ret(k uint32) {
	e.prog = append(e.prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k})
}

// assemble resolves the jumps. Classic BPF jumps only forward, by at most
// 255 instructions.
func (e *emitter) assemble() ([]unix.SockFilter, error) {
	off := func(at int, l label) (uint8, error) {
		if l == next {
			return 0, nil
		}
		to := e.labels[l]
		if to < 0 {
			return 0, fmt.Errorf("bpf: unbound label %d", l)
		}
		d := to - at - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("bpf: jump from %d to %d out of range", at, to)
		}
		return uint8(d), nil
	}
	for _, j := range e.jumps {
		jt, err := off(j.at, j.jt)
		if err != nil {
			return nil, err
		}
		jf, err := off(j.at, j.jf)
		if err != nil {
			return nil, err
		}
		e.prog[j.at].Jt, e.prog[j.at].Jf = jt, jf
	}
	if n := len(e.prog); n == 0 || n > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("bpf: program of %d instructions", n)
	}
	return e.prog, nil
}
