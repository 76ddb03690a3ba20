package classify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// A perturbation rewrites a bounce the way another MTA, another mail
// server's configuration or a forwarding gateway writes the same report.
// It returns the rewritten message and the verdict keys (verdictKeys) it
// must still read as, or a reason, when the rewrite would destroy what
// the verdict rests on, to leave the message out.
type perturbation struct {
	name string
	do   func(raw []byte, orig []Verdict) (out []byte, want string, skip string)
	// excuse, if set, says why a verdict that moved may move: the rewrite
	// took away what the original verdict rested on, or the rewritten
	// message says more than the original's verdict read. It is asked only
	// of the messages that moved, which are counted apart.
	excuse func(orig, got []Verdict, out []byte) string
}

// corpusFiles lists every message of both dev sets.
func corpusFiles(tb testing.TB) []string {
	var paths []string
	for _, dir := range []string{corpusDir, fluflDir} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		paths = append(paths, m...)
		m, _ = filepath.Glob(filepath.Join(dir, "*.txt"))
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		tb.Skip("corpus not available: skipping; it lives in ../shared/corpus beside the checkout")
	}
	return paths
}

// perturbResult is what one perturbation did to the corpus.
type perturbResult struct {
	tried, skipped int
	changed        int      // messages the perturbation changed at all
	moved          []string // "file: want -> got"
	excused        []string // moved, with the reason why that is right
	skips          map[string]int
}

func runPerturbation(tb testing.TB, paths []string, p perturbation) perturbResult {
	r := perturbResult{skips: map[string]int{}}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		orig := Classify(raw, Input{})
		out, want, skip := p.do(raw, orig)
		if skip != "" {
			r.skipped++
			r.skips[skip]++
			continue
		}
		r.tried++
		if !bytes.Equal(out, bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))) {
			// Line ends aside (TestReencodedCorpusReadsTheSame reads
			// CRLF), a byte changed.
			r.changed++
		}
		gotVs := Classify(out, Input{})
		if got := verdictKeys(gotVs); got != want {
			m := fmt.Sprintf("%s: %s -> %s", filepath.Base(path), want, got)
			if why := ""; p.excuse != nil {
				if why = p.excuse(orig, gotVs, out); why != "" {
					r.excused = append(r.excused, m+" ("+why+")")
					continue
				}
			}
			r.moved = append(r.moved, m)
		}
	}
	return r
}

// TestPerturbedCorpusReadsTheSame rewrites every message of both dev sets
// in ways real mail servers write the same bounce, and wants the same
// recipients and classes as from the original: a verdict that moves shows
// a rule fitted to one file's accidents (a name, a line width, a field's
// case or place) rather than to what the bounce says. Each perturbation
// names the messages it leaves out and why.
func TestPerturbedCorpusReadsTheSame(t *testing.T) {
	paths := corpusFiles(t)
	for _, p := range perturbations {
		t.Run(p.name, func(t *testing.T) {
			r := runPerturbation(t, paths, p)
			t.Logf("%s: %d messages read, %d of them changed, %d moved, %d moved for a stated reason; %d left out %v",
				p.name, r.tried, r.changed, len(r.moved), len(r.excused), r.skipped, r.skips)
			if testing.Verbose() {
				for _, m := range r.excused {
					t.Logf("%s: moved for a reason: %s", p.name, m)
				}
			}
			for _, m := range r.moved {
				t.Errorf("%s: %s", p.name, m)
			}
			// A rewrite that reaches few messages tests little: the
			// machinery must find what it rewrites (the identity, none).
			if p.name == "identity" && r.changed != 0 || p.name != "identity" && r.changed < 50 {
				t.Errorf("%s changed %d messages", p.name, r.changed)
			}
		})
	}
}

