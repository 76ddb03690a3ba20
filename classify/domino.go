package classify

import (
	"strings"
)

// IBM (Lotus) Domino and its predecessor Lotus Notes SMTP MTA.
//
// Domino:
//
//	Your message
//	  Subject: ...
//	was not delivered to:
//	  user@example.org
//	because:
//	  User some.name (user@example.org) not listed in Domino Directory
//
// Notes SMTP MTA:
//
//	------- Failure Reasons  --------
//	User not listed in public Name & Address Book
//	user@example.org
//	------- Returned Message --------
func init() {
	register(decoder{name: "domino", order: orderMTA - 1, decode: decodeDomino})
}

var dominoPhrases = []phrase{
	providerPhrase("not-in-directory", UserUnknown, `not listed in (the )?(domino directory|public name (&|and) address book)`),
	providerPhrase("no-route", DomainUnknown, `no route found to domain`),
}

func decodeDomino(m *message) []Verdict {
	// A line holds a marker only if the text does, which one search shows
	// more cheaply than splitting it into lines.
	if !m.containsLower("was not delivered to:") && !m.containsLower("------- failure reasons") {
		return nil
	}
	lines := textLines(m.text)
	var fs []finding
	if i := indexLine(lines, 0, "was not delivered to:"); i >= 0 {
		fs = dominoReport(lines, i)
	} else if i := indexLine(lines, 0, "------- failure reasons"); i >= 0 {
		fs = notesReport(lines, i)
	}
	if len(fs) == 0 {
		return nil
	}
	if len(fs) > maxFindings {
		fs = fs[:maxFindings]
		m.cutShort(cutFindings)
	}
	for i := range fs {
		if i > 0 && fs[i].diagnostic == fs[i-1].diagnostic {
			// The recipients of one report share its reason: read it once.
			fs[i].reason, fs[i].rule = fs[i-1].reason, fs[i-1].rule
			continue
		}
		if p, ok := matchPhrases(dominoPhrases, fs[i].diagnostic); ok {
			fs[i].reason, fs[i].rule = p.reason, "domino-"+p.name
		}
	}
	return decideAll("domino", fs)
}

func dominoReport(lines []string, head int) []finding {
	because := indexLine(lines, head+1, "because:")
	if because < 0 {
		return nil
	}
	var diag []string
	for _, l := range lines[because+1:] {
		t := strings.TrimSpace(l)
		if t == "" {
			if len(diag) > 0 {
				break
			}
			continue
		}
		diag = append(diag, t)
	}
	var fs []finding
	joined := strings.Join(diag, " ")
	for _, l := range lines[head+1 : because] {
		if a := firstAddrIn(l); a != "" {
			fs = append(fs, finding{recipient: a, action: "failed", diagnostic: joined})
		}
	}
	return fs
}

func notesReport(lines []string, head int) []finding {
	end := indexLine(lines, head+1, "------- returned message")
	if end < 0 {
		end = len(lines)
	}
	var diag []string
	var fs []finding
	for _, l := range lines[head+1 : end] {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if a := firstAddrIn(t); a != "" && strings.EqualFold(a, strings.Trim(t, "<>")) {
			fs = append(fs, finding{recipient: a, action: "failed", diagnostic: strings.Join(diag, " ")})
			diag = nil
			continue
		}
		diag = append(diag, t)
	}
	return fs
}
