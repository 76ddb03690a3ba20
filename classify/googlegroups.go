package classify

import (
	"strings"
)

// Google Groups refuses a post, in the poster's language, when the group
// does not exist or the sender may not post to it. The notice comes from
// Gmail's mailer-daemon, names the group in X-Failed-Recipients and points
// to groups.google.com; it carries no SMTP reply or status code.
func init() {
	register(decoder{name: "googlegroups", order: orderProvider - 1, decode: decodeGoogleGroups})
}

func decodeGoogleGroups(m *message) []Verdict {
	failed := strings.ToLower(m.get("X-Failed-Recipients"))
	if !strings.Contains(failed, "googlegroups.com") || !strings.Contains(m.text, "groups.google.com") {
		return nil
	}
	var out []Verdict
	notice := googleGroupsNotice(m.text)
	for _, a := range strings.Split(failed, ",") {
		a = firstAddrIn(a)
		if a == "" {
			continue
		}
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		// The group either does not exist or will not take the sender's
		// posts; Google does not say which, and both refuse this sender.
		f := finding{recipient: a, action: "failed", diagnostic: notice,
			reason: RejectedSender, rule: "googlegroups-cannot-post"}
		out = append(out, decide("googlegroups", f))
	}
	return out
}

// googleGroupsNotice returns the notice's first paragraph that says why.
func googleGroupsNotice(text string) string {
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		p := strings.TrimSpace(para)
		if len([]rune(p)) > 40 {
			return p
		}
	}
	return ""
}
