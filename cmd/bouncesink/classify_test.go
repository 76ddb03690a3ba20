package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The --json output is a public interface: these keys, in this order, come
// first on every line.
var publicKeys = []string{"file", "recipient", "class", "reason", "status", "smtp_code",
	"action", "diagnostic", "remote_mta"}

// jsonKeys returns the keys of one JSON object in the order they appear.
func jsonKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %q is not a JSON object", line)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func runClassify(t *testing.T, stdin string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = dispatch(append([]string{"classify"}, args...), strings.NewReader(stdin), &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestClassifyJSON(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "smtp")
	garbage := filepath.Join(t.TempDir(), "garbage.eml")
	if err := os.WriteFile(garbage, []byte("\x00\x01 not a message"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(dir, userUnknown), filepath.Join(dir, blocked), filepath.Join(dir, vacation), garbage}
	status, stdout, stderr := runClassify(t, "", append([]string{"--json"}, files...)...)
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("got %d lines, want one per file:\n%s", len(lines), stdout)
	}
	want := []struct {
		recipient any // nil for JSON null
		class     string
	}{
		{"alice@example.org", "hard"},
		{"bob@example.net", "block"},
		{"carol@example.com", "autoreply"},
		{nil, "unknown"},
	}
	for i, line := range lines {
		if keys := jsonKeys(t, line); !reflect.DeepEqual(keys[:len(publicKeys)], publicKeys) {
			t.Errorf("line %d keys %q, want them to start with %q", i, keys, publicKeys)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if got["file"] != files[i] || got["recipient"] != want[i].recipient || got["class"] != want[i].class {
			t.Errorf("line %d = %s\nwant file %q, recipient %v, class %q", i, line, files[i], want[i].recipient, want[i].class)
		}
	}
	if !strings.Contains(lines[0], `"status":"5.1.1","smtp_code":550,"action":"failed"`) {
		t.Errorf("user-unknown line = %s, want status 5.1.1, code 550, action failed", lines[0])
	}
}

func TestClassifyStdinAndVERP(t *testing.T) {
	// A bounce that names no recipient: the VERP tag of --rcpt does.
	msg := "From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\nSorry, 550 5.1.1 user unknown.\n"
	status, stdout, stderr := runClassify(t, msg, "--json", "--rcpt", "bounces+dave=example.org@news.example.com", "-")
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%q: %v", stdout, err)
	}
	if got["file"] != "-" || got["recipient"] != "dave@example.org" {
		t.Errorf("got %s, want file \"-\" and recipient dave@example.org", stdout)
	}
}

func TestClassifyTable(t *testing.T) {
	status, stdout, _ := runClassify(t, "", filepath.Join("..", "..", "testdata", "smtp", userUnknown))
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if status != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "FILE") ||
		!strings.Contains(lines[1], "alice@example.org") || !strings.Contains(lines[1], "hard") {
		t.Errorf("status %d, output:\n%s\nwant a header and one line for alice, hard", status, stdout)
	}
}

func TestClassifyErrors(t *testing.T) {
	if status, _, _ := runClassify(t, ""); status != 2 {
		t.Errorf("classify without files = %d, want 2", status)
	}
	status, stdout, stderr := runClassify(t, "", "--json", "does-not-exist.eml",
		filepath.Join("..", "..", "testdata", "smtp", vacation))
	if status != 2 || !strings.Contains(stderr, "does-not-exist.eml") || !strings.Contains(stdout, "autoreply") {
		t.Errorf("status %d, stdout %q, stderr %q; want 2, the readable file classified, the other named", status, stdout, stderr)
	}
}
