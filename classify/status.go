package classify

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// statusReason maps an enhanced status code's subject.detail (RFC 3463 s3,
// RFC 7505, RFC 7372, RFC 8689) to a reason. A strong entry decides on its
// own; a weak one is used only when no text rule names a reason, because
// real servers use those codes for many things (5.7.1 says "not
// authorized" for blocklists, relaying and policy alike).
var statusReason = map[string]struct {
	reason Reason
	strong bool
}{
	"1.1":  {UserUnknown, true}, // bad destination mailbox address
	"1.2":  {DomainUnknown, true},
	"1.3":  {UserUnknown, true}, // bad destination mailbox address syntax
	"1.4":  {UserUnknown, false},
	"1.5":  {DeliveredOK, false}, // destination address valid
	"1.6":  {Moved, true},
	"1.7":  {RejectedSender, true},
	"1.8":  {RejectedSender, true},
	"1.10": {NotAccept, false}, // RFC 7505 null MX; Exchange Online's "Recipient not found" too (seed 001)
	"1.0":  {UserUnknown, false},
	"2.0":  {Filtered, false}, // "the mailbox exists, but something about it caused this DSN"
	"2.1":  {Disabled, true},
	"2.2":  {MailboxFull, true},
	"2.3":  {ExceedLimit, false}, // "message length exceeds administrative limit": the text says whose (Gmail's 5.2.3 is its system's size limit)
	"2.4":  {SystemError, true},  // mailing list expansion problem
	"3.0":  {SystemError, false},
	"3.1":  {SystemFull, true},
	"3.2":  {SystemError, false},
	"3.3":  {SystemError, false},
	"3.4":  {TooLarge, true},
	"3.5":  {SystemError, true},
	"4.0":  {NetworkError, false},
	"4.1":  {NetworkError, false}, // Exchange Online also sends 5.4.1 for unknown recipients (seed 001)
	"4.2":  {NetworkError, false},
	"4.3":  {NetworkError, false},
	"4.4":  {DomainUnknown, false},
	"4.5":  {SystemError, false},
	"4.6":  {NetworkError, true}, // routing loop
	"4.7":  {Expired, false},     // delivery time expired; the text often says why
	"5.0":  {SyntaxError, false},
	"5.1":  {SyntaxError, false},
	"5.2":  {SyntaxError, false},
	"5.3":  {TooManyConnections, false}, // too many recipients
	"5.4":  {SyntaxError, false},
	"5.5":  {SyntaxError, false},
	"5.6":  {SyntaxError, false},
	"6.0":  {ContentError, false},
	"6.1":  {ContentError, false},
	"6.2":  {ContentError, false},
	"6.3":  {ContentError, false},
	"6.4":  {ContentError, false},
	"6.5":  {ContentError, false},
	"6.6":  {ContentError, false},
	"7.0":  {Policy, false},
	"7.1":  {Policy, false},
	"7.2":  {Policy, false},
	"7.3":  {SecurityError, false},
	"7.4":  {SecurityError, false},
	"7.5":  {SecurityError, false},
	"7.6":  {SecurityError, false},
	"7.7":  {SecurityError, false},
	"7.8":  {AuthFailed, false},
	"7.9":  {SecurityError, false},
	"7.10": {TLSRequired, true},
	"7.11": {TLSRequired, true},
	"7.12": {SecurityError, false},
	"7.13": {Disabled, true}, // user account disabled
	"7.14": {SecurityError, false},
	"7.15": {Policy, false},
	"7.16": {TooLarge, false},
	"7.17": {Moved, true}, // RRVS: mailbox owner has changed
	"7.18": {Moved, true}, // RRVS: domain owner has changed
	"7.19": {Policy, false},
	"7.20": {AuthFailed, true}, // no passing DKIM signature
	"7.21": {AuthFailed, true},
	"7.22": {AuthFailed, true},
	"7.23": {AuthFailed, true}, // SPF validation failed
	"7.24": {AuthFailed, true},
	"7.25": {PTRRequired, true}, // reverse DNS validation failed
	"7.26": {AuthFailed, true},  // multiple authentication checks failed (DMARC)
	"7.27": {RejectedSender, true},
	"7.28": {RateLimited, false},
	"7.29": {AuthFailed, true},
	"7.30": {TLSRequired, true},
}

// statusEntry looks a status code up in statusReason. A detail it does
// not list reads as its subject's X.Y.0, weakly: "The subject sub-code, if
// recognized, must be reported even if the additional detail provided by
// the detail sub-code is not recognized" (RFC 3463 s2). Exchange Online's
// 5.7.705 is a policy refusal, 4.4.316 a network one.
func statusEntry(status string) (e struct {
	reason Reason
	strong bool
}, ok bool) {
	subj := statusSubject(status)
	if e, ok = statusReason[subj]; ok {
		return e, true
	}
	if i := strings.IndexByte(subj, '.'); i > 0 {
		e, ok = statusReason[subj[:i]+".0"]
		e.strong = false
	}
	return e, ok
}

var (
	statusRe    = mustFastRe(`(?:^|[^\d.])([245])\.(\d{1,3})\.(\d{1,3})(?:[^\d.]|$)`)
	replyCodeRe = mustFastRe(`(?:^|[^\d.#])([245][0-5]\d)(?:[ \-]|$)`)
)

