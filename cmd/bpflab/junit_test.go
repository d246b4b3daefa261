package main

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The JUnit XML has a suite per kernel and a case per test; a kernel whose
// run failed in bpflab's own way has an error case.
func TestJUnit(t *testing.T) {
	rs := []kernelResult{
		{Kernel: "5.10", Result: "FAIL", Exit: 1, Seconds: 3.14159, Tests: []testCase{
			{Name: "TestA", Status: "PASS", Seconds: 0.5},
			{Name: "TestB", Status: "FAIL", Seconds: 1, Output: "    b_test.go:9: want 1 <got> & 2\n--- FAIL: TestB (1.00s)\n"},
			{Name: "TestC", Status: "SKIP", Output: "    c_test.go:3: \x1b[1mno BTF\x1b[0m\xff\n"},
		}},
		{Kernel: "7.x", Result: "boot hang", Exit: 66, Seconds: 60},
	}
	var buf bytes.Buffer
	if err := encodeJUnit(&buf, rs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), xml.Header+"<testsuites>\n  <testsuite ") {
		t.Errorf("does not start with the XML header and <testsuites>:\n%s", buf.String())
	}

	// Read back as a CI system would.
	type result struct {
		Message string `xml:"message,attr"`
		Data    string `xml:",chardata"`
	}
	type tcase struct {
		Name      string  `xml:"name,attr"`
		Classname string  `xml:"classname,attr"`
		Time      string  `xml:"time,attr"`
		Failure   *result `xml:"failure"`
		Skipped   *result `xml:"skipped"`
		Error     *result `xml:"error"`
	}
	type suite struct {
		Name     string  `xml:"name,attr"`
		Tests    int     `xml:"tests,attr"`
		Failures int     `xml:"failures,attr"`
		Errors   int     `xml:"errors,attr"`
		Skipped  int     `xml:"skipped,attr"`
		Time     string  `xml:"time,attr"`
		Cases    []tcase `xml:"testcase"`
	}
	var got struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []suite  `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	want := []suite{
		{Name: "kernel 5.10", Tests: 3, Failures: 1, Skipped: 1, Time: "3.142", Cases: []tcase{
			{Name: "TestA", Classname: "5.10", Time: "0.500"},
			{Name: "TestB", Classname: "5.10", Time: "1.000", Failure: &result{Message: "failed on kernel 5.10", Data: rs[0].Tests[1].Output}},
			{Name: "TestC", Classname: "5.10", Time: "0.000", Skipped: &result{Message: "skipped", Data: "    c_test.go:3: \uFFFD[1mno BTF\uFFFD[0m\uFFFD\n"}},
		}},
		{Name: "kernel 7.x", Tests: 1, Errors: 1, Time: "60.000", Cases: []tcase{
			{Name: "bpflab boot hang", Classname: "7.x", Error: &result{Message: "boot hang (exit 66)"}},
		}},
	}
	if diff := cmp.Diff(want, got.Suites); diff != "" {
		t.Errorf("JUnit (-want +got):\n%s\n%s", diff, buf.String())
	}
	if strings.Contains(buf.String(), "<![CDATA[]]>") {
		t.Errorf("an empty output is written:\n%s", buf.String())
	}
}
