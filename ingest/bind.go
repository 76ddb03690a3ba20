package ingest

import (
	"errors"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/verp"
)

// Whom a verdict counts against
//
// The report inside a bounce is text anyone can write; the return path it
// came to is ours. So the return path outranks the text: when an envelope
// recipient names a recipient (a VERP tag, signed or not), the message's
// verdicts apply to that recipient, and an address the report names
// instead is kept in the verdict's detail as evidence, never penalised
// (bind). A signature our keys made proves the tag; an unsigned tag only
// narrows a forgery down to the address it names, which is what the text
// would have done anyway.
//
// On top of that, a delivery report must come from the null sender <>
// (nullSenderRule), and one message counts at most once per recipient
// (oncePerRecipient).

// binding is a recipient an envelope recipient names.
type binding struct {
	recipient string // normalised; "" when a signature names only a hash
	key       string // what makes two bindings the same
	signed    *verp.Signed
}

// boundVerdict is a verdict with what the return path said about it.
type boundVerdict struct {
	classify.Verdict
	of       int  // the index of the verdict it was made from, in the classifier's list
	signed   bool // its recipient is the one a valid signature names
	advisory bool // evidence only: the policy must not act on it
}

// bindings returns the distinct recipients the envelope recipients name,
// once each whatever their case or number (50 case variants of one signed
// return path are one binding), a signed one preferred over an unsigned
// one naming the same address.
func (s *Sink) bindings(rcpts []string, now time.Time) []binding {
	var out []binding
	at := map[string]int{}
	for _, rcpt := range rcpts {
		b, ok := s.bindingOf(rcpt, now)
		if !ok {
			continue
		}
		if i, dup := at[b.key]; dup {
			if b.signed != nil && out[i].signed == nil {
				out[i] = b
			}
			continue
		}
		at[b.key] = len(out)
		out = append(out, b)
	}
	return out
}

// bindingOf returns the recipient rcpt names, if any.
//
// Any signature our keys made binds, expired or not: whether a bounce to
// an expired return path is taken at all is decided at RCPT time
// (require_signed), and an expired signature is still proof of whom the
// message went to. A forged signature (or one from a retired key) names
// no one: read as a plain tag it is nonsense. An unsigned address is read
// as a plain VERP address.
func (s *Sink) bindingOf(rcpt string, now time.Time) (binding, bool) {
	if s.Signer != nil {
		sg, err := s.Signer.Verify(rcpt, now)
		switch {
		case err == nil || errors.Is(err, verp.ErrExpired):
			if sg.Recipient == "" {
				return binding{key: "hash\x00" + strings.ToLower(strings.TrimSpace(rcpt)), signed: &sg}, true
			}
			addr, nerr := store.Normalize(sg.Recipient)
			if nerr != nil {
				addr = sg.Recipient
			}
			return binding{recipient: addr, key: addr, signed: &sg}, true
		case errors.Is(err, verp.ErrBadSignature):
			return binding{}, false
		}
	}
	hint, ok := verp.Decode(rcpt, s.VERPSeparator)
	if !ok {
		return binding{}, false
	}
	addr, err := store.Normalize(hint)
	if err != nil {
		return binding{}, false // a tag that is no address names no one
	}
	return binding{recipient: addr, key: addr}, true
}

// names reports whether addr is the recipient b names.
func (b binding) names(addr string) bool {
	if b.signed != nil {
		return b.signed.Names(addr)
	}
	a, err := store.Normalize(addr)
	return err == nil && a == b.recipient
}

// bind makes the verdicts of a message apply to the recipient its return
// path names, since the report text may be forged or may name a
// forwarding address:
//
//   - a verdict naming the bound recipient stands;
//   - if one does, the verdicts naming anyone else lose their recipient:
//     they are kept with the message, for review, but change no one's state;
//   - if none does, every verdict is given the bound recipient (when a
//     signature names only a hash, there is no one to give it to, and they
//     lose their recipient).
//
// The address the report named goes into the verdict's evidence detail.
func (b binding) bind(vs []classify.Verdict) []boundVerdict {
	named := false
	for _, v := range vs {
		named = named || b.names(v.Recipient)
	}
	out := make([]boundVerdict, 0, len(vs))
	for i, v := range vs {
		out = append(out, b.bindOne(i, v, named))
	}
	return out
}