var perturbations = []perturbation{
	{name: "identity", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		// The rewriting machinery alone changes no byte but line ends.
		return editMIME(raw, func(*editPart) {}), verdictKeys(orig), ""
	}},
	{name: "rename", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return renameAddresses(raw, orig, true)
	}},
	{name: "rename-providers-too", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return renameAddresses(raw, orig, false)
	}, excuse: func(orig, _ []Verdict, _ []byte) string {
		for _, v := range orig {
			if providerDecoder[v.Evidence.Decoder] || strings.HasPrefix(v.Evidence.Rule, "rhost-") {
				return "the verdict rests on a provider's own format or code table, known by its domain"
			}
		}
		return ""
	}},
	{name: "rewrap-60", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editText(raw, func(b []byte) []byte { return rewrapText(b, 60) }), verdictKeys(orig), ""
	}},
	{name: "rewrap-200", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editText(raw, func(b []byte) []byte { return rewrapText(b, 200) }), verdictKeys(orig), ""
	}},
	{name: "rewrap-72", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editText(raw, func(b []byte) []byte { return rewrapText(b, 72) }), verdictKeys(orig), ""
	}},
	{name: "upper-case-addresses", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		up := func(b []byte) []byte { return addrToken.ReplaceAllFunc(b, bytes.ToUpper) }
		return editMIME(raw, func(p *editPart) {
			p.header = up(p.header)
			if p.leaf {
				p.body = up(p.body)
			}
		}), verdictKeys(orig), ""
	}},
	{name: "header-lower-case", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		// Field names are case-insensitive (RFC 5322 s1.2.2): Exim writes
		// "Content-type", others lower-case them all.
		return editMIME(raw, func(p *editPart) {
			if !p.returned {
				p.header = headerNameCase(p.header, strings.ToLower)
			}
		}), verdictKeys(orig), ""
	}},
	{name: "header-upper-case", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editMIME(raw, func(p *editPart) {
			if !p.returned {
				p.header = headerNameCase(p.header, strings.ToUpper)
			}
		}), verdictKeys(orig), ""
	}},
	{name: "header-reorder", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editMIME(raw, func(p *editPart) {
			if !p.returned {
				p.header = reverseHeaderFields(p.header)
			}
		}), verdictKeys(orig), ""
	}},
	{name: "dsn-unfold", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string { return mapFields(g, unfoldField) }), verdictKeys(orig), ""
	}},
	{name: "dsn-fold-40", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string {
			return mapFields(g, func(f string) string { return foldField(unfoldField(f), 40) })
		}), verdictKeys(orig), ""
	}},
	{name: "dsn-lower-case", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string { return mapFields(g, fieldNameCase(strings.ToLower)) }), verdictKeys(orig), ""
	}},
	{name: "dsn-upper-case", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string { return mapFields(g, fieldNameCase(strings.ToUpper)) }), verdictKeys(orig), ""
	}},
	{name: "dsn-reverse-order", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, reverseRecipientFields), verdictKeys(orig), ""
	}},
	{name: "dsn-blank-lines-trailing-space", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string {
			g = mapFields(g, func(f string) string { return strings.ReplaceAll(f, "\n", "  \n") + "  " })
			var out [][]string
			for _, grp := range g {
				out = append(out, grp, nil) // an empty group is an extra blank line
			}
			return out
		}), verdictKeys(orig), ""
	}},
	{name: "dsn-tabs", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editDSN(raw, func(g [][]string) [][]string { return mapFields(g, tabsForSpaces) }), verdictKeys(orig), ""
	}},
	{name: "text-whitespace", do: func(raw []byte, orig []Verdict) ([]byte, string, string) {
		return editText(raw, textWhitespace), verdictKeys(orig), ""
	}},
	{name: "no-dsn", do: dropDSN, excuse: dropDSNExcuse},
	{name: "no-text", do: dropText},
}

// isDSNPart reports whether a part is a report's delivery-status part.
func isDSNPart(p *editPart) bool {
	return p.leaf && !p.returned && (p.ctype == "message/delivery-status" || p.ctype == "message/global-delivery-status")
}

// isHumanPart reports whether a part is the bounce's own human-readable
// text (not the returned message).
func isHumanPart(p *editPart) bool {
	return p.leaf && !p.returned && (p.ctype == "text/plain" || p.ctype == "text/html")
}

// partsOf returns the decoded bodies of the parts keep picks.
func partsOf(raw []byte, keep func(p *editPart) bool) [][]byte {
	var out [][]byte
	editMIME(raw, func(p *editPart) {
		if keep(p) {
			out = append(out, p.body)
		}
	})
	return out
}

// foldedWithout is s lower-cased, its blanks folded, without the address
// (a diagnostic's words, not the address it may start with).
func foldedWithout(s, addr string) string {
	s = strings.ReplaceAll(strings.ToLower(s), addr, "")
	return strings.Trim(strings.Join(strings.Fields(s), " "), "<>:;, ")
}

