package classify

import (
	"strings"
)

// The decoder for sendmail's plain-text bounces: sendmail before version 8
// ("V5", still seen from old Unix hosts) and any sendmail bounce that
// carries no message/delivery-status part. Two sections say who failed:
//
//	   ----- The following addresses had permanent fatal errors -----
//	<user@example.org>
//	    (reason: 550 5.1.1 <user@example.org>... User unknown)
//	    (expanded from: <alias@example.org>)
//
//	   ----- Transcript of session follows -----
//	... while talking to mx.example.org.:
//	>>> RCPT To:<user@example.org>
//	<<< 550 5.1.1 <user@example.org>... User unknown
//	554 <user@example.org>... 550 Host unknown
//
// The list names the failed addresses (and the alias each was expanded
// from); the transcript gives each a line "554 <user@example.org>...
// reason" after the ">>> command" and "<<< reply" lines of the SMTP
// dialogue that led to it, or only the dialogue, the refused address in
// its RCPT command. A list of "transient non-fatal errors" is a warning.
func init() {
	register(decoder{name: "sendmail-text", order: orderMTA, decode: decodeV5Sendmail})
}

var (
	// Gateways that write sendmail's layout say "of the session" too.
	smTranscript = markers("----- transcript of session follows -----", "----- transcript of the session follows -----")
	smEnd        = markers("----- unsent message follows -----", "----- original message follows -----",
		"----- message header follows -----", "----- returned message follows -----", "----- message body suppressed -----",
		"----- original message headers follow -----")
	smFatal     = markers("----- the following addresses had permanent fatal errors -----")
	smTransient = markers("----- the following addresses had transient non-fatal errors -----")
	// smRcptRe matches "554 <user@example.org>... 550 Host unknown",
	// "550 5.1.1 <user@example.org>... User unknown" and, without a code,
	// "user@example.org... Deferred: Connection timed out".
	smRcptRe = mustFastRe(`^(?:([245]\d\d)[ \-](?:[245]\.\d{1,3}\.\d{1,3}\s+)?)?<?([^<>\s]+@[^<>\s]+?)>?\.\.\.\s*(.*)$`)
	// smRcptCmdRe matches the RCPT command of a transcript.
	smRcptCmdRe = mustFastRe(`(?i)^>>>\s*RCPT\s+TO:\s*<?([^<>\s]+@[^<>\s]+?)>?(?:\s|$)`)
	// smListNoteRe matches the notes below a listed address:
	// "(reason: ...)", "(expanded from: <...>)".
	smListNoteRe = mustFastRe(`(?i)^\(\s*(reason|expanded from)\s*:\s*(.*?)\)?$`)
)

func decodeV5Sendmail(m *message) []Verdict {
	list, transient := smAddressList(m)
	section, ok := m.textAfter(smTranscript)
	if !ok && len(list) == 0 {
		return nil
	}
	if ok {
		section = cutAtRe(section, smEnd)
	} else {
		section = ""
	}
	senders := senderAddresses(m, section)
	fs, dialogue := smTranscriptFindings(section)
	if len(fs) == 0 && len(list) == 0 {
		// A transcript that names no address ("Host unknown" answered to
		// the connection): the returned message's one recipient is the
		// one it failed for.
		if a := smOriginalRecipient(m); a != "" && smReplies(dialogue) != "" {
			fs = append(fs, smFinding{f: finding{recipient: a, action: "failed", diagnostic: smReplies(dialogue)},
				dialogue: strings.Join(dialogue, "\n")})
		}
	}
	// The listed addresses the transcript does not explain get the list's
	// reason, or what the transcript said to no one in particular.
	// What they share is read once: the dialogue, its replies, its stage.
	shared, replies, sharedStage, read := "", "", stageUnknown, false
	for _, a := range list {
		i := -1
		for j := range fs {
			if fs[j].f.recipient == a.addr {
				i = j
			}
		}
		if i < 0 {
			if !read {
				shared, replies, read = strings.Join(dialogue, "\n"), smReplies(dialogue), true
				sharedStage = stageOf(shared)
			}
			f := finding{recipient: a.addr, action: "failed", diagnostic: a.reason}
			if f.diagnostic == "" {
				f.diagnostic = replies
			}
			fs = append(fs, smFinding{f: f, dialogue: shared, shared: true})
			i = len(fs) - 1
		}
		if a.from != "" {
			fs[i].aliases = append(fs[i].aliases, a.from)
		}
	}
	var out []Verdict
	for _, sf := range fs {
		f := sf.f
		if transient {
			f.action, f.temporary = "delayed", true
		}
		stage := sharedStage
		if !sf.shared {
			stage = stageOf(sf.dialogue)
		}
		v := decideStaged("sendmail-text", f, stage, senders)
		out = append(out, v)
		for _, alias := range sf.aliases {
			// The address the sender used, before an alias expanded it.
			va := v
			va.Recipient = alias
			out = append(out, va)
		}
	}
	return out
}

