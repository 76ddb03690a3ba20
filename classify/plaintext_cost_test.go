package classify

// plainTextShapes are hostile shapes of the plain-text decoders' layouts
// (sendmail's lists and transcripts, qmail's paragraphs without a greeting,
// James's summary, Netscape's and Sun's lists, directory gateways, the
// fallback's lines): each repeats what a decoder reads per line or per
// address, so a decoder that rereads the text for each would show it.
// TestHostileCostLinear runs them with the others.
var plainTextShapes = []hostileShape{
	// Addresses in prose, none where a failed recipient stands: the
	// fallback weighs each one's neighbours, and no more.
	{"fallback-prose-addresses", func(size int) []byte {
		return textBounce("Undeliverable", "Your message could not be delivered.\r\n"+
			numbered("if u%d@example.org fails, try the next form of the name, which is v@example.org\r\n", size))
	}},
	// One address again and again, each line ending in a colon: read once.
	{"fallback-colon-lines", func(size int) []byte {
		return textBounce("Undeliverable", "Your message could not be delivered.\r\n"+fill("x@example.org failed for the following reason:\r\n", size))
	}},
	// A list's intro again and again, each followed by blank lines.
	{"fallback-local-part-intros", func(size int) []byte {
		return fromBounce("MAILER-DAEMON@example.com", "Mail Delivery Problem",
			fill("  Your mail to the following recipients could not be delivered:\r\n\r\n\r\n", size))
	}},
	{"sendmail-fatal-notes", func(size int) []byte {
		return textBounce("Returned mail: see transcript for details", "   ----- The following addresses had permanent fatal errors -----\r\n"+
			"<user@example.org>\r\n"+fill("    (reason: 550 5.1.1 User unknown)\r\n", size))
	}},
	{"sendmail-rcpt-dialogue", func(size int) []byte {
		return textBounce("Returned mail: User unknown", "   ----- Transcript of session follows -----\r\n"+
			numbered(">>> RCPT To:<u%d@example.org>\r\n<<< 550 No such user here\r\n", size))
	}},
	{"qmail-layout-many", func(size int) []byte {
		return textBounce("failure notice", numbered("<u%d@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n", size))
	}},
	{"james-rcpt-lines", func(size int) []byte {
		return textBounce("[BOUNCE]", "Error message below:\r\n550 no such user\r\n\r\nMessage details:\r\n  MAIL FROM: s@example.com\r\n"+
			"  RCPT TO: user@example.org\r\n"+numbered("          u%d@example.org\r\n", size))
	}},
	{"netscape-lists", func(size int) []byte {
		return textBounce("Mail System Error - Returned Mail", "This Message was undeliverable due to the following reason:\r\n\r\nHost not responding.\r\n\r\n"+
			numbered("The following recipients did not receive your message:\r\n\r\n     <u%d@example.org>\r\n\r\n", size))
	}},
	{"sun-folded-reason", func(size int) []byte {
		return textBounce("Delivery Notification: Delivery has failed", "Your message cannot be delivered to the following recipients:\r\n\r\n"+
			"  Recipient address: user@example.org\r\n  Reason: over quota\r\n"+fill("    and more words of the reason\r\n", size))
	}},
	{"exchange-indented-recipients", func(size int) []byte {
		return textBounce("Undeliverable: news", "did not reach the following recipient(s):\r\n\r\n"+
			numbered("   u%d@example.org on 1/5/2026 10:00:00 AM\r\n            The recipient name is not recognized\r\n", size))
	}},
	{"fml-notice-lines", func(size int) []byte {
		return []byte("From: ml-admin@example.org\r\nTo: a@example.com\r\nSubject: notice\r\nX-MLServer: fml\r\n\r\n" +
			numbered("Duplicated Message-ID in <u%d@example.org>.\r\n", size))
	}},
}
