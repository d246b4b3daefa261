package usdt

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// ErrNeedPID is returned when attaching to a position-independent file
// without a PID on a kernel without BPF cookies: the probe's address, by
// which usdt.bpf.h then finds the probe's arguments, differs per process.
var ErrNeedPID = errors.New("a position-independent file needs a PID on a kernel without BPF cookies (Linux < 5.15)")

// Manager attaches the programs of one loaded object to USDT probes. It
// hands out the entries of the object's specs map, where each probe site's
// argument locations go, like libbpf's usdt_manager.
type Manager struct {
	specs, ips *ebpf.Map
	layout     layout
	cookies    bool

	mu   sync.Mutex
	next uint32   // the lowest spec id never handed out
	free []uint32 // spec ids given back
}

// NewManager returns a Manager for the maps SpecsMap and IPMap of an object
// loaded from spec, which [Prepare] must have prepared.
func NewManager(spec *ebpf.CollectionSpec, specs, ips *ebpf.Map) (*Manager, error) {
	ms := spec.Maps[SpecsMap]
	if ms == nil || spec.Maps[IPMap] == nil {
		return nil, fmt.Errorf("the object has no %s and %s maps: does it include <bpf/usdt.bpf.h>?", SpecsMap, IPMap)
	}
	if specs == nil || ips == nil {
		return nil, errors.New("NewManager needs both maps")
	}
	l, err := layoutOf(ms.Value)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", SpecsMap, err)
	}
	if int(specs.ValueSize()) != l.size {
		return nil, fmt.Errorf("map %s holds %d bytes, struct __bpf_usdt_spec is %d", SpecsMap, specs.ValueSize(), l.size)
	}
	cookies, err := preparedCookie(spec)
	if err != nil {
		return nil, err
	}
	return &Manager{specs: specs, ips: ips, layout: l, cookies: cookies}, nil
}

// preparedCookie reads back the value Prepare gave LINUX_HAS_BPF_COOKIE.
func preparedCookie(spec *ebpf.CollectionSpec) (bool, error) {
	m := spec.Maps[kconfigMap]
	if m == nil || len(m.Contents) != 1 {
		return false, errors.New("the object was not prepared: call usdt.Prepare before loading it")
	}
	value, ok := m.Contents[0].Value.([]byte)
	if !ok {
		return false, fmt.Errorf("map %s holds %T", kconfigMap, m.Contents[0].Value)
	}
	for _, b := range value { // the extern is the map's only variable
		if b != 0 {
			return true, nil
		}
	}
	return false, nil
}

// Options are optional settings for [Manager.Attach].
type Options struct {
	// PID limits the probe to one process. 0 means every process that runs
	// the file, which a position-independent file allows only on a kernel
	// with BPF cookies (see ErrNeedPID).
	PID int
	// Cookie is what the program's bpf_usdt_cookie() returns.
	Cookie uint64
}

// site is one probe site made ready to attach.
type site struct {
	probe Probe
	value []byte // the specs map's value
	ip    uint64 // the address usdt.bpf.h looks up without cookies
}

// Attach attaches prog, a SEC("usdt") program of the Manager's object, to
// every site of the probe provider:name in f. The probe's semaphore, if it
// has one, counts the attachment while it lasts.
func (m *Manager) Attach(prog *ebpf.Program, f *File, provider, name string, opts *Options) (*Link, error) {
	if opts == nil {
		opts = &Options{}
	}
	l, err := m.attach(prog, f, provider, name, opts)
	if err != nil {
		return nil, fmt.Errorf("attaching to USDT probe %s:%s in %s: %w", provider, name, f.Path(), err)
	}
	return l, nil
}

