package kube

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AnswerTimeout bounds how long the student's program may take to answer
// one question.
const AnswerTimeout = 10 * time.Second

// Client is the student's program, run by the grader: it asks the
// program's questions through its standard input and reads the answers.
type Client struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers chan []byte
	stderr  *tailBuffer
	dead    error
	waited  chan struct{}
	waitErr error
}

// Nobody is the user and group the grader runs the student's program as:
// it reads the cgroup tree, and may not signal the grader, write its
// reports or move between cgroups.
const Nobody = 65534

// Start runs the program prog with cgroup v2 root root, as user and group
// uid (or as this process's user, if uid is negative).
func Start(prog, root string, uid int) (*Client, error) {
	cmd := exec.Command(prog, "-root", root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	}
	c := &Client{cmd: cmd, answers: make(chan []byte, 1), stderr: &tailBuffer{max: 8 << 10}, waited: make(chan struct{})}
	cmd.Stderr = c.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// A pipe of our own: Wait does not close its reading end, so the
	// answers written before the program ended are all read.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("starting your program: %w", err)
	}
	c.in = in
	go func() {
		c.waitErr = cmd.Wait()
		close(c.waited)
	}()
	go func() {
		defer close(c.answers)
		defer pr.Close()
		r := bufio.NewReaderSize(pr, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			c.answers <- line
		}
	}()
	return c, nil
}

func (c *Client) Parse(path string) (Workload, error) {
	return c.ask("parse " + path)
}

func (c *Client) Lookup(id uint64) (Workload, error) {
	return c.ask(fmt.Sprintf("lookup %d", id))
}

func (c *Client) ask(q string) (Workload, error) {
	if c.dead != nil {
		return Workload{}, c.dead
	}
	if _, err := io.WriteString(c.in, q+"\n"); err != nil {
		c.dead = fmt.Errorf("your program no longer reads its questions: %s", c.exit())
		return Workload{}, c.dead
	}
	select {
	case line, ok := <-c.answers:
		if !ok {
			c.dead = fmt.Errorf("your program ended: %s", c.exit())
			return Workload{}, c.dead
		}
		var a answer
		if err := json.Unmarshal(line, &a); err != nil {
			c.dead = fmt.Errorf("your program wrote %q on its standard output, which is the grader's: print with log or to os.Stderr", trim(string(line)))
			_ = c.cmd.Process.Kill()
			return Workload{}, c.dead
		}
		if a.Error != "" {
			return a.Workload, errors.New(a.Error)
		}
		return a.Workload, nil
	case <-time.After(AnswerTimeout):
		_ = c.cmd.Process.Kill()
		c.dead = fmt.Errorf("your program did not answer within %v, and was stopped", AnswerTimeout)
		return Workload{}, c.dead
	}
}

// exit waits for the program to end and says how it ended.
func (c *Client) exit() string {
	select {
	case <-c.waited:
		if c.waitErr == nil {
			return "exit status 0"
		}
		return c.waitErr.Error()
	case <-time.After(2 * time.Second):
		_ = c.cmd.Process.Kill()
		return "it stopped answering"
	}
}

// Close stops the program and returns the end of what it wrote on its
// standard error.
func (c *Client) Close() string {
	c.in.Close()
	select {
	case <-c.waited:
	case <-time.After(2 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.waited
	}
	return c.stderr.String()
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if t.b.Len() > t.max {
		t.b.Next(t.b.Len() - t.max)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}

// Stderr is the end of what the program wrote on its standard error so
// far.
func (c *Client) Stderr() string { return c.stderr.String() }