// dropDSN takes the delivery-status part out of a report and calls the
// report multipart/mixed, as a gateway that converts or forwards a bounce
// writes it. The human-readable part must then be enough: the message is
// left out where that part does not name every recipient and quote the
// reply its verdict rests on, since then the rewrite destroys what the
// verdict was read from.
func dropDSN(raw []byte, orig []Verdict) ([]byte, string, string) {
	if len(partsOf(raw, isDSNPart)) == 0 {
		return nil, "", "no delivery-status part"
	}
	text := strings.ToLower(string(bytes.Join(partsOf(raw, isHumanPart), []byte("\n"))))
	for _, v := range orig {
		if v.Recipient == "" || !strings.Contains(text, v.Recipient) {
			return nil, "", "the text does not name every recipient"
		}
		d := foldedWithout(v.Diagnostic, v.Recipient)
		if !strings.Contains(foldedWithout(text, v.Recipient), d[:min(len(d), 40)]) ||
			!strings.Contains(text, v.Status) && (v.SMTPCode == 0 || !strings.Contains(text, fmt.Sprint(v.SMTPCode))) {
			return nil, "", "the text does not quote the reply, its code or its status"
		}
		if v.Action != "failed" {
			return nil, "", "the Action (delayed, delivered) is said only in the report's fields"
		}
	}
	out := editMIME(raw, func(p *editPart) {
		if isDSNPart(p) {
			p.drop = true
		}
		if p.ctype == "multipart/report" {
			p.header = replaceFold(p.header, "multipart/report", "multipart/mixed", false)
		}
	})
	return out, verdictKeys(orig), ""
}

// dropDSNExcuse says why a report read without its delivery-status part
// may rightly read otherwise: the text says more than the fields did (it
// names the alias an address was generated from, or the SMTP stage that
// decides whom a refusal concerns).
func dropDSNExcuse(orig, got []Verdict, _ []byte) string {
	have := map[string]bool{}
	for _, v := range got {
		have[v.Recipient+"/"+string(v.Class)] = true
	}
	superset := len(got) > len(orig)
	for _, v := range orig {
		superset = superset && have[v.Recipient+"/"+string(v.Class)]
	}
	if superset {
		return "the text names an address the report's fields do not (the alias it was generated from)"
	}
	for _, v := range got {
		if strings.Contains(v.Evidence.Rule, "+after-data") {
			return "the text names the SMTP stage (after DATA) that the report's fields do not, and the stage says whom the refusal concerns"
		}
	}
	return ""
}

// dropText takes the human-readable part out of a report and keeps its
// delivery-status part, as a system that forwards only the machine-readable
// report writes it. The message is left out where a verdict rests on the
// text (its cause read from the human-readable text, or the decoder of a
// format the text makes), since then the rewrite destroys what it was
// read from.
func dropText(raw []byte, orig []Verdict) ([]byte, string, string) {
	if len(partsOf(raw, isDSNPart)) == 0 {
		return nil, "", "no delivery-status part"
	}
	dsn := string(bytes.Join(partsOf(raw, isDSNPart), []byte("\n")))
	for _, v := range orig {
		if v.Evidence.Decoder != "rfc3464" {
			return nil, "", "a decoder of the text's own format read it"
		}
		d := foldedWithout(v.Diagnostic, v.Recipient)
		if strings.HasSuffix(v.Evidence.Rule, "+human-text") || !strings.Contains(foldedWithout(dsn, v.Recipient), d[:min(len(d), 40)]) {
			return nil, "", "the cause was read from the human-readable text"
		}
	}
	out := editMIME(raw, func(p *editPart) {
		if isHumanPart(p) {
			p.drop = true
		}
	})
	return out, verdictKeys(orig), ""
}

// --- renaming -------------------------------------------------------------

