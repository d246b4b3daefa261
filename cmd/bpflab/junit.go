package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// writeJUnit writes 'bpflab run's results to path as JUnit XML, for CI
// systems: a suite per kernel, a case per test, with the output of the
// tests that failed or skipped. A kernel whose run ended in a failure of
// its own (boot hang, panic, ...) has a case more, an error.
func writeJUnit(path string, rs []kernelResult) error {
	var buf bytes.Buffer
	if err := encodeJUnit(&buf, rs); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func encodeJUnit(buf *bytes.Buffer, rs []kernelResult) error {
	var doc junit.Testsuites
	for i, r := range rs {
		s := junit.Testsuite{ID: i, Name: "kernel " + r.Kernel, Time: junitSeconds(r.Seconds)}
		for _, tc := range r.Tests {
			c := junit.Testcase{Name: tc.Name, Classname: r.Kernel, Time: junitSeconds(tc.Seconds)}
			switch tc.Status {
			case "FAIL":
				c.Failure = &junit.Result{Message: "failed on kernel " + r.Kernel, Data: xmlText(tc.Output)}
			case "SKIP":
				c.Skipped = &junit.Result{Message: "skipped", Data: xmlText(tc.Output)}
			}
			s.AddTestcase(c)
		}
		if r.Result != "ok" && r.Result != "FAIL" {
			s.AddTestcase(junit.Testcase{Name: "bpflab " + r.Result, Classname: r.Kernel,
				Error: &junit.Result{Message: fmt.Sprintf("%s (exit %d)", r.Result, r.Exit)}})
		}
		// Appended, not AddSuite: <testsuites> has no attributes.
		doc.Suites = append(doc.Suites, s)
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	buf.WriteString(xml.Header)
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

func junitSeconds(s float64) string { return fmt.Sprintf("%.3f", s) }

// xmlText replaces what XML 1.0 cannot hold, even in CDATA (control
// characters such as a terminal's colour codes, invalid UTF-8), with
// U+FFFD.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}
