package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// progress tells a user waiting for a boot what bpflab is doing, on
// stderr, without -v. On a terminal it is one status line rewritten in
// place (a carriage return, then erase to the end of the line) and erased
// at the end; elsewhere (CI, a pipe, a file) each new status is a plain
// line of its own. Lines that stay (a kernel finished) go above the status
// line, and so does anything written through Writer, such as log lines.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	live   bool   // rewrite one status line in place
	width  int    // the terminal's columns, when live
	status string // the status line now, "" for none
	shown  string // the status line on the screen (live) or last printed
}

// eraseLine returns the cursor to the start of the line and erases it.
const eraseLine = "\r\x1b[K"

// newProgress returns a progress that writes to w; live rewrites one
// status line in place, for a terminal width columns wide.
func newProgress(w io.Writer, live bool, width int) *progress {
	if width <= 1 {
		width = 80
	}
	return &progress{w: w, live: live, width: width}
}

// progressOn returns a progress on stderr: live when stderr is a terminal
// (not TERM=dumb) and plain is false.
func progressOn(stderr io.Writer, plain bool) *progress {
	if !liveOn(stderr, plain) {
		return newProgress(stderr, false, 0)
	}
	width := 0
	if ws, err := unix.IoctlGetWinsize(int(stderr.(*os.File).Fd()), unix.TIOCGWINSZ); err == nil {
		width = int(ws.Col)
	}
	return newProgress(stderr, true, width)
}

// liveOn reports whether stderr is a terminal to draw on in place (not
// TERM=dumb), unless plain.
func liveOn(stderr io.Writer, plain bool) bool {
	f, ok := stderr.(*os.File)
	return ok && !plain && os.Getenv("TERM") != "dumb" && isTerminal(f)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Status replaces the status line.
func (p *progress) Status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = "bpflab: " + fmt.Sprintf(format, args...)
	if p.live {
		p.draw()
		return
	}
	if p.status != p.shown {
		fmt.Fprintln(p.w, p.status)
		p.shown = p.status
	}
}

// setStatus replaces the status line without drawing it: the next draw
// shows it.
func (p *progress) setStatus(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = ""
	if s != "" {
		p.status = "bpflab: " + s
	}
}

// Println prints a line that stays, above the status line.
func (p *progress) Println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	fmt.Fprintf(p.w, "bpflab: %s\n", fmt.Sprintf(format, args...))
	p.draw()
}

// Clear erases the status line: call it before printing results, and at
// the end.
func (p *progress) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = ""
	p.erase()
}

// Writer returns a writer to the same place that keeps what it writes
// from mixing with the status line: the line is erased before a write and
// drawn again after one that ends a line.
func (p *progress) Writer() io.Writer { return progressWriter{p} }

type progressWriter struct{ p *progress }

func (w progressWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	n, err := p.w.Write(b)
	if len(b) > 0 && b[len(b)-1] == '\n' {
		p.draw()
	}
	return n, err
}

// draw puts the status line on the screen, cut to the terminal's width
// so that it never wraps (a carriage return goes back one line only).
func (p *progress) draw() {
	if !p.live || p.status == "" {
		return
	}
	s := p.status
	if r := []rune(s); len(r) > p.width-1 {
		s = string(r[:p.width-2]) + "…"
	}
	fmt.Fprint(p.w, eraseLine+s)
	p.shown = s
}

// erase takes the status line off the screen.
func (p *progress) erase() {
	if p.live && p.shown != "" {
		fmt.Fprint(p.w, eraseLine)
		p.shown = ""
	}
}

// kernelProgress makes the status of kernels graded at once: what each
// is doing, and a line as each ends. With one kernel the status is its
// phase ("booting 6.12"); with several it lists them ("grading 7.x;
// booting 6.18 (1 of 5 done)"), or, when not live, prints each phase as a
// line of its own.
type kernelProgress struct {
	p      *progress
	mu     sync.Mutex
	total  int
	done   int
	active []string          // kernels started and not ended, in order
	phase  map[string]string // of each active kernel
}

func newKernelProgress(p *progress, total int) *kernelProgress {
	return &kernelProgress{p: p, total: total, phase: map[string]string{}}
}

// Phase says what kernel is doing now: "booting", "grading".
func (k *kernelProgress) Phase(kernel, phase string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.phase[kernel]; !ok {
		k.active = append(k.active, kernel)
	}
	k.phase[kernel] = phase
	if k.total > 1 && k.p.live {
		k.p.Status("%s", k.line())
		return
	}
	k.p.Status("%s %s", phase, kernel)
}

// Done says kernel ended, with how: with several kernels, a line stays.
func (k *kernelProgress) Done(kernel, format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, a := range k.active {
		if a == kernel {
			k.active = append(k.active[:i], k.active[i+1:]...)
			break
		}
	}
	delete(k.phase, kernel)
	k.done++
	if k.total <= 1 {
		return
	}
	if k.p.live {
		// The line goes above the new status, not the stale one.
		status := ""
		if len(k.active) > 0 {
			status = k.line()
		}
		k.p.setStatus(status)
	}
	k.p.Println("%s", fmt.Sprintf(format, args...))
}

// line is the status of the active kernels, grouped by phase; the phase
// of the kernel that started first comes first.
func (k *kernelProgress) line() string {
	var phases []string
	byPhase := map[string][]string{}
	for _, name := range k.active {
		ph := k.phase[name]
		if _, ok := byPhase[ph]; !ok {
			phases = append(phases, ph)
		}
		byPhase[ph] = append(byPhase[ph], name)
	}
	var parts []string
	for _, ph := range phases {
		parts = append(parts, ph+" "+strings.Join(byPhase[ph], ", "))
	}
	return fmt.Sprintf("%s (%d of %d done)", strings.Join(parts, "; "), k.done, k.total)
}
