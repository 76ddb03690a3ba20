// Package peertest proves that bouncesink reads what a real MTA sends, not
// only the fixtures we wrote. Its test builds the bouncesink binary and
// serves from a temporary database; runs Debian's Exim (exim4) with a
// private configuration that routes a newsletter's recipients to a fake
// MX on loopback, which refuses some of them the way real servers do; and
// lets Exim write its own bounces, from its own code, and deliver them to
// the sink over SMTP. Then it asks the sink's HTTP API what it recorded for
// each recipient (class, reason, status, suppression) and checks that the
// stored message is Exim's bounce.
//
// The test needs /usr/sbin/exim4 (apt-get install exim4-daemon-light) and
// root, and skips, saying so, without them; in CI (CI=true) a missing Exim
// fails it. It uses no DNS and no fixed port, and leaves the system's Exim
// (its configuration, queue and port 25) alone.
package peertest