type smListed struct {
	addr, reason, from string
}

// smAddressList reads the "The following addresses had ... errors"
// sections: the addresses, each with the reason and the alias sendmail
// noted below it. transient says the list is of transient errors only.
func smAddressList(m *message) (out []smListed, transient bool) {
	fatal := m.mayContain(smFatal)
	if !fatal && !m.mayContain(smTransient) {
		return nil, false
	}
	section, ok := m.textAfter(smFatal)
	if !ok {
		if section, ok = m.textAfter(smTransient); !ok {
			return nil, false
		}
		transient = true
	}
	for _, line := range textLines(section) {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "-----"):
			return out, transient
		case strings.HasPrefix(t, "("):
			mm := smListNoteRe.FindStringSubmatch(t)
			if mm == nil || len(out) == 0 {
				continue
			}
			last := &out[len(out)-1]
			if strings.EqualFold(mm[1], "reason") {
				last.reason = mm[2]
			} else if a := cleanAddress(mm[2]); a != "" && a != last.addr {
				last.from = a
			}
			continue
		}
		a, rest, ok := leadingAddress(t)
		if !ok {
			continue
		}
		l := smListed{addr: a}
		if rest != "" {
			l.reason = strings.Trim(rest, "()")
		}
		out = append(out, l)
		if len(out) >= 32 {
			break
		}
	}
	return out, transient
}

type smFinding struct {
	f        finding
	dialogue string   // the SMTP dialogue that led to it
	shared   bool     // dialogue is the one the listed addresses share
	aliases  []string // the addresses it was expanded from
}

