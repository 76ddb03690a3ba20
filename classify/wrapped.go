package classify

// The wrapped-report decoder reads a bounce that a gateway passed on as an
// attachment: a mail-system message with no words of its own whose
// message/rfc822 part is itself a bounce (a security gateway that
// rewrote a delivery report into "originalmail.eml", a relay that
// forwarded it). The attached report is read with the other decoders,
// once: a report wrapped in a report wrapped in a report is not read
// further.
func init() {
	register(decoder{name: "wrapped", order: orderFallback + 10, decode: decodeWrapped})
}

func decodeWrapped(m *message) []Verdict {
	for _, p := range m.parts {
		if p.mediaType != "message/rfc822" && p.mediaType != "message/global" {
			continue
		}
		if !fbLooksLikeBounce(m) && !nullReturnPath(m) {
			return nil
		}
		inner := parseMessage(p.body, m.in)
		if !isDeliveryReport(inner) && !looksLikeBounce(inner) {
			return nil
		}
		for _, d := range decoders {
			if d.order >= orderAutoReply {
				// Only the decoders of reports: a wrapped message that
				// only the fallback reads is no more a bounce than its
				// wrapper said.
				break
			}
			if vs := d.decode(inner); len(vs) > 0 {
				for i := range vs {
					vs[i].Evidence.Detail = joinDetail(vs[i].Evidence.Detail, "wrapped-report")
				}
				return vs
			}
		}
		return nil // only the first returned message is the report
	}
	return nil
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}