// bindOne binds vs[i], v, to b's recipient; named says whether a verdict
// of the message names it.
func (b binding) bindOne(i int, v classify.Verdict, named bool) boundVerdict {
	source := "the return path's VERP tag"
	of := "the return path"
	if b.signed != nil {
		source = "the signed return path (key " + b.signed.KeyID + ")"
		of = "the signed return path"
	}
	bv := boundVerdict{of: i, signed: b.signed != nil}
	switch claimed := v.Recipient; {
	case b.names(claimed):
	case named || b.recipient == "":
		v.Recipient = ""
		bv.signed = false
		v.Evidence.Detail = addDetail(v.Evidence.Detail, "report names "+orNone(claimed)+
			", not the recipient of "+of+"; applied to no one")
	default:
		v.Recipient = b.recipient
		v.Evidence.Detail = addDetail(v.Evidence.Detail, "recipient from "+source+"; report names "+orNone(claimed))
	}
	bv.Verdict = v
	return bv
}

// bindAll binds the verdicts to every binding, with what oncePerRecipient
// and reviewOnce then keep of bind's copies, in time and memory that grow
// with the bindings plus the verdicts, not their product: 50 return paths
// and a report of 1 MiB naming 13,000 addresses took 1.3 GB and 7 s of
// CPU, as many times more for a report ten times larger.
//
// The first binding binds every verdict (bind). Of every later one only
// the copies that apply to someone are needed: its copies applied to no
// one come after the first binding's copy of the same verdict, which is
// applied to someone or to no one itself, so reviewOnce drops them. Those
// that apply to someone are the verdicts naming its recipient, found
// through an index of the verdicts' addresses (a signature's recipient is
// matched as Signed.Names does, verdict by verdict: there are as many
// signed bindings as genuine signatures, which no one can forge), or if
// none does, the first verdict, given its recipient: the later ones would
// be given it too, and oncePerRecipient would take it from all but the
// first.
func bindAll(bindings []binding, vs []classify.Verdict) []boundVerdict {
	if len(bindings) == 0 {
		out := make([]boundVerdict, 0, len(vs))
		for i, v := range vs {
			out = append(out, boundVerdict{Verdict: v, of: i})
		}
		return out
	}
	out := bindings[0].bind(vs)
	if len(bindings) == 1 || len(vs) == 0 {
		return out
	}
	byAddr := map[string][]int{}
	for i, v := range vs {
		if a, err := store.Normalize(v.Recipient); err == nil {
			byAddr[a] = append(byAddr[a], i)
		}
	}
	for _, b := range bindings[1:] {
		out = append(out, b.applied(vs, byAddr)...)
	}
	return out
}

// applied returns the copies of bind(vs) that may apply to someone, as
// bindAll explains; byAddr indexes vs by normalised recipient.
func (b binding) applied(vs []classify.Verdict, byAddr map[string][]int) []boundVerdict {
	var named []int
	if b.signed == nil {
		named = byAddr[b.recipient] // names is Normalize(addr) == b.recipient
	} else {
		for i, v := range vs {
			if b.names(v.Recipient) {
				named = append(named, i)
			}
		}
	}
	var out []boundVerdict
	switch {
	case len(named) > 0:
		for _, i := range named {
			out = append(out, b.bindOne(i, vs[i], true))
		}
	case b.recipient == "":
		// A hash no verdict has: every copy applies to no one.
	case !normalizable(b.recipient):
		// oncePerRecipient cannot fold copies given an address it cannot
		// read (a signed one of odd syntax): all of them, as bind makes.
		for i, v := range vs {
			out = append(out, b.bindOne(i, v, false))
		}
	default:
		out = append(out, b.bindOne(0, vs[0], false))
	}
	return out
}

