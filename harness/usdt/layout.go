package usdt

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// layout is where usdt.bpf.h's struct __bpf_usdt_spec keeps each field, as
// the object's BTF says: the value of the specs map is written field by
// field, so an object built against a different header fails to attach
// rather than reading garbage.
type layout struct {
	size int
	// args is the array of struct __bpf_usdt_arg_spec: where it starts, the
	// size of one element and how many there are.
	args, stride, maxArgs int
	cookie, argCnt        field
	// Fields of one struct __bpf_usdt_arg_spec.
	valOff, argType, regOff, argSigned, argBitshift field
	// kinds are the values of enum __bpf_usdt_arg_type, by ArgKind.
	kinds [3]uint64
}

// field is an integer (or enum) field: its byte offset and size.
type field struct{ off, size int }

// layoutOf reads the layout from t, the BTF of struct __bpf_usdt_spec.
func layoutOf(t btf.Type) (layout, error) {
	var l layout
	spec, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok || spec.Name != "__bpf_usdt_spec" {
		return l, fmt.Errorf("the specs map's value is %v, not struct __bpf_usdt_spec", t)
	}
	l.size = int(spec.Size)
	args, err := member(spec, "args")
	if err != nil {
		return l, err
	}
	arr, ok := btf.UnderlyingType(args.Type).(*btf.Array)
	if !ok {
		return l, fmt.Errorf("__bpf_usdt_spec.args is %v, not an array", args.Type)
	}
	arg, ok := btf.UnderlyingType(arr.Type).(*btf.Struct)
	if !ok || arg.Name != "__bpf_usdt_arg_spec" {
		return l, fmt.Errorf("__bpf_usdt_spec.args holds %v, not struct __bpf_usdt_arg_spec", arr.Type)
	}
	l.args, l.stride, l.maxArgs = int(args.Offset.Bytes()), int(arg.Size), int(arr.Nelems)
	if l.args+l.stride*l.maxArgs > l.size {
		return l, fmt.Errorf("__bpf_usdt_spec.args does not fit in the struct")
	}
	for _, f := range []struct {
		s    *btf.Struct
		name string
		dst  *field
	}{
		{spec, "usdt_cookie", &l.cookie},
		{spec, "arg_cnt", &l.argCnt},
		{arg, "val_off", &l.valOff},
		{arg, "arg_type", &l.argType},
		{arg, "reg_off", &l.regOff},
		{arg, "arg_signed", &l.argSigned},
		{arg, "arg_bitshift", &l.argBitshift},
	} {
		if *f.dst, err = intField(f.s, f.name); err != nil {
			return l, err
		}
	}
	m, _ := member(arg, "arg_type")
	enum, ok := btf.UnderlyingType(m.Type).(*btf.Enum)
	if !ok {
		return l, fmt.Errorf("__bpf_usdt_arg_spec.arg_type is %v, not an enum", m.Type)
	}
	for k, name := range []string{"BPF_USDT_ARG_CONST", "BPF_USDT_ARG_REG", "BPF_USDT_ARG_REG_DEREF"} {
		found := false
		for _, v := range enum.Values {
			if v.Name == name {
				l.kinds[k], found = v.Value, true
			}
		}
		if !found {
			return l, fmt.Errorf("enum %s has no %s", enum.Name, name)
		}
	}
	return l, nil
}

func member(s *btf.Struct, name string) (btf.Member, error) {
	for _, m := range s.Members {
		if m.Name == name {
			return m, nil
		}
	}
	return btf.Member{}, fmt.Errorf("struct %s has no field %s", s.Name, name)
}

// intField finds a whole-byte integer or enum field that fits in the struct.
func intField(s *btf.Struct, name string) (field, error) {
	m, err := member(s, name)
	if err != nil {
		return field{}, err
	}
	switch btf.UnderlyingType(m.Type).(type) {
	case *btf.Int, *btf.Enum:
	default:
		return field{}, fmt.Errorf("%s.%s is %v, not an integer", s.Name, name, m.Type)
	}
	size, err := btf.Sizeof(m.Type)
	if err != nil {
		return field{}, fmt.Errorf("%s.%s: %w", s.Name, name, err)
	}
	f := field{int(m.Offset.Bytes()), size}
	if m.BitfieldSize != 0 || m.Offset%8 != 0 || size > 8 || f.off+size > int(s.Size) {
		return field{}, fmt.Errorf("%s.%s is a bit field or does not fit: not the layout of libbpf 1.1.2's usdt.bpf.h", s.Name, name)
	}
	return f, nil
}

// encode returns the value of the specs map for a probe site with these
// arguments and cookie.
func (l layout) encode(args []Arg, cookie uint64) ([]byte, error) {
	if len(args) > l.maxArgs {
		return nil, fmt.Errorf("%d arguments, usdt.bpf.h reads %d", len(args), l.maxArgs)
	}
	b := make([]byte, l.size)
	for i, a := range args {
		e := b[l.args+i*l.stride : l.args+(i+1)*l.stride]
		put(e, l.valOff, uint64(a.Value))
		put(e, l.argType, l.kinds[a.Kind])
		put(e, l.regOff, uint64(a.RegOffset))
		if a.Signed {
			put(e, l.argSigned, 1)
		}
		put(e, l.argBitshift, uint64(64-8*a.Size))
	}
	put(b, l.cookie, cookie)
	put(b, l.argCnt, uint64(len(args)))
	return b, nil
}

// put stores the low f.size bytes of v at f.off, little-endian.
func put(b []byte, f field, v uint64) {
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], v)
	copy(b[f.off:f.off+f.size], le[:f.size])
}