// addrToken is an address as bounces write it (RFC 5322 dot-atom local
// part, a domain of two labels or more). A quote before it is the
// text's ('user@example.com'), not the address's.
var addrToken = regexp.MustCompile(`[A-Za-z0-9!#$%&*+/=?^_{|}~-][A-Za-z0-9!#$%&'*+/=?^_{|}~-]*(?:\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)

// roleLocal holds the local parts of mail systems' own mailboxes: a rule
// may rightly read From: MAILER-DAEMON as the sign of a bounce, so these
// keep their names.
var roleLocal = map[string]bool{
	"mailer-daemon": true, "postmaster": true, "root": true, "abuse": true, "hostmaster": true,
	"noreply": true, "no-reply": true, "daemon": true, "double-bounce": true, "nobody": true,
	"mailerdaemon": true, "mail-daemon": true, "mdaemon": true, "bounce": true, "bounces": true,
	"redacted": true, // RFC 6590's placeholder for a local part a report hides
}

// providerSite holds the mailbox providers whose own code tables the
// classifier may rightly read when the recipient's mailbox is theirs (au's
// "User unknown" is a filter; Yahoo, Outlook.com and Gmail answer with
// their own texts): the "rename" perturbation keeps these domains. The
// "rename-providers-too" one renames them as well and tells what such a
// table was worth.
var providerSite = map[string]bool{
	"gmail": true, "googlemail": true, "google": true, "yahoo": true, "ymail": true, "rocketmail": true,
	"aol": true, "outlook": true, "hotmail": true, "live": true, "msn": true, "icloud": true, "me": true,
	"mac": true, "ezweb": true, "au": true, "dion": true, "auone-net": true, "docomo": true, "softbank": true,
	"mail": true, "yandex": true, "gmx": true, "web": true, "orange": true, "wanadoo": true, "free": true,
	"zoho": true, "verizon": true, "vtext": true, "att": true, "comcast": true, "naver": true, "qq": true,
	"163": true, "sina": true, "1and1": true, "1und1": true, "t-online": true, "libero": true, "laposte": true,
	"apple": true, "microsoft": true, "amazonses": true, "messagelabs": true, "yahoodns": true,
	"googlegroups": true,
}

// keyPrefix is an authentication result's or a header's "key=" in front of
// an address (smtp.mailfrom=, header.i=@, envelope-from=, an X.400
// address's dda:SMTP=): not part of it.
var keyPrefix = regexp.MustCompile(`(?i)^(smtp\.mailfrom|smtp\.helo|header\.from|header\.[ids]|envelope-from|receiver|sender|identity|mailfrom|from|to|smtp)=`)

// splitAddrToken splits a token addrToken found into a key prefix, the
// local part and the domain.
func splitAddrToken(a string) (key, local, domain string) {
	if k := keyPrefix.FindString(a); k != "" {
		key, a = k, a[len(k):]
	}
	i := strings.LastIndexByte(a, '@')
	return key, a[:i], a[i+1:]
}

// providerDecoder holds the decoders of one provider's own notices
// (Gmail's, Google Groups', Amazon SES's, au's, Yahoo's), which know the
// provider by its domains: renamed, it is no longer that provider.
var providerDecoder = map[string]bool{"gmail": true, "googlegroups": true, "amazonses": true, "au": true, "yahoo": true}

var secondLevel = map[string]bool{"co": true, "ne": true, "or": true, "ac": true, "ad": true, "go": true, "gr": true,
	"ed": true, "lg": true, "com": true, "net": true, "org": true, "edu": true, "gov": true}

// siteBase is the registered domain of a host: its last two labels, three
// under a country's second level (example.co.jp).
func siteBase(host string) string {
	labels := strings.Split(strings.ToLower(host), ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 && secondLevel[labels[len(labels)-2]] {
		n = 3
	}
	if len(labels) < n {
		return strings.ToLower(host)
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

var (
	newLocals = []string{"jane.doe", "t.nakamura", "bob_smith", "k.mueller", "oliver.king", "yuki88", "m-garcia",
		"pat", "ng.linh", "a.rossi", "dsouza.r", "lee.minho", "sofia+news", "hkowalski", "ewa.nowak", "j"}
	newSites = []string{"harbourlight.net", "kitamura-denki.co.jp", "vertexpost.de", "bluefinch.org", "corvid.fr",
		"northwindtraders.com", "tallpine.co.uk", "mx-relay.io", "sakura-net.ne.jp", "lakeside.edu"}
)

// renameAddresses gives every recipient and sender a new local part and
// every domain of an address a new site, consistently in every header and
// body (decoded from its transfer encoding), hostnames under those sites
// included. Mail systems' own mailboxes (roleLocal) keep their names, and
// so do the providers' sites when keepProviders.
func renameAddresses(raw []byte, orig []Verdict, keepProviders bool) ([]byte, string, string) {
	locals, sites := map[string]string{}, map[string]string{}
	collect := func(b []byte) {
		for _, a := range addrToken.FindAll(b, -1) {
			_, local, domain := splitAddrToken(asciiLower(string(a)))
			if local != "" && !roleLocal[local] && locals[local] == "" {
				i := len(locals)
				locals[local] = newLocals[i%len(newLocals)] + strings.Repeat("x", i/len(newLocals))
			}
			site := siteBase(domain)
			if keepProviders && providerSite[strings.SplitN(site, ".", 2)[0]] {
				continue
			}
			if sites[site] == "" {
				i := len(sites)
				sites[site] = fmt.Sprintf("%s%s", strings.Repeat("w", i/len(newSites)), newSites[i%len(newSites)])
			}
		}
	}
	editMIME(raw, func(p *editPart) { collect(p.header); collect(p.body) })
	// Longest first, so example.com.au is not read as example.com.
	var order []string
	for s := range sites {
		order = append(order, s)
	}
	sort.Slice(order, func(i, j int) bool {
		return len(order[i]) > len(order[j]) || len(order[i]) == len(order[j]) && order[i] < order[j]
	})
	rename := func(b []byte) []byte {
		b = addrToken.ReplaceAllFunc(b, func(a []byte) []byte {
			key, local, domain := splitAddrToken(string(a))
			if n := locals[asciiLower(local)]; n != "" {
				local = n
			}
			return []byte(key + local + "@" + domain)
		})
		for l, n := range locals {
			b = replaceFold(b, "<"+l+">", "<"+n+">", false)
		}
		for _, s := range order {
			b = replaceFold(b, s, sites[s], true)
		}
		return b
	}
	out := editMIME(raw, func(p *editPart) {
		p.header = rename(p.header)
		if p.leaf {
			p.body = rename(p.body)
		}
	})
	want := make([]Verdict, len(orig))
	for i, v := range orig {
		want[i] = v
		want[i].Recipient = asciiLower(string(rename([]byte(v.Recipient))))
	}
	return out, verdictKeys(want), ""
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// replaceFold replaces old (lower-case ASCII) in b whatever its case; with
// hostBounded, only where it is a whole host name or its tail (not inside
// a longer label).
func replaceFold(b []byte, old, repl string, hostBounded bool) []byte {
	lower := []byte(asciiLower(string(b)))
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(lower[i:], []byte(old))
		if j < 0 {
			break
		}
		j += i
		end := j + len(old)
		if hostBounded && (j > 0 && isHostLabelByte(lower[j-1]) && lower[j-1] != '.' || end < len(lower) && isHostLabelByte(lower[end]) && lower[end] != '.') {
			i = j + 1
			continue
		}
		out = append(append(out, b[last:j]...), repl...)
		last, i = end, end
	}
	return append(out, b[last:]...)
}

func isHostLabelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
}

// --- human-readable text ---------------------------------------------------

// editText applies f to every human-readable text part of the bounce (not
// to the returned message).
func editText(raw []byte, f func([]byte) []byte) []byte {
	return editMIME(raw, func(p *editPart) {
		if p.leaf && !p.returned && p.ctype == "text/plain" {
			p.body = f(p.body)
		}
	})
}

var (
	// A field or a template's label line ("Your mail sent on: <date>",
	// "Could not be delivered to: <addr>"): a label of a few words, a
	// colon, a value. Templates write these one to a line at any width.
	fieldLineRe   = regexp.MustCompile(`^[ \t]*[A-Za-z][A-Za-z0-9-]*(?: [A-Za-z][A-Za-z0-9()'-]*){0,4}:([ \t]|$)`)
	codeLineRe    = regexp.MustCompile(`^[ \t]*([2-5][0-9][0-9][ -]|[245]\.[0-9]{1,3}\.[0-9]{1,3}\b)`)
	addrLineStart = regexp.MustCompile(`^[ \t]*("[^"]*"[ \t]*)?<?[^\s<>@]+@[^\s<>]+>?`)
	addrLineAlone = regexp.MustCompile(`^[ \t]*("[^"]*"[ \t]*)?<?[^\s<>@]+@[^\s<>]+>?:?[ \t]*$`)
)

// rewrapText refills the prose of a bounce's text at another width,
// breaking only at spaces, as another MTA's template or a longer SMTP
// reply would have it. It keeps the line structure that is not wrapping:
// paragraphs, a line that starts a recipient's entry (an address), a
// quoted SMTP reply line (a code) or a field, a transcript or decoration
// line (one that starts with a mark), a line that ends in a colon (a
// heading or a list's lead) and a drop in indentation; a deeper-indented
// line continues the one above (Postfix's and Exim's hanging indents).
func rewrapText(body []byte, width int) []byte {
	lines := strings.Split(string(body), "\n")
	var out []string
	var block []string // lines of the block being refilled
	flush := func() {
		if len(block) > 0 {
			out = append(out, refillBlock(block, width)...)
			block = nil
		}
	}
	closed := true // the previous line ends a block
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || markedLine(t) || fieldLineRe.MatchString(l) || strings.Contains(t, "   "):
			// Not prose: kept as it is, as is a field's folded continuation.
			flush()
			out = append(out, l)
			closed = true
			continue
		case fieldLineRe.MatchString(lastLine(out)) && lineIndent(l) > 0 && len(block) == 0:
			out = append(out, l)
			continue
		case !closed && len(block) > 0 && lineIndent(l) >= lineIndent(block[len(block)-1]) &&
			!addrLineStart.MatchString(l) && !codeLineRe.MatchString(l) && !fieldLineRe.MatchString(l) && !markedLine(t):
			block = append(block, l)
		default:
			flush()
			block = []string{l}
		}
		closed = markedLine(t) || addrLineAlone.MatchString(l) || strings.HasSuffix(t, ":")
	}
	flush()
	return []byte(strings.Join(out, "\n"))
}

