package usdt_test

import (
	"log"

	"github.com/bpflab/bpflab/harness/usdt"
	"github.com/cilium/ebpf"
)

// Attach a program written with usdt.bpf.h to the probe lab:request of a
// running process.
func Example() {
	spec, err := usdt.LoadCollectionSpec("lab.bpf.o")
	if err != nil {
		log.Fatal(err)
	}
	cookies, err := usdt.HaveCookie()
	if err != nil {
		log.Fatal(err)
	}
	if err := usdt.Prepare(spec, cookies); err != nil {
		log.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		log.Fatal(err)
	}
	defer coll.Close()
	m, err := usdt.NewManager(spec, coll.Maps[usdt.SpecsMap], coll.Maps[usdt.IPMap])
	if err != nil {
		log.Fatal(err)
	}
	f, err := usdt.Open("/usr/local/bin/server")
	if err != nil {
		log.Fatal(err)
	}
	pid := 1234
	l, err := m.Attach(coll.Programs["on_request"], f, "lab", "request", &usdt.Options{PID: pid, Cookie: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
}