// smTranscriptFindings reads the transcript: one finding per failed
// address, and the dialogue lines no address claimed.
func smTranscriptFindings(section string) (out []smFinding, rest []string) {
	var dialogue []string // the ">>>" and "<<<" lines since the last recipient
	flush := func(addr string, f finding) {
		var replies []string
		for _, d := range dialogue {
			if strings.HasPrefix(d, "<<<") {
				replies = append(replies, strings.TrimSpace(strings.TrimPrefix(d, "<<<")))
			}
			if h, ok := strings.CutPrefix(strings.ToLower(d), "while talking to "); ok {
				f.remoteMTA = strings.TrimSuffix(strings.TrimSpace(h), ":")
			}
			if h, ok := strings.CutPrefix(strings.ToLower(d), "... while talking to "); ok {
				f.remoteMTA = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(h), ":"), ".")
			}
		}
		if len(replies) > 0 {
			// The remote server's own words, not sendmail's summary of
			// them ("Remote protocol error"), say what went wrong.
			f.diagnostic = joinReply(replies)
		}
		f.recipient = addr
		out = append(out, smFinding{f: f, dialogue: strings.Join(dialogue, "\n")})
		dialogue = nil
	}
	var notes []string
	pending := "" // the address of a RCPT command not yet answered by a summary line
	rcptAt := 0   // where its command stands in the dialogue
	// The line above, which a line of plain words continues where a relay
	// rewrapped the text mid-sentence: a reply ("<<< 550 5.1.1 <a@b>...
	// User" / "unknown") or a summary line read into out[len(out)-1].
	// Sendmail's own notes below a summary ("Warning: message still
	// undelivered ...") follow a finished sentence.
	const (
		prevNone = iota
		prevReply
		prevSummary
	)
	prev, prevLine := prevNone, ""
	for _, line := range textLines(section) {
		t := strings.TrimSpace(line)
		lt := strings.ToLower(t)
		if prev != prevNone && !endsMidSentence(prevLine) {
			prev = prevNone
		}
		prevLine = t
		if mm := smRcptCmdRe.FindStringSubmatch(t); mm != nil {
			pending, rcptAt = cleanAddress(mm[1]), len(dialogue)
			dialogue = append(dialogue, t)
			prev = prevNone
			continue
		}
		if strings.HasPrefix(t, ">>>") || strings.HasPrefix(t, "<<<") || strings.HasPrefix(lt, "while talking to") || strings.HasPrefix(lt, "... while talking to") {
			dialogue = append(dialogue, t)
			prev = prevNone
			if strings.HasPrefix(t, "<<<") {
				prev = prevReply
			}
			continue
		}
		mm := smRcptRe.FindStringSubmatch(t)
		if mm == nil || cleanAddress(mm[2]) == "" {
			switch {
			case isReplyCode(firstField(t)):
				notes = append(notes, "<<< "+t) // sendmail's own reply, to no one address
				prev = prevNone
			case t == "" || isRuler(t):
				prev = prevNone
			case prev == prevReply:
				dialogue[len(dialogue)-1] += " " + t
			case prev == prevSummary:
				if o := &out[len(out)-1]; o.dialogue == "" {
					o.f.diagnostic += " " + t
				}
			}
			continue
		}
		prev = prevSummary
		if len(out) >= 32 {
			break // as many as one bounce reports
		}
		f := finding{action: "failed", diagnostic: mm[3]}
		if mm[1] != "" && mm[1][0] == '4' || strings.Contains(strings.ToLower(mm[3]), "deferred") {
			f.temporary = true
		}
		pending = ""
		flush(cleanAddress(mm[2]), f)
	}
	if pending != "" && smReplies(dialogue[rcptAt:]) != "" {
		// A dialogue that ends refusing a RCPT command, with no summary
		// line: the address of the command is the failed one, and what
		// was said before the command is not about it.
		dialogue = dialogue[rcptAt:]
		flush(pending, finding{action: "failed"})
	}
	return out, append(dialogue, notes...)
}

// endsMidSentence reports whether a line stops on a word, a number or a
// comma, where wrapping breaks a sentence, not at its full stop, colon or
// closing bracket.
func endsMidSentence(t string) bool {
	if t == "" {
		return false
	}
	c := t[len(t)-1]
	return c == ',' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// smReplies joins the replies of dialogue lines.
func smReplies(dialogue []string) string {
	var replies []string
	for _, d := range dialogue {
		if r, ok := strings.CutPrefix(d, "<<<"); ok {
			replies = append(replies, strings.TrimSpace(r))
		}
	}
	return joinReply(replies)
}

// smOriginalRecipient returns the one address of the returned message's
// To, when it has one and no Cc: from its header part or the text after
// "----- Unsent message follows -----".
func smOriginalRecipient(m *message) string {
	var to, cc string
	if h, ok := m.embeddedHeader(); ok {
		to, cc = headerText(h, "To"), headerText(h, "Cc")
	} else if orig, ok := m.textAfter(smEnd); ok {
		h := looseHeader([]byte(strings.TrimLeft(orig, "\r\n")))
		to, cc = headerText(h, "To"), headerText(h, "Cc")
	}
	if as := addressesIn(to); len(as) == 1 && cc == "" && as[0] != firstAddress(m.get("To")) {
		return as[0]
	}
	return ""
}
