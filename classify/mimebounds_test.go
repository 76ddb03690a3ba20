package classify

import (
	"fmt"
	"strings"
	"testing"
)

// nestedAround nests inner in depth multipart/mixed bodies, the outermost
// also holding a delivery-status part after them when dsn is set. Every
// boundary is short, or, with long, the outermost one is longer than the
// walker reads itself (go-message then reads the message).
func nestedAround(depth int, inner string, dsn, long bool) string {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n")
	bd := func(i int) string {
		if long && i == 0 {
			return strings.Repeat("L", maxBoundary+1)
		}
		return fmt.Sprintf("b%d", i)
	}
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n", bd(i), bd(i))
	}
	b.WriteString(inner)
	for i := depth - 1; i >= 0; i-- {
		if i == 0 && dsn {
			fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"+
				"Final-Recipient: rfc822; dsn@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n", bd(i))
		}
		fmt.Fprintf(&b, "\r\n--%s--\r\n", bd(i))
	}
	return b.String()
}

const nestedText = "Content-Type: text/plain\r\n\r\n<text@example.org>: host mx.example.org said: 550 5.1.1 user unknown (in reply to RCPT TO command)"

// Multipart bodies nested deeper than maxDepth are skipped, their siblings
// still read, and the verdicts say the message was read in part; the walker
// and go-message (for a boundary the walker leaves to it) agree.
func TestMIMEDepthBound(t *testing.T) {
	for _, c := range []struct {
		name      string
		raw       string
		recipient string
		cut       string
	}{
		{"within", nestedAround(maxDepth, nestedText, false, false), "text@example.org", ""},
		{"within-go-message", nestedAround(maxDepth, nestedText, false, true), "text@example.org", ""},
		{"deeper", nestedAround(maxDepth+1, nestedText, false, false), "", "partial-read:mime-depth"},
		{"deeper-go-message", nestedAround(maxDepth+1, nestedText, false, true), "", "partial-read:mime-depth"},
		{"deeper-sibling-read", nestedAround(maxDepth+1, nestedText, true, false), "dsn@example.org", "partial-read:mime-depth"},
		{"deeper-sibling-read-go-message", nestedAround(maxDepth+1, nestedText, true, true), "dsn@example.org", "partial-read:mime-depth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lean, walked, left := walkBoth([]byte(c.raw))
			if d := partsDiffer(lean, walked); !left && d != "" {
				t.Errorf("walker and go-message differ: %s", d)
			}
			if want := strings.HasSuffix(c.name, "go-message"); left != want {
				t.Errorf("left to go-message: %v, want %v", left, want)
			}
			vs := Classify([]byte(c.raw), Input{})
			if vs[0].Recipient != c.recipient || !strings.Contains(vs[0].Evidence.Detail, c.cut) || c.cut == "" && strings.Contains(vs[0].Evidence.Detail, "partial-read") {
				t.Errorf("got %s (%s %s, detail %q), want recipient %q and detail %q", vs[0].Recipient, vs[0].Class, vs[0].Evidence.Rule, vs[0].Evidence.Detail, c.recipient, c.cut)
			}
		})
	}
}

// Multipart entities count toward maxParts: a body of many empty
// multipart parts stops the walk where a body of as many leaves would.
func TestMIMEPartsCountContainers(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n")
	for i := 0; i < maxParts; i++ {
		b.WriteString("--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--i--\r\n")
	}
	b.WriteString("--o\r\nContent-Type: text/plain\r\n\r\n<late@example.org>: 550 5.1.1 user unknown\r\n--o--\r\n")
	raw := []byte(b.String())
	lean, walked, _ := walkBoth(raw)
	if d := partsDiffer(lean, walked); d != "" {
		t.Errorf("walker and go-message differ: %s", d)
	}
	if len(lean) >= maxParts {
		t.Errorf("%d leaves read, want fewer than maxParts with the containers counted", len(lean))
	}
	vs := Classify(raw, Input{})
	if !strings.Contains(vs[0].Evidence.Detail, "partial-read:mime-parts") || vs[0].Recipient == "late@example.org" {
		t.Errorf("got %+v, want the part after the limit unread and partial-read:mime-parts", vs[0])
	}
}

func init() {
	// Seeds for TestWalkerEdgeCases and FuzzWalker.
	walkerCases["deeper-than-bound"] = nestedAround(maxDepth+1, nestedText, true, false)
	walkerCases["deeper-than-bound-go-message"] = nestedAround(maxDepth+1, nestedText, true, true)
}