func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// markedLine reports whether a line starts with a mark rather than a word:
// ">>> RCPT TO", "<<< 550", "----- Transcript", "*** Error", "[...]".
func markedLine(t string) bool {
	if addrLineStart.MatchString(t) {
		return false
	}
	if strings.Contains(t, ">>>") || strings.Contains(t, "<<<") {
		return true // a transcript line: "Sent <<< RCPT TO:<...>"
	}
	c := t[0]
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '"' || c == '(' || c >= 0x80 || c == 0x1b)
}

func lineIndent(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }

// refillBlock joins a block's lines and breaks them again at width, at spaces
// only, keeping the first line's indentation and the second's (a hanging
// indent) for the lines after it.
func refillBlock(block []string, width int) []string {
	first := block[0][:lineIndent(block[0])]
	rest := first
	if len(block) > 1 {
		rest = block[1][:lineIndent(block[1])]
	}
	var words []string
	for _, l := range block {
		for _, w := range strings.Split(strings.TrimSpace(l), " ") {
			if w != "" {
				words = append(words, w)
			}
		}
	}
	var out []string
	cur := first
	empty := true
	for _, w := range words {
		if !empty && len(cur)+1+len(w) > width {
			out = append(out, cur)
			cur, empty = rest, true
		}
		if !empty {
			cur += " "
		}
		cur += w
		empty = false
	}
	return append(out, cur)
}

