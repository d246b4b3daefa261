package usdt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsupported is wrapped by errors for argument forms that libbpf 1.1.2's
// usdt.bpf.h cannot read, and so neither can this package.
var ErrUnsupported = errors.New("unsupported USDT argument")

// ArgKind is where an argument's value is; the values are those of usdt.bpf.h's
// enum __bpf_usdt_arg_type.
type ArgKind uint32

const (
	// ArgConst is a constant: "4@$42".
	ArgConst ArgKind = iota
	// ArgReg is the value of a register: "-8@%rdi", "2@%ax".
	ArgReg
	// ArgRegDeref is in memory at a register plus a displacement: "-4@-20(%rbp)", "8@(%rax)".
	ArgRegDeref
)

// MaxArgs is how many arguments usdt.bpf.h reads (BPF_USDT_MAX_ARG_CNT).
const MaxArgs = 12

// Arg is one parsed argument of a probe.
type Arg struct {
	Kind ArgKind
	// Size in bytes: 1, 2, 4 or 8.
	Size   int
	Signed bool
	// Value is the constant of an ArgConst and the displacement of an
	// ArgRegDeref (usdt.bpf.h's val_off).
	Value int64
	// Register is the register as written, without '%' ("edi"), and
	// RegOffset the offset of the register's field in the kernel's x86-64
	// struct pt_regs, for ArgReg and ArgRegDeref.
	Register  string
	RegOffset int16
}

// ParseArgs parses a probe's argument string, such as "-4@%edi 8@-16(%rbp) 4@$3",
// the forms libbpf 1.1.2 reads and no other: a constant, a register, or
// memory at a register plus a decimal displacement. It refuses, with an
// error wrapping ErrUnsupported, an index register ("8@(%rax,%rbx,8)"), a
// symbolic displacement ("-4@counter(%rip)", gcc's form for a global
// variable when it optimizes), the high byte registers (%ah) and any other
// register it does not know.
func ParseArgs(s string) ([]Arg, error) {
	var args []Arg
	for i, spec := range strings.Fields(s) {
		if i == MaxArgs {
			return nil, fmt.Errorf("%w: more than %d arguments in %q", ErrUnsupported, MaxArgs, s)
		}
		a, err := ParseArg(spec)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		args = append(args, a)
	}
	return args, nil
}

// ParseArg parses one argument, "SIZE@OPERAND"; see ParseArgs.
func ParseArg(spec string) (Arg, error) {
	size, op, ok := strings.Cut(spec, "@")
	n, err := strconv.Atoi(size)
	if !ok || err != nil {
		return Arg{}, fmt.Errorf("%q: no size before '@'", spec)
	}
	a := Arg{Size: n, Signed: n < 0}
	if n < 0 {
		a.Size = -n
	}
	switch a.Size {
	case 1, 2, 4, 8:
	default:
		return Arg{}, fmt.Errorf("%w %q: size %d is not 1, 2, 4 or 8", ErrUnsupported, spec, a.Size)
	}
	switch open := strings.IndexByte(op, '('); {
	case strings.HasPrefix(op, "$"):
		a.Kind = ArgConst
		a.Value, err = parseInt(op[1:])
		if err != nil {
			return Arg{}, fmt.Errorf("%w %q: constant %q is not a decimal integer", ErrUnsupported, spec, op[1:])
		}
	case strings.HasPrefix(op, "%"):
		a.Kind = ArgReg
		a.Register = op[1:]
	case open >= 0 && strings.HasSuffix(op, ")"):
		a.Kind = ArgRegDeref
		inner := op[open+1 : len(op)-1]
		if strings.Contains(inner, ",") {
			return Arg{}, fmt.Errorf("%w %q: index register (scale-index-base) operands are not read by libbpf 1.1.2", ErrUnsupported, spec)
		}
		if !strings.HasPrefix(inner, "%") {
			return Arg{}, fmt.Errorf("%w %q: no register in the memory operand", ErrUnsupported, spec)
		}
		a.Register = inner[1:]
		if disp := op[:open]; disp != "" {
			if a.Value, err = strconv.ParseInt(disp, 10, 64); err != nil {
				return Arg{}, fmt.Errorf("%w %q: displacement %q is not a decimal integer (a symbol's address is not known to the BPF side)", ErrUnsupported, spec, disp)
			}
		}
	default:
		return Arg{}, fmt.Errorf("%w %q: operand is neither $constant, %%register nor displacement(%%register)", ErrUnsupported, spec)
	}
	if a.Kind != ArgConst {
		off, ok := regOffsets[a.Register]
		if !ok {
			return Arg{}, fmt.Errorf("%w %q: unknown register %%%s", ErrUnsupported, spec, a.Register)
		}
		a.RegOffset = off
	}
	return a, nil
}

// parseInt parses a decimal constant; one above the int64 range keeps its
// 64 bits, which is what the BPF side reads.
func parseInt(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return v, nil
	}
	u, uerr := strconv.ParseUint(s, 10, 64)
	if uerr != nil {
		return 0, err
	}
	return int64(u), nil
}

// regOffsets maps every name of a general-purpose register to the offset of
// its field in the kernel's x86-64 struct pt_regs
// (arch/x86/include/asm/ptrace.h): r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax
// cx dx si di orig_ax ip cs flags sp ss, 8 bytes each. A narrower register
// reads the whole field; usdt.bpf.h keeps the low bytes (little-endian).
// The names are libbpf 1.1.2's: no %ah, %bh, %ch, %dh.
var regOffsets = func() map[string]int16 {
	m := map[string]int16{}
	for _, r := range []struct {
		off   int16
		names []string
	}{
		{0, []string{"r15", "r15d", "r15w", "r15b"}},
		{8, []string{"r14", "r14d", "r14w", "r14b"}},
		{16, []string{"r13", "r13d", "r13w", "r13b"}},
		{24, []string{"r12", "r12d", "r12w", "r12b"}},
		{32, []string{"rbp", "ebp", "bp", "bpl"}},
		{40, []string{"rbx", "ebx", "bx", "bl"}},
		{48, []string{"r11", "r11d", "r11w", "r11b"}},
		{56, []string{"r10", "r10d", "r10w", "r10b"}},
		{64, []string{"r9", "r9d", "r9w", "r9b"}},
		{72, []string{"r8", "r8d", "r8w", "r8b"}},
		{80, []string{"rax", "eax", "ax", "al"}},
		{88, []string{"rcx", "ecx", "cx", "cl"}},
		{96, []string{"rdx", "edx", "dx", "dl"}},
		{104, []string{"rsi", "esi", "si", "sil"}},
		{112, []string{"rdi", "edi", "di", "dil"}},
		{128, []string{"rip", "eip"}},
		{152, []string{"rsp", "esp", "sp", "spl"}},
	} {
		for _, n := range r.names {
			m[n] = r.off
		}
	}
	return m
}()
