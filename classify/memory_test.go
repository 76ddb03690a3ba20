package classify

import (
	"bytes"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hugeBounce builds a DSN that returns a message with an attachment of
// about size bytes, as a sender's 10 MiB newsletter with a PDF comes back.
func hugeBounce(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"OUTER\"\r\n\r\n" +
		"--OUTER\r\nContent-Type: text/plain\r\n\r\n<big@example.net>: host mx.example.net said: 550 5.1.1 user unknown (in reply to RCPT TO command)\r\n" +
		"--OUTER\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; big@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n" +
		"--OUTER\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@example.com\r\nTo: big@example.net\r\nSubject: news\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"INNER\"\r\n\r\n--INNER\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--INNER\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 57)) + "\r\n"
	b.WriteString(strings.Repeat(line, size/len(line)))
	b.WriteString("--INNER--\r\n--OUTER--\r\n")
	return b.Bytes()
}

// A 10 MiB bounce costs no more than a few times its size in memory: the
// returned message and its attachment are read only as far as needed.
func TestHugeMessageMemory(t *testing.T) {
	t.Run("dsn-with-attachment", func(t *testing.T) { checkMemory(t, hugeBounce(10<<20)) })
	t.Run("plain-text-qmail", func(t *testing.T) { checkMemory(t, hugePlainBounce(10<<20)) })
}

// hugePlainBounce is a qmail bounce returning a 10 MiB plain-text message
// inline, with no MIME structure to skip.
func hugePlainBounce(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: failure notice\r\n\r\n" +
		"Hi. This is the qmail-send program at mx.example.org.\r\n" +
		"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n" +
		"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n" +
		"<big@example.net>:\r\n192.0.2.1 does not like recipient.\r\nRemote host said: 550 5.1.1 <big@example.net>: user unknown\r\nGiving up on 192.0.2.1.\r\n\r\n" +
		"--- Below this line is a copy of the message.\r\n\r\nFrom: news@example.com\r\nTo: big@example.net\r\nSubject: news\r\n\r\n")
	line := strings.Repeat("all work and no play makes a newsletter long ", 2) + "\r\n"
	b.WriteString(strings.Repeat(line, size/len(line)))
	return b.Bytes()
}

func checkMemory(t *testing.T, raw []byte) {
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	Classify(raw, in) // warm up lazily initialised tables
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	vs := Classify(raw, in)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("classifying a %d-byte message allocated %d bytes (%.2fx)", len(raw), allocated, float64(allocated)/float64(len(raw)))
	if allocated > uint64(3*len(raw)) {
		t.Errorf("allocated %d bytes for a %d-byte message: more than 3x its size", allocated, len(raw))
	}
	if len(vs) != 1 || vs[0].Recipient != "big@example.net" || vs[0].Class != Hard {
		t.Errorf("verdicts = %+v, want one hard verdict for big@example.net", vs)
	}
}
