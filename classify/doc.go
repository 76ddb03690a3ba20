// Package classify reads a bounce, a feedback report or an auto-reply and
// says, per recipient, what happened: the failed address, the SMTP reply
// code, the enhanced status code (RFC 3463), a reason token, a class, and
// the evidence the verdict rests on.
//
// It is pure: no I/O, no clock (the caller passes the time of receipt), no
// storage. Classify never fails and never panics; what it cannot read is
// class Unknown.
//
// # How a message is read
//
// The message is parsed once (message.go; its MIME parts read from the raw
// bytes by mimewalk.go) into its header, its MIME leaves (decoded, bounded
// in size) and its human-readable text. Decoders, one
// file per format, each registered in its own init function, are tried in
// order: feedback reports (ARF, RFC 5965), provider formats that override a
// DSN, the RFC 3464 / RFC 6533 delivery-status decoder, plain-text bounces
// of named MTAs, auto-replies (RFC 3834), and a generic text scan. The
// first decoder that recognises the message decides it.
//
// A decoder only says where the fields are (recipient, Action, Status,
// diagnostic, remote MTA, refused SMTP command). One function, decide,
// turns them into a verdict with the same rules for every format, ranking
// the evidence: the DSN Action; the decoder's own reading of a provider's
// code table; a strong enhanced status code; a specific text rule on the
// diagnostic; a broad status code (X.0.0, X.7.1 ...); the catch-all text
// rules that only say something was refused; and when a report's fields
// name no cause at all, the same reading of its human-readable text around
// the recipient (evidence rule suffix "+human-text"). Where a diagnostic
// quotes another server's reply inside a relay's own summary (SES's
// "5.1.0 - Unknown address error 550-'5.7.1 ... Access denied'", "host X
// said: 550 ...", "Remote Server returned '550 5.7.1 ...'"), the innermost
// reply's code, status and words decide; the summary's words count only
// when the reply names no cause (inner.go).
//
// # Cost
//
// Anyone can send a bounce, so the time one message takes grows no faster
// than its size, whatever it holds: every search is linear in the text it
// looks at (a regexp tried at each occurrence of its first word gives way
// to one run of the engine, leadre.go), a paragraph is joined once rather
// than a line at a time, and what many recipients of one report share is
// read once. Bounds keep the rest small: the MIME walk skips multipart
// bodies nested deeper than 24, reads at most 64 entities (multipart ones
// included) and 4 MiB of decoded parts, and stops once it has read or
// searched four times the message's size plus 4 MiB; the decoders read at
// most 1 MiB of human-readable text, all parts together; a decoder reads at
// most 64 recipients that share one explanation; a verdict keeps and its
// rules read 2 KiB of a diagnostic. Where a bound cut the reading short,
// the verdicts rest on what was read and each one's Evidence.Detail says
// so: "partial-read:mime-depth", "partial-read:mime-parts",
// "partial-read:text-limit", "partial-read:scan-budget" or
// "partial-read:recipients". ClassifyContext stops once its context is
// done: the walk and the longest scans look at it as they go, and it is
// looked at between decoders. The cost tests (cost_test.go) feed hostile
// shapes of 100 KB, 400 KB and 1.6 MB and count the bytes examined.
//
// # Classes
//
// hard: the address is dead. soft: the recipient's side failed for now.
// block: the sender was refused (IP, domain, authentication, content,
// rate); never the recipient's fault. complaint: a feedback report.
// autoreply: vacation, out-of-office, challenge-response. delayed: a
// warning that delivery is still being retried (DSN Action: delayed), and
// nothing else: a final report of a message given up after retries
// (Action: failed, expired in the queue) is a failure, soft unless its
// words name a cause of another class. delivered: a positive DSN. unknown:
// nothing could be decided.
//
// An address-dead reason under a temporary (4xx) code is soft, unless the
// MTA gave up on it (Action: failed). Words that say the address does not
// exist ("user unknown", "no such user", "invalid recipient", "does not
// exist", and their localised forms) are hard at any SMTP stage and under
// any status, X.7.x too, unless the same reply blames the sender (spam,
// policy, a blocklist, reputation, authentication, the sender's address):
// then it is block. A challenge-response or sender-verification request is
// autoreply, never block. An enhanced status code whose detail is not
// known reads as its subject's X.Y.0 (RFC 3463 s2); a reply code alone
// (554, 5xx syntax, 530/535) says whom a refusal blames when nothing else
// does; a temporary failure given up on with no cause named is expired.
//
// # Reasons
//
// Address dead (hard): user_unknown, domain_unknown, moved, disabled,
// not_accept.
//
// Recipient side, temporary (soft): mailbox_full, exceed_limit,
// recipient_rate, system_full, system_error, mailer_error, network_error,
// filtered, expired.
//
// Sender side or policy (block): ip_blocklisted, bad_reputation,
// ptr_required, auth_failed, spam_content, virus, content_error,
// not_compliant, too_large, too_many_connections, rate_limited,
// relay_denied, tls_required, security_error, syntax_error,
// rejected_sender, policy.
//
// Not failures: feedback (complaint), vacation (autoreply), delivered,
// unknown.
//
// The mapping from reason to class is the one table reasonClass.
package classify
