// Package peertest proves that bouncesink reads what real MTAs send, not
// only the fixtures we wrote. Its test builds the bouncesink binary and
// serves from a temporary database; runs four of Debian's MTAs side by
// side, each with a private configuration, queue and loopback port:
// Exim (exim4, installed), and Postfix, OpenSMTPD and Sendmail, unpacked
// by .ci/peer-mtas (Debian's MTA packages conflict with one another); and
// sends each a newsletter per case to a fake recipient MX that answers
// with replies from the seeds' code tables (cases_test.go, each citing its
// seed row), at RCPT TO or after DATA. With their queue timers cut to
// seconds, the MTAs write their own bounces, delay warnings and final
// reports, from their own code, and deliver them to the sink over SMTP.
// Then the test asks the sink's HTTP API what it recorded for each
// recipient: every report must name its recipient and have the class the
// reply means (delayed for a warning), be the MTA's own message, and quote
// the reply.
//
// It needs root and the MTAs (bash .ci/peer-mtas sets them up), and skips
// an MTA, saying so, where it is missing; in CI (CI=true) a missing MTA
// fails it. It uses no DNS (the unpacked MTAs run in a mount and UTS
// namespace of their own with a resolver on loopback that is not there,
// and a host name of their own) and no fixed port, and leaves the system's
// mail configuration, queues and port 25 alone.
package peertest
