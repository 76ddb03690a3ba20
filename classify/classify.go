package classify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// A decoder recognises one family of messages. It returns nil when the
// message is not of its family; the first decoder, by order, that returns
// findings decides the message. Each format lives in its own file and
// registers itself there, so adding one is one new file.
type decoder struct {
	name  string
	order int // lower runs first: structured formats before text heuristics
	// decode returns the verdicts for a message of its family, or nil.
	decode func(m *message) []Verdict
}

// Decoder order bands.
const (
	orderFeedback  = 10  // ARF: its own structure, never a bounce
	orderProvider  = 20  // provider formats that wrap or override a DSN
	orderDSN       = 30  // RFC 3464 / RFC 6533 structure
	orderMTA       = 50  // plain-text bounces of named MTAs
	orderAutoReply = 80  // only once nothing says "bounce"
	orderFallback  = 100 // generic text scan
)

var decoders []decoder

// register is called from the init function of each decoder's file.
func register(d decoder) {
	decoders = append(decoders, d)
	sort.SliceStable(decoders, func(i, j int) bool { return decoders[i].order < decoders[j].order })
}

// Classify reads one raw message (a bounce, a feedback report, an
// auto-reply, or anything at all) and returns one verdict per recipient it
// names. It never panics and never fails: input it cannot read yields a
// single verdict of class Unknown. It always returns at least one verdict.
func Classify(raw []byte, in Input) []Verdict {
	return ClassifyContext(context.Background(), raw, in)
}

// ClassifyContext is Classify with a context: once ctx is done, it stops
// (the MIME walk and the long scans look at ctx as they go, and it is
// looked at after each decoder) and returns a single Unknown verdict whose
// evidence says so (rule "cancelled"), so a caller can bound the time one
// message may take and cancel the work when the client or the server goes
// away.
func ClassifyContext(ctx context.Context, raw []byte, in Input) (out []Verdict) {
	defer func() {
		if p := recover(); p != nil {
			out = []Verdict{unknownVerdict(in, "panic", fmt.Sprint(p))}
		}
	}()
	m := readMessage(ctx.Done(), raw, in)
	for _, d := range decoders {
		if err := ctx.Err(); err != nil {
			return []Verdict{unknownVerdict(in, "cancelled", err.Error())}
		}
		vs := d.decode(m)
		if len(vs) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			// What a decoder stopped early found is not its verdict.
			return []Verdict{unknownVerdict(in, "cancelled", err.Error())}
		}
		if vs = noteReturned(vs, m); ctx.Err() != nil {
			return []Verdict{unknownVerdict(in, "cancelled", ctx.Err().Error())}
		}
		return noteCut(finish(vs, in), m.cut)
	}
	if err := ctx.Err(); err != nil {
		return []Verdict{unknownVerdict(in, "cancelled", err.Error())}
	}
	return noteCut([]Verdict{unknownVerdict(in, "no-decoder", "")}, m.cut)
}

// noteCut adds to the evidence that the message was read only in part,
// and why: "partial-read:mime-depth" and the like.
func noteCut(vs []Verdict, cut string) []Verdict {
	if cut == "" {
		return vs
	}
	for i := range vs {
		vs[i].Evidence.Detail = strings.TrimSpace(vs[i].Evidence.Detail + " partial-read:" + cut)
	}
	return vs
}

// noteReturned gives every verdict the Returned fields of m: from the
// returned message's header part, or, in a plain-text bounce that quotes
// the returned header, from a "Name: value" line of its text. One search
// for the fields' common prefix rules out nearly every message.
func noteReturned(vs []Verdict, m *message) []Verdict {
	const prefix = "x-listmonk-"
	inParts := false
	for _, p := range m.parts {
		if isEmbeddedType(p.mediaType) && containsFoldASCII(p.body, prefix) {
			inParts = true
		}
	}
	if !inParts && !containsFoldASCIIString(m.text, prefix) {
		return vs
	}
	field := func(key string) string {
		if v := m.embeddedField(key); v != "" {
			return clipReturned(v)
		}
		return clipReturned(textField(m.text, key))
	}
	r := Returned{ListmonkSubscriber: field("X-Listmonk-Subscriber"), ListmonkCampaign: field("X-Listmonk-Campaign")}
	if r == (Returned{}) {
		return vs
	}
	for i := range vs {
		vs[i].Returned = r
	}
	return vs
}

// textField returns the value of the first "key: value" in text whose key
// is not the end of a longer name.
func textField(text, key string) string {
	f := newFoldFinder(text, strings.ToLower(key)+":")
	for at := f.next(0); at >= 0; at = f.next(at + 1) {
		if at > 0 && (isWordByte(text[at-1]) || text[at-1] == '-') {
			continue
		}
		rest := text[at+len(key)+1:]
		if j := strings.IndexAny(rest, "\r\n"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	return ""
}

func clipReturned(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 128 {
		n := 128
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		v = v[:n]
	}
	return v
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ClassifyWith runs only the named decoder; it is for tests and fuzzing
// of one format. It reports false when the decoder does not exist.
func ClassifyWith(name string, raw []byte, in Input) (out []Verdict, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			out, ok = []Verdict{unknownVerdict(in, "panic", fmt.Sprint(p))}, true
		}
	}()
	for _, d := range decoders {
		if d.name == name {
			return d.decode(parseMessage(raw, in)), true
		}
	}
	return nil, false
}

// Decoders lists the registered decoders in the order they run.
func Decoders() []string {
	names := make([]string, len(decoders))
	for i, d := range decoders {
		names[i] = d.name
	}
	return names
}

func unknownVerdict(in Input, rule, detail string) Verdict {
	return Verdict{
		Recipient: strings.ToLower(in.VERPRecipient),
		Class:     Unknown,
		Reason:    ReasonUnknown,
		Evidence:  Evidence{Decoder: "none", Rule: rule, Detail: detail},
	}
}

// finish fills what the VERP tag knows and drops duplicate recipients: the
// same verdict twice, or an unknown one for a recipient another verdict
// of the message classifies (a report that lists an address twice,
// explaining it once).
func finish(vs []Verdict, in Input) []Verdict {
	verp := strings.ToLower(in.VERPRecipient)
	var known map[string]bool
	if len(vs) > 1 {
		known = map[string]bool{}
	}
	for i := range vs {
		if vs[i].Recipient == "" && verp != "" {
			vs[i].Recipient = verp
			vs[i].Evidence.Detail = strings.TrimSpace(vs[i].Evidence.Detail + " recipient-from-verp")
		}
		if known != nil && vs[i].Class != Unknown {
			known[vs[i].Recipient] = true
		}
	}
	if len(vs) == 1 {
		return vs
	}
	out := vs[:0]
	seen := map[string]bool{}
	for _, v := range vs {
		key := v.Recipient + "\x00" + string(v.Class)
		if v.Recipient != "" && (seen[key] || v.Class == Unknown && known[v.Recipient]) {
			continue
		}
		seen[key] = true
		out = append(out, v)
	}
	return out
}