// textWhitespace ends every line in spaces and indents with a tab for
// every four spaces the text indents with, so an indented line stays
// deeper than a less indented one ("  user@example.com" over
// "\tSMTP error ...").
func textWhitespace(body []byte) []byte {
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		if n := lineIndent(l); n >= 4 && strings.Trim(l[:n], " ") == "" {
			l = strings.Repeat("\t", n/4) + strings.Repeat(" ", n%4) + l[n:]
		}
		if l != "" {
			l += "  "
		}
		lines[i] = l
	}
	return []byte(strings.Join(lines, "\n"))
}

// --- DSN fields ------------------------------------------------------------

// editDSN splits every delivery-status part (RFC 3464 s2.1) into its
// groups of fields (a field with its folded continuation lines), lets f
// rewrite them, and writes them back, the groups separated by one blank
// line.
func editDSN(raw []byte, f func(groups [][]string) [][]string) []byte {
	return editMIME(raw, func(p *editPart) {
		if !p.leaf || p.returned || (p.ctype != "message/delivery-status" && p.ctype != "message/global-delivery-status") {
			return
		}
		var groups [][]string
		var cur []string
		for _, l := range strings.Split(strings.TrimRight(string(p.body), "\n"), "\n") {
			switch {
			case strings.TrimSpace(l) == "":
				if len(cur) > 0 {
					groups = append(groups, cur)
				}
				cur = nil
			case (l[0] == ' ' || l[0] == '\t') && len(cur) > 0:
				cur[len(cur)-1] += "\n" + l
			default:
				cur = append(cur, l)
			}
		}
		if len(cur) > 0 {
			groups = append(groups, cur)
		}
		var out []string
		for _, g := range f(groups) {
			out = append(out, strings.Join(g, "\n"))
		}
		p.body = []byte(strings.Join(out, "\n\n") + "\n")
	})
}

