// Package multihost tests bouncesink on several hosts: two "bouncesink
// serve" processes on one PostgreSQL database (a throwaway cluster, see
// internal/pgtest), as two MX hosts of one return-path domain would run.
// Its test sends bounces to both at once, SIGKILLs one in the middle of
// the load, and checks that every message answered 250 is stored exactly
// once, that bounces for one address arriving at both hosts at once give
// the counts and the single suppression one host would, that both hosts
// answer check alike, and that a webhook endpoint both hosts serve gets
// each change in order, from one host at a time.
package multihost