func normalizable(addr string) bool {
	_, err := store.Normalize(addr)
	return err == nil
}

// oncePerRecipient lets one message count at most once for each
// recipient: a later verdict about a recipient an earlier one already
// names (a report that lists an address twice, several verdicts bound to
// one return path's recipient) is kept, for review, without a recipient.
func oncePerRecipient(bs []boundVerdict) []boundVerdict {
	seen := map[string]bool{}
	for i := range bs {
		addr, err := store.Normalize(bs[i].Recipient)
		if err != nil {
			continue
		}
		if seen[addr] {
			bs[i].Recipient, bs[i].signed = "", false
			bs[i].Evidence.Detail = addDetail(bs[i].Evidence.Detail,
				"another verdict of this message about "+addr+" counts; this one applied to no one")
			continue
		}
		seen[addr] = true
	}
	return bs
}

// reviewOnce keeps each verdict that applies to no one once. Every
// binding makes a copy of every verdict (bind): with 50 return paths in
// the envelope and a report naming 200 addresses, 10,000 observations of
// a 25 KB message, nearly all applied to no one, which the store would
// keep (4 MB of them) and which neither the raw quota nor the client's
// byte allowance counts. A copy applied to no one is dropped when another
// copy of its verdict applies to someone, and kept, the first, when none
// does: a message has at most as many observations as bindings and
// verdicts.
func reviewOnce(bs []boundVerdict) []boundVerdict {
	applied := map[int]bool{}
	for _, b := range bs {
		if b.Recipient != "" {
			applied[b.of] = true
		}
	}
	kept := map[int]bool{}
	out := bs[:0]
	for _, b := range bs {
		if b.Recipient == "" {
			if applied[b.of] || kept[b.of] {
				continue
			}
			kept[b.of] = true
		}
		out = append(out, b)
	}
	return out
}

// nullSenderRule keeps a hard bounce, a soft bounce or a delivery report
// that did not come from the null sender as evidence only: recorded,
// shown and counted, but never acted on by the suppression policy.
//
// RFC 5321 s4.5.5 and s6.1 require delivery status notifications (RFC
// 3464) to be sent with a null reverse-path <>, so that they never
// bounce back; every MTA does. Auto-replies and feedback reports (ARF)
// come from real senders and count as before. The null sender
// authenticates nothing (anyone may send from <>), so this is hygiene
// that shuts out forgeries sent from ordinary mail accounts, not
// protection: a valid signature on the return path is, and with one the
// rule is lifted. Sink.BounceSenders names MTAs known to bounce from a
// real address.
func (s *Sink) nullSenderRule(from string, bs []boundVerdict) {
	if from == "" || s.bounceSender(from) {
		return
	}
	for i := range bs {
		b := &bs[i]
		switch b.Class {
		case classify.Hard, classify.Soft, classify.Delivered:
		default:
			continue
		}
		if b.signed || b.Recipient == "" {
			continue // bound by a signature, or applied to no one anyway
		}
		b.advisory = true
		b.Evidence.Detail = addDetail(b.Evidence.Detail, "sent from <"+from+">, not the null sender <> a delivery "+
			"report comes from (RFC 5321 s4.5.5): evidence only, counted toward no suppression")
	}
}

// bounceSender reports whether from is one of the BounceSenders.
func (s *Sink) bounceSender(from string) bool {
	from = strings.ToLower(strings.TrimSpace(from))
	_, domain, _ := strings.Cut(from, "@")
	for _, e := range s.BounceSenders {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == from || strings.HasPrefix(e, "@") && e[1:] == domain {
			return true
		}
	}
	return false
}

func orNone(addr string) string {
	if addr == "" {
		return "no recipient"
	}
	return addr
}

func addDetail(detail, more string) string {
	if detail == "" {
		return more
	}
	return detail + "; " + more
}
