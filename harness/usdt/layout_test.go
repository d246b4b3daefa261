package usdt

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
)

// usdt112 is the layout of struct __bpf_usdt_spec in libbpf 1.1.2's
// usdt.bpf.h, worked out by hand from the header.
var usdt112 = layout{
	size: 208, args: 0, stride: 16, maxArgs: 12,
	cookie: field{192, 8}, argCnt: field{200, 2},
	valOff: field{0, 8}, argType: field{8, 4}, regOff: field{12, 2}, argSigned: field{14, 1}, argBitshift: field{15, 1},
	kinds: [3]uint64{0, 1, 2},
}

// TestLayoutFromBTF reads the layout from a program built with the
// system's usdt.bpf.h.
func TestLayoutFromBTF(t *testing.T) {
	spec, err := LoadCollectionSpec(compileBPF(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := layoutOf(spec.Maps[SpecsMap].Value)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(usdt112, got, cmp.AllowUnexported(layout{}, field{})); diff != "" {
		t.Errorf("layout (-libbpf 1.1.2 +BTF):\n%s", diff)
	}
	if ms := spec.Maps[SpecsMap]; ms.ValueSize != 208 || ms.MaxEntries != 256 {
		t.Errorf("%s: %v", SpecsMap, ms)
	}
}

func TestEncode(t *testing.T) {
	args, err := ParseArgs("-4@$-9 2@%cx -8@-16(%rbp)")
	if err != nil {
		t.Fatal(err)
	}
	got, err := usdt112.encode(args, 0x1122334455667788)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 208)
	le := binary.LittleEndian
	// args[0]: val_off -9, CONST, reg_off 0, signed, bitshift 32
	le.PutUint64(want[0:], uint64(0xfffffffffffffff7))
	want[14], want[15] = 1, 32
	// args[1]: REG, reg_off 88 (cx), unsigned, bitshift 48
	le.PutUint32(want[16+8:], 1)
	le.PutUint16(want[16+12:], 88)
	want[16+15] = 48
	// args[2]: val_off -16, REG_DEREF, reg_off 32 (bp), signed, bitshift 0
	le.PutUint64(want[32:], uint64(0xfffffffffffffff0))
	le.PutUint32(want[32+8:], 2)
	le.PutUint16(want[32+12:], 32)
	want[32+14] = 1
	le.PutUint64(want[192:], 0x1122334455667788)
	le.PutUint16(want[200:], 3)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}

	small := usdt112
	small.maxArgs = 2
	if _, err := small.encode(args, 0); err == nil {
		t.Error("encoded 3 arguments into room for 2")
	}
}

// TestLayoutRefuses builds variants of the structs that an object compiled
// against another header might have.
func TestLayoutRefuses(t *testing.T) {
	u64 := &btf.Int{Name: "u64", Size: 8}
	s16 := &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	u8 := &btf.Int{Name: "bool", Size: 1, Encoding: btf.Bool}
	kinds := &btf.Enum{Name: "__bpf_usdt_arg_type", Size: 4, Values: []btf.EnumValue{
		{Name: "BPF_USDT_ARG_CONST", Value: 0}, {Name: "BPF_USDT_ARG_REG", Value: 1}, {Name: "BPF_USDT_ARG_REG_DEREF", Value: 2}}}
	argSpec := func(members ...btf.Member) *btf.Struct {
		return &btf.Struct{Name: "__bpf_usdt_arg_spec", Size: 16, Members: members}
	}
	good := []btf.Member{
		{Name: "val_off", Type: u64, Offset: 0},
		{Name: "arg_type", Type: kinds, Offset: 64},
		{Name: "reg_off", Type: s16, Offset: 96},
		{Name: "arg_signed", Type: u8, Offset: 112},
		{Name: "arg_bitshift", Type: u8, Offset: 120},
	}
	specOf := func(arg *btf.Struct) *btf.Struct {
		return &btf.Struct{Name: "__bpf_usdt_spec", Size: 208, Members: []btf.Member{
			{Name: "args", Type: &btf.Array{Type: arg, Nelems: 12}, Offset: 0},
			{Name: "usdt_cookie", Type: u64, Offset: 192 * 8},
			{Name: "arg_cnt", Type: s16, Offset: 200 * 8},
		}}
	}
	if l, err := layoutOf(specOf(argSpec(good...))); err != nil || !cmp.Equal(l, usdt112, cmp.AllowUnexported(layout{}, field{})) {
		t.Fatalf("the good layout: %+v, %v", l, err)
	}
	with := func(i int, m btf.Member) []btf.Member {
		ms := append([]btf.Member(nil), good...)
		ms[i] = m
		return ms
	}
	for name, c := range map[string]struct {
		typ btf.Type
		err string
	}{
		"another struct":                    {&btf.Struct{Name: "other"}, "not struct __bpf_usdt_spec"},
		"bit field (libbpf 1.5's arg_type)": {specOf(argSpec(with(1, btf.Member{Name: "arg_type", Type: kinds, Offset: 64, BitfieldSize: 8})...)), "bit field"},
		"renamed field":                     {specOf(argSpec(with(2, btf.Member{Name: "reg", Type: s16, Offset: 96})...)), "no field reg_off"},
		"field outside":                     {specOf(argSpec(with(4, btf.Member{Name: "arg_bitshift", Type: u64, Offset: 120})...)), "does not fit"},
		"not an integer":                    {specOf(argSpec(with(0, btf.Member{Name: "val_off", Type: &btf.Pointer{Target: u64}, Offset: 0})...)), "not an integer"},
		"enum without REG_DEREF": {specOf(argSpec(with(1, btf.Member{Name: "arg_type", Type: &btf.Enum{Name: "e", Size: 4, Values: kinds.Values[:2]}, Offset: 64})...)),
			"no BPF_USDT_ARG_REG_DEREF"},
	} {
		if _, err := layoutOf(c.typ); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err %v, want %q", name, err, c.err)
		}
	}
}
