package usdt

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
)

func TestParseArg(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Arg
		err  string // a part of the error; "" when the spec parses
	}{
		{spec: "4@$71", want: Arg{Kind: ArgConst, Size: 4, Value: 71}},
		{spec: "-4@$-9", want: Arg{Kind: ArgConst, Size: 4, Signed: true, Value: -9}},
		{spec: "8@$18446744073709551615", want: Arg{Kind: ArgConst, Size: 8, Value: -1}},
		{spec: "-8@%rdi", want: Arg{Kind: ArgReg, Size: 8, Signed: true, Register: "rdi", RegOffset: 112}},
		{spec: "-4@%edi", want: Arg{Kind: ArgReg, Size: 4, Signed: true, Register: "edi", RegOffset: 112}},
		{spec: "2@%di", want: Arg{Kind: ArgReg, Size: 2, Register: "di", RegOffset: 112}},
		{spec: "-1@%dil", want: Arg{Kind: ArgReg, Size: 1, Signed: true, Register: "dil", RegOffset: 112}},
		{spec: "1@%r8b", want: Arg{Kind: ArgReg, Size: 1, Register: "r8b", RegOffset: 72}},
		{spec: "2@%r15w", want: Arg{Kind: ArgReg, Size: 2, Register: "r15w", RegOffset: 0}},
		{spec: "4@%r11d", want: Arg{Kind: ArgReg, Size: 4, Register: "r11d", RegOffset: 48}},
		{spec: "-1@%al", want: Arg{Kind: ArgReg, Size: 1, Signed: true, Register: "al", RegOffset: 80}},
		{spec: "-4@-20(%rbp)", want: Arg{Kind: ArgRegDeref, Size: 4, Signed: true, Value: -20, Register: "rbp", RegOffset: 32}},
		{spec: "8@(%rax)", want: Arg{Kind: ArgRegDeref, Size: 8, Register: "rax", RegOffset: 80}},
		{spec: "8@16(%rsp)", want: Arg{Kind: ArgRegDeref, Size: 8, Value: 16, Register: "rsp", RegOffset: 152}},
		{spec: "-4@-1204(%rbp)", want: Arg{Kind: ArgRegDeref, Size: 4, Signed: true, Value: -1204, Register: "rbp", RegOffset: 32}},
		{spec: "+2@%cx", want: Arg{Kind: ArgReg, Size: 2, Register: "cx", RegOffset: 88}},
		{spec: "8@8(%rip)", want: Arg{Kind: ArgRegDeref, Size: 8, Value: 8, Register: "rip", RegOffset: 128}},

		{spec: "8@(%rax,%rbx,8)", err: "scale-index-base"},
		{spec: "1@-96(%rbp,%rax,8)", err: "scale-index-base"},
		{spec: "1@(%rbp,%rax)", err: "scale-index-base"},
		{spec: "-4@counter(%rip)", err: `displacement "counter"`},
		{spec: "-4@counter+4(%rip)", err: "displacement"},
		{spec: "1@%ah", err: "unknown register %ah"},
		{spec: "8@%xmm0", err: "unknown register %xmm0"},
		{spec: "8@(%foo)", err: "unknown register %foo"},
		{spec: "8@16", err: "neither"},
		{spec: "8@$0x10", err: "not a decimal"},
		{spec: "3@%eax", err: "size 3"},
		{spec: "16@%rax", err: "size 16"},
		{spec: "0@$1", err: "size 0"},
		{spec: "8@(rax)", err: "no register"},
		{spec: "%rax", err: "no size"},
		{spec: "x@%rax", err: "no size"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			got, err := ParseArg(c.spec)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.spec) {
					t.Fatalf("err %v, want one naming %q and saying %q", err, c.spec, c.err)
				}
				if !strings.Contains(c.err, "no size") && !errors.Is(err, ErrUnsupported) {
					t.Errorf("err %v does not wrap ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	// The example in libbpf's usdt.c.
	args, err := ParseArgs("-4@-1204(%rbp) -4@%edi -8@-1216(%rbp) -8@%r8 -4@$5 -8@%r9 8@%rdx 8@%r10 -4@$-9 -2@%cx -2@%ax -1@%sil")
	if err != nil || len(args) != 12 {
		t.Fatalf("%d arguments, %v", len(args), err)
	}
	if args[11] != (Arg{Kind: ArgReg, Size: 1, Signed: true, Register: "sil", RegOffset: 104}) {
		t.Errorf("last argument %+v", args[11])
	}
	if args, err := ParseArgs(""); err != nil || args != nil {
		t.Errorf("no arguments: %v %v", args, err)
	}
	_, err = ParseArgs("4@$1 4@$2 4@$3 4@$4 4@$5 4@$6 4@$7 4@$8 4@$9 4@$10 4@$11 4@$12 4@$13")
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "more than 12") {
		t.Errorf("13 arguments: %v", err)
	}
	_, err = ParseArgs("4@$1 8@(%rax,%rbx,8)")
	if err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("err %v, want one naming argument 1", err)
	}
}

// TestRegOffsetsMatchKernel checks the register table against the kernel's
// struct pt_regs, from the BTF of a program built with bpf/vmlinux.h.
func TestRegOffsetsMatchKernel(t *testing.T) {
	spec, err := LoadCollectionSpec(compileBPF(t))
	if err != nil {
		t.Fatal(err)
	}
	var regs *btf.Struct
	if err := spec.Types.TypeByName("pt_regs", &regs); err != nil {
		t.Fatal(err)
	}
	kernel := map[string]string{ // kernel field -> the 64-bit name
		"r15": "r15", "r14": "r14", "r13": "r13", "r12": "r12", "bp": "rbp", "bx": "rbx",
		"r11": "r11", "r10": "r10", "r9": "r9", "r8": "r8", "ax": "rax", "cx": "rcx",
		"dx": "rdx", "si": "rsi", "di": "rdi", "ip": "rip", "sp": "rsp",
	}
	checked := map[int16]bool{}
	for _, m := range regs.Members {
		name, ok := kernel[m.Name]
		if !ok {
			continue
		}
		off := int16(m.Offset.Bytes())
		if regOffsets[name] != off {
			t.Errorf("%%%s at %d, struct pt_regs has %s at %d", name, regOffsets[name], m.Name, off)
		}
		checked[off] = true
	}
	if len(checked) != len(kernel) {
		t.Errorf("found %d of the %d registers in struct pt_regs", len(checked), len(kernel))
	}
	for name, off := range regOffsets {
		if !checked[off] {
			t.Errorf("%%%s at %d: no register there", name, off)
		}
	}
}
