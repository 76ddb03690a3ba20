package classify

import (
	"encoding/json"
	"strings"
)

// Amazon SES reports bounces two ways. Its DSNs (MAILER-DAEMON@...
// amazonses.com) wrap the remote reply in a summary of their own:
//
//	Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.7.1 <...>... Access denied' (delivery attempts: 0)
//
// where SES's leading status and category are its guess and the quoted
// text is what the remote server said. And its SNS notifications carry a
// JSON document (notificationType Bounce, Complaint or Delivery), either
// bare or as the "Message" string of an SNS envelope.
func init() {
	register(decoder{name: "amazonses", order: orderProvider, decode: decodeAmazonSES})
}

// sesDiagRe matches SES's summary around the quoted remote reply.
var sesDiagRe = mustFastRe(`^\s*(?:smtp;\s*)?[245]\.\d{1,3}\.\d{1,3} - [A-Za-z ]+ error ([245]\d\d)[ -]'(.*?)'?\s*(\(delivery attempts: \d+\))?\s*$`)

func decodeAmazonSES(m *message) []Verdict {
	from := m.fromLower()
	if strings.Contains(from, "amazonses.com") {
		return sesDSN(m)
	}
	if m.get("X-Amz-Sns-Message-Id") != "" || strings.Contains(from, "sns.amazonaws.com") || m.get("X-SES-Outgoing") != "" {
		return sesJSON(m)
	}
	return nil
}

func sesDSN(m *message) []Verdict {
	fs := dsnFindings(m)
	hit := false
	for i := range fs {
		mm := sesDiagRe.FindStringSubmatch(fs[i].diagnostic)
		if mm == nil {
			continue
		}
		hit = true
		reply := strings.TrimSpace(mm[2])
		if !strings.HasPrefix(reply, mm[1]) {
			reply = mm[1] + " " + reply
		}
		fs[i].diagnostic = reply
		if isGenericStatus(parseStatus(fs[i].status)) {
			fs[i].status = "" // SES's own X.0.0 says nothing; the reply may
		}
	}
	if !hit {
		return nil
	}
	return decideAll("amazonses", fs)
}

// sesNotification is the part of an SES event this decoder reads.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		ReportingMTA      string `json:"reportingMTA"`
		RemoteMTAIP       string `json:"remoteMtaIp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
		ReportingMTA string   `json:"reportingMTA"`
	} `json:"delivery"`
}

// sesBounceSubTypes are SES's own judgements, used when the recipient
// entry has no reply to read.
var sesBounceSubTypes = map[string]Reason{
	"noemail":                  UserUnknown,
	"suppressed":               UserUnknown, // on SES's suppression list after earlier hard bounces
	"onaccountsuppressionlist": UserUnknown,
	"mailboxfull":              MailboxFull,
	"messagetoolarge":          TooLarge,
	"contentrejected":          ContentError,
	"attachmentrejected":       ContentError,
}

func sesJSON(m *message) []Verdict {
	n, ok := parseSESNotification(m.text)
	if !ok {
		return nil
	}
	kind := strings.ToLower(n.NotificationType + n.EventType)
	var out []Verdict
	switch {
	case kind == "bounce" && n.Bounce != nil:
		b := n.Bounce
		for _, r := range b.BouncedRecipients {
			f := finding{
				recipient:    r.EmailAddress,
				action:       r.Action,
				status:       r.Status,
				diagnostic:   r.DiagnosticCode,
				reportingMTA: b.ReportingMTA,
				remoteMTA:    b.RemoteMTAIP,
			}
			if f.action == "" {
				f.action = "failed"
			}
			if strings.EqualFold(b.BounceType, "Transient") {
				f.temporary = true
			}
			if f.diagnostic == "" && f.status == "" {
				if reason, ok := sesBounceSubTypes[strings.ToLower(b.BounceSubType)]; ok {
					f.reason, f.rule = reason, "amazonses-"+strings.ToLower(b.BounceSubType)
				}
			}
			out = append(out, decide("amazonses", f))
		}
	case kind == "delivery" && n.Delivery != nil:
		for _, r := range n.Delivery.Recipients {
			f := finding{recipient: r, action: "delivered", diagnostic: n.Delivery.SMTPResponse, reportingMTA: n.Delivery.ReportingMTA}
			out = append(out, decide("amazonses", f))
		}
	}
	// Complaint notifications are left to the ARF decoder's kin; SES sends
	// real ARF reports for those when feedback forwarding is on.
	return out
}

// parseSESNotification finds the JSON document in the body, unwrapping an
// SNS envelope. Mail transport may have folded long lines (sendmail breaks
// them with "!" and a newline); raw line breaks are never part of JSON
// strings, so they are dropped before parsing.
// sesLineBreaks drops the line breaks a mail body puts in SES's JSON.
var sesLineBreaks = strings.NewReplacer("!\r\n ", "", "!\n ", "", "\r", "", "\n", "")

func parseSESNotification(text string) (sesNotification, bool) {
	var n sesNotification
	i := strings.IndexByte(text, '{')
	j := strings.LastIndexByte(text, '}')
	if i < 0 || j <= i {
		return n, false
	}
	doc := text[i : j+1]
	doc = sesLineBreaks.Replace(doc)
	var env struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if err := json.Unmarshal([]byte(doc), &env); err != nil {
		return n, false
	}
	if env.Type == "Notification" && env.Message != "" {
		doc = env.Message
	}
	if err := json.Unmarshal([]byte(doc), &n); err != nil {
		return n, false
	}
	return n, n.NotificationType != "" || n.EventType != ""
}