// parseStatus validates and normalises an RFC 3464 Status value
// ("5.1.1 (user unknown)" -> "5.1.1").
func parseStatus(s string) string {
	s = strings.TrimSpace(s)
	loc, ok := nextStatus(s, 0)
	if !ok {
		return ""
	}
	return statusOf(s, loc)
}

// statusOf is the normalised status of a match of nextStatus.
func statusOf(s string, loc [8]int) string {
	return s[loc[2]:loc[3]] + "." + trimZeros(s[loc[4]:loc[5]]) + "." + trimZeros(s[loc[6]:loc[7]])
}

// nextStatus finds the first match of statusRe in s from pos on, pos
// being 0 or the end of the match before, as FindAllStringSubmatchIndex
// steps; loc is the match and its three groups. It does what the regexp
// does, without trying the regexp at every byte: a class digit, a dot,
// one to three digits, a dot, one to three digits, not within a longer
// run of digits and dots; the match takes the character before (unless
// the code opens the text) and the one after (unless it ends it).
func nextStatus(s string, pos int) (loc [8]int, ok bool) {
	for i := pos; i+1 < len(s); i++ {
		if c := s[i]; c != '2' && c != '4' && c != '5' || s[i+1] != '.' {
			continue
		}
		start := 0
		if i > 0 {
			// One rune, not a digit nor a dot, from pos on.
			r, w := utf8.DecodeLastRuneInString(s[pos:i])
			if w == 0 || '0' <= r && r <= '9' || r == '.' {
				continue
			}
			start = i - w
		}
		j := digitsFrom(s, i+2)
		if n := j - (i + 2); n < 1 || n > 3 || j == len(s) || s[j] != '.' {
			continue
		}
		k := digitsFrom(s, j+1)
		if n := k - (j + 1); n < 1 || n > 3 || k < len(s) && s[k] == '.' {
			continue
		}
		end := k
		if k < len(s) {
			_, w := utf8.DecodeRuneInString(s[k:])
			end += w
		}
		return [8]int{start, end, i, i + 1, i + 2, j, j + 1, k}, true
	}
	return loc, false
}

// digitsFrom returns the end of the run of ASCII digits at s[i:].
func digitsFrom(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

func trimZeros(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return s
	}
	return strconv.Itoa(n)
}

// statusInText finds the most specific enhanced status code in a text: a
// code that directly follows a reply code ("550 5.7.1", "550-'5.7.1") is
// the remote server's own and beats one a relay wrapped around it; then the
// first non-generic (not X.0.0) one; then the first. It also returns the
// reply code that preceded the chosen status, or 0.
func statusInText(s string) (string, int) {
	first, specific := "", ""
	pos := 0
	for range 8 { // as FindAllStringSubmatchIndex(s, 8)
		loc, ok := nextStatus(s, pos)
		if !ok {
			break
		}
		pos = loc[1]
		st := statusOf(s, loc)
		if first == "" {
			first = st
		}
		if isGenericStatus(st) {
			continue
		}
		if code := replyCodeBefore(s[:loc[2]]); code != 0 {
			return st, code
		}
		if specific == "" {
			specific = st
		}
	}
	if specific != "" {
		return specific, 0
	}
	return first, 0
}

var replyCodeBeforeRe = mustFastRe(`([245]\d\d)[ \-]['"#]?$`)

func replyCodeBefore(prefix string) int {
	if len(prefix) > 8 {
		prefix = prefix[len(prefix)-8:]
	}
	m := replyCodeBeforeRe.FindStringSubmatch(prefix)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// replyCodeInText finds an SMTP reply code (RFC 5321 s4.2) in a text.
func replyCodeInText(s string) int {
	i := replyCodeIndex(s)
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(s[i : i+3])
	return n
}

// replyCodeIndex returns where replyCodeRe's group, the code, first
// matches in s, or -1: three digits, the first a class (2, 4, 5) and the
// second 0 to 5, after the start of the text or a rune that is not a
// digit, a dot or "#", and before a space, a hyphen or the end.
func replyCodeIndex(s string) int {
	return replyCodeFrom(s, 0)
}

// replyCodeFrom is replyCodeIndex from s[pos:] on, reading the rune
// before pos.
func replyCodeFrom(s string, pos int) int {
	for i := pos; i+2 < len(s); i++ {
		if c := s[i]; c != '2' && c != '4' && c != '5' || s[i+1] < '0' || s[i+1] > '5' || s[i+2] < '0' || s[i+2] > '9' {
			continue
		}
		if i+3 < len(s) && s[i+3] != ' ' && s[i+3] != '-' {
			continue
		}
		if i > 0 {
			if c := s[i-1]; '0' <= c && c <= '9' || c == '.' || c == '#' {
				continue
			}
		}
		return i
	}
	return -1
}

func isGenericStatus(st string) bool {
	return st == "" || strings.HasSuffix(st, ".0.0")
}

// statusSubject returns "1.1" for "5.1.1".
func statusSubject(st string) string {
	if i := strings.IndexByte(st, '.'); i >= 0 {
		return st[i+1:]
	}
	return ""
}

// temporary reports whether a status or reply code says the failure may
// pass. A status X.0.0 says no more than its class, which the reporting
// MTA may have set itself (Exim's final report on a server's 450 says
// 5.0.0): the server's own reply code, where there is one, decides.
func temporary(status string, code int) bool {
	if status != "" && (code == 0 || status[1:] != ".0.0") {
		return status[0] == '4'
	}
	return code >= 400 && code < 500
}