func (m *Manager) attach(prog *ebpf.Program, f *File, provider, name string, opts *Options) (*Link, error) {
	sites, err := m.sites(f, provider, name, opts)
	if err != nil {
		return nil, err
	}
	ex, err := link.OpenExecutable(f.Path())
	if err != nil {
		return nil, err
	}
	l := &Link{m: m}
	ids := map[string]uint32{} // sites with the same arguments share a spec
	for _, s := range sites {
		id, ok := ids[s.probe.Args]
		if !ok {
			if id, err = l.newSpec(s.value); err != nil {
				l.Close()
				return nil, err
			}
			ids[s.probe.Args] = id
		}
		if err := l.attach(ex, prog, s, id, opts.PID); err != nil {
			l.Close()
			return nil, fmt.Errorf("site at %#x: %w", s.probe.Address, err)
		}
	}
	return l, nil
}

// sites finds and checks every site of provider:name before anything is
// attached, so that a probe this package cannot read attaches nowhere.
func (m *Manager) sites(f *File, provider, name string, opts *Options) ([]site, error) {
	probes, err := f.Find(provider, name)
	if err != nil {
		return nil, err
	}
	if !m.cookies && !f.fixed() && opts.PID == 0 {
		return nil, ErrNeedPID
	}
	var sites []site
	for _, p := range probes {
		args, err := p.Arguments()
		if err != nil {
			return nil, err
		}
		value, err := m.layout.encode(args, opts.Cookie)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", p, err)
		}
		s := site{probe: p, value: value}
		if !m.cookies {
			if s.ip, err = f.addressIn(opts.PID, p.Offset); err != nil {
				return nil, fmt.Errorf("probe %s: %w", p, err)
			}
		}
		sites = append(sites, s)
	}
	return sites, nil
}

// Link is one program attached to every site of one probe. It is not a
// link.Link (which cilium/ebpf does not let other packages implement): it
// is one uprobe per site.
type Link struct {
	m     *Manager
	links []link.Link
	ids   []uint32 // spec ids to give back
	ips   []uint64 // entries of the IP map to delete
}

// newSpec takes a spec id and writes value under it.
func (l *Link) newSpec(value []byte) (uint32, error) {
	m := l.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var id uint32
	switch {
	case len(m.free) > 0:
		id = m.free[len(m.free)-1]
		m.free = m.free[:len(m.free)-1]
	case m.next < m.specs.MaxEntries():
		id = m.next
		m.next++
	default:
		return 0, fmt.Errorf("all %d entries of %s are in use (define BPF_USDT_MAX_SPEC_CNT larger before including usdt.bpf.h)", m.specs.MaxEntries(), SpecsMap)
	}
	l.ids = append(l.ids, id)
	if err := m.specs.Put(id, value); err != nil {
		return 0, fmt.Errorf("writing spec %d: %w", id, err)
	}
	return id, nil
}

// attach attaches prog to one site whose spec is id.
func (l *Link) attach(ex *link.Executable, prog *ebpf.Program, s site, id uint32, pid int) error {
	opts := &link.UprobeOptions{Address: s.probe.Offset, RefCtrOffset: s.probe.SemaphoreOffset, PID: pid}
	if l.m.cookies {
		opts.Cookie = uint64(id)
	} else {
		if err := l.m.ips.Update(s.ip, id, ebpf.UpdateNoExist); err != nil {
			return fmt.Errorf("mapping address %#x to spec %d (is another probe at this address attached?): %w", s.ip, id, err)
		}
		l.ips = append(l.ips, s.ip)
	}
	up, err := ex.Uprobe("", prog, opts)
	if err != nil {
		return err
	}
	l.links = append(l.links, up)
	return nil
}

// Close detaches the program from every site and frees the spec ids and
// addresses the sites used.
func (l *Link) Close() error {
	var errs []error
	for _, up := range l.links {
		errs = append(errs, up.Close())
	}
	for _, ip := range l.ips {
		if err := l.m.ips.Delete(ip); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	l.m.mu.Lock()
	l.m.free = append(l.m.free, l.ids...)
	l.m.mu.Unlock()
	l.links, l.ips, l.ids = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detaching from a USDT probe: %w", err)
	}
	return nil
}