func mapFields(groups [][]string, f func(string) string) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		for _, fl := range g {
			out[i] = append(out[i], f(fl))
		}
	}
	return out
}

func unfoldField(f string) string {
	lines := strings.Split(f, "\n")
	for i := range lines[1:] {
		lines[i+1] = strings.TrimSpace(lines[i+1])
	}
	return strings.Join(lines, " ")
}

// foldField folds a long field at spaces (RFC 5322 s2.2.3), as Postfix
// folds a long Diagnostic-Code.
func foldField(f string, width int) string {
	if len(f) <= width {
		return f
	}
	ws := strings.Split(f, " ")
	var lines []string
	cur := ws[0]
	for _, w := range ws[1:] {
		if len(cur)+1+len(w) > width && strings.TrimSpace(cur) != "" && !strings.HasSuffix(cur, ":") {
			lines = append(lines, cur)
			cur = "    " + w
			continue
		}
		cur += " " + w
	}
	return strings.Join(append(lines, cur), "\n")
}

func fieldNameCase(c func(string) string) func(string) string {
	return func(f string) string {
		name, rest, ok := strings.Cut(f, ":")
		if !ok {
			return f
		}
		return c(name) + ":" + rest
	}
}

// headerNameCase rewrites the name of every field of a header (not its
// folded lines, nor an mbox "From " line, which is no field).
func headerNameCase(head []byte, c func(string) string) []byte {
	lines := strings.SplitAfter(string(head), "\n")
	for i, l := range lines {
		if name, _, ok := strings.Cut(l, ":"); !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		lines[i] = fieldNameCase(c)(l)
	}
	return []byte(strings.Join(lines, ""))
}

// reverseHeaderFields reverses the order of a header's fields (each with
// its folded lines), as another MTA writes them in its own order (RFC 5322
// s3.6 sets none). The trace fields (Received, Return-Path, an mbox "From "
// line) keep their places: their order says the path the message took.
func reverseHeaderFields(head []byte) []byte {
	var fields []string
	for _, l := range strings.SplitAfter(string(head), "\n") {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += l
			continue
		}
		fields = append(fields, l)
	}
	trace := func(f string) bool {
		name, _, _ := strings.Cut(strings.ToLower(f), ":")
		return name == "received" || name == "return-path" || strings.HasPrefix(f, "From ")
	}
	var movable []int
	for i, f := range fields {
		if !trace(f) {
			movable = append(movable, i)
		}
	}
	out := append([]string(nil), fields...)
	for k, i := range movable {
		out[i] = fields[movable[len(movable)-1-k]]
	}
	return []byte(strings.Join(out, ""))
}

// reverseRecipientFields reverses the order of the fields of every
// per-recipient group (RFC 3464 s2.3 sets no order), not the per-message
// group that comes first.
func reverseRecipientFields(groups [][]string) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		out[i] = append([]string(nil), g...)
		if i > 0 {
			for a, b := 0, len(out[i])-1; a < b; a, b = a+1, b-1 {
				out[i][a], out[i][b] = out[i][b], out[i][a]
			}
		}
	}
	return out
}

// tabsForSpaces writes a tab where a field has a space after its colon
// and after a type's semicolon ("rfc822;\tuser@example.com").
func tabsForSpaces(f string) string {
	name, rest, ok := strings.Cut(f, ":")
	if !ok {
		return f
	}
	rest = "\t" + strings.TrimLeft(rest, " ")
	if t, v, ok := strings.Cut(rest, ";"); ok && !strings.Contains(t, " ") {
		rest = t + ";\t" + strings.TrimLeft(v, " ")
	}
	return name + ":" + rest
}
