package classify

import (
	"strings"
)

// A textRule recognises a phrase that recurs across providers. Rules are
// tried in order and the first match wins, so the narrow, telling phrases
// ("spamhaus", "dmarc", "over quota") come before the broad ones ("blocked",
// "rejected", "policy"). Every rule must make sense for any provider: a
// phrase seen in only one sample does not belong here.
type textRule struct {
	name    string
	reason  Reason
	pattern string
	// catchAll rules only say that something was refused; they rank below
	// a broad status code (see reasonFor).
	catchAll bool
}

func rule(name string, reason Reason, pattern string) textRule {
	return textRule{name: name, reason: reason, pattern: pattern}
}

func catchAll(name string, reason Reason, pattern string) textRule {
	r := rule(name, reason, pattern)
	r.catchAll = true
	return r
}

// textRules run on a lower-cased diagnostic with whitespace folded.
var textRules = []textRule{
	rule("virus", Virus, `\b(virus|malware|infected|trojan)\b`),
	rule("auth", AuthFailed, `\b(dmarc|dkim|spf)\b|sender policy framework|domainkeys|unauthenticated (e-?mail|message|sender)|not pass(ed)? authentication|authentication (check|validation)s? (has )?failed`),
	rule("ptr", PTRRequired, `reverse dns|reverse lookup|\bptr\b|\brdns\b|cannot find your (reverse )?hostname|cannot resolve your (hostname|address)|(hostname|helo) (does not|doesn't) match|no dns record for your|have a (valid )?reverse`),
	rule("tls", TLSRequired, `must (first )?issue a starttls|starttls (is )?required|tls (is )?required|encryption (is )?required|requires? (a )?(secure|encrypted|tls) connection`),
	rule("blocklist", IPBlocklisted, `spamhaus|spamcop|sorbs|barracuda ?central|\bdnsbl\b|\brbl\b|black ?list|block ?list|blocked using|listed (on|in|at|by) |\bbanned\b|ip address (has been |is )?(blocked|rejected|denied)|(client|sending) (host|ip)( address)? .{0,80}(blocked|rejected|refused|denied)|your (ip|server|host|network)( address)? .{0,40}(blocked|listed|rejected)|connection (refused|rejected|denied) (from|for) \[?\d|not allowed to send from|(access|connection) denied.{0,40}\bip\b|dynamic ip|dial-?up|residential`),
	rule("reputation", BadReputation, `reputation|sender score|senderscore`),
	rule("recipient-rate", RecipientRate, `receiving mail at a rate|receiving mail too quickly|receiving too many messages`),
	rule("rate", RateLimited, `rate limit|rate-limit|ratelimit|unusual rate|sending rate|too many (messages|mails|emails)( sent)?|sent too many|too fast|throttl|temporarily deferred|exceeded (the|your)? ?(sending|message|daily|hourly) (limit|quota|rate)|daily (sending )?(limit|quota)|message (submission )?rate|frequency limit|ip rate`),
	rule("too-many-connections", TooManyConnections, `too many (connections|concurrent|sessions|simultaneous)|connection limit|max(imum)? (number of )?connections|too many recipients|too many hosts`),
	rule("relay", RelayDenied, `relay(ing)? (access )?(denied|not permitted|not allowed|prohibited|refused)|not (permitted|allowed|authori[sz]ed) to relay|unable to relay|cannot relay|we do not relay|no relaying|relay not permitted|not a gateway|open relay`),
	rule("mailbox-full", MailboxFull, `mail ?(box|folder) (is |was )?(full|over|exceeded)|over ?quota|quota (exceeded|exceed|full|violation)|exceed(ed|s|ing)? (his|her|the|their|its|your|recipient'?s?|mailbox|storage|disk)? ?(storage |mailbox |disk )?quota|reached (his |her |the |their |its |your )?(storage |mailbox |disk )?quota|(insufficient|not enough) (storage|space) (in|for) (the )?(mailbox|user|recipient)|mailbox (size|storage) (limit|quota)|storage (limit|quota|full|space)|full mailbox|account is full|inbox is full|box is full|user is over|has exceeded (the|its|their|his|her) (storage|space|size)|mailbox has exceeded|out of (mailbox )?storage|exceeded storage allocation|容量`),
	rule("mailbox-full-i18n", MailboxFull, `(postfach|mailbox) (ist )?(voll|überfüllt)|speicherplatz|quota (überschritten|dépassé|superata|excedida)|bo[iî]te (aux lettres |mail |de réception )?(est )?pleine|buz[oó]n (est[aá] )?(lleno|completo)|casella (di posta )?(è )?piena|邮箱已满|邮箱空间不足|ящик переполнен|превышен (лимит|размер) (почтового )?ящика|いっぱい|一杯`),
	rule("too-large", TooLarge, `message (is )?too (large|big)|too big|message size exceeds|(exceed(s|ed)?|over) (the )?(maximum|max|allowed|fixed)? ?(incoming |outgoing )?(message )?size|size (limit|exceeded)|message length exceeds|larger than (the )?(maximum|allowed)|message exceeds`),
	// Before user-unknown, whose "存在しない" would take the domain's too.
	rule("domain-unknown-i18n", DomainUnknown, `ドメイン(名)?が(存在し(ない|ません)|見つかりません)|domain (existiert nicht|nicht gefunden)|domaine (inexistant|introuvable)|dominio (inexistente|no existe)|域名不存在`),
	rule("user-unknown", UserUnknown, `user(name)? unknown|unknown (user|recipient|mailbox|local ?part|address|alias)|no such (user|mailbox|recipient|account|person|address|local user)|(user|recipient|mailbox|address|account|addressee)s? (was |is )?not (found|exist|known|valid|listed)|(user|recipient|mailbox|address|account)s? (does not|doesn't|do not|did not) exist|does not exist|doesn'?t exist|not a valid (mailbox|recipient|user|address)|invalid (recipient|mailbox|user|address|e-?mail address)|recipient (address )?rejected: (user|undeliverable|unknown|invalid|no such)|no mailbox (here )?by that name|mailbox (is )?unavailable|mailbox not available|unknown or illegal|addressee unknown|bad destination (mailbox|address)|recip(ient)?notfound|recipient address rejected: access denied|recipient address rejected\.?$|not listed in (the )?(domino )?directory|no valid recipients|(does not|doesn't) have an? [a-z0-9.\-]+ account|not our customer|undeliverable address|(user|recipient) (doesn't|does not) have an? .{0,60}account|address could(n'?t| not) be found|存在しない|宛先不明`),
	// The same in the languages mail servers localise their replies into.
	rule("user-unknown-i18n", UserUnknown, `benutzer (ist )?unbekannt|unbekannte[rn]? (benutzer|empfänger|adresse)|empfänger(adresse)? (ist )?unbekannt|(postfach|mailbox|empfänger) (existiert nicht|nicht gefunden|nicht vorhanden)|utilisateur inconnu|destinataire inconnu|adresse (e-?mail |électronique )?(introuvable|inexistante|inconnue)|n'existe pas|usuario (desconocido|inexistente|no existe)|destinatario (desconocido|inexistente|sconosciuto|inesistente)|utente (sconosciuto|inesistente)|casella (inesistente|non esistente)|indirizzo (inesistente|sconosciuto)|用户不存在|收件人不存在|邮箱不存在|пользователь не найден|нет такого пользователя|(почтовый )?ящик не существует|адрес не существует|存在しません|使用されていません`),
	rule("domain-unknown", DomainUnknown, `host or domain name not found|domain (name )?(not found|does not exist|doesn't exist|is not valid)|no such domain|unknown (host|domain)|host (not found|unknown)|name service error|name or service not known|nxdomain|no mx (record|host)|unrouteable (mail domain|address)|domain lookup failed|mx records point to non-existent|hostname (not found|lookup failed)|(domain|host) (name )?could not be (found|resolved)|ドメインが存在しない`),
	rule("moved", Moved, `has moved|user moved|address (has )?changed|(now|new) (e-?mail )?address is|forwarding address|no longer (at|with) |user not local`),
	rule("disabled", Disabled, `(account|mailbox|address|user|recipient)\b.{0,40}\b(disabled|suspended|inactive|deactivated|locked|frozen|expired|closed|terminated|deleted|discontinued|no longer (active|in use|available|valid))|(disabled|suspended|inactive|deactivated|closed|expired|cancel+ed|blocked) (user|account|mailbox)|no longer (in use|active|accepts? mail)|extended inactivity`),
	rule("not-compliant", NotCompliant, `rfc ?(5322|2822|822)|not (rfc|standards?)[ -]compliant|missing (required )?header|no [a-z-]+ (header|field) (given|found|present)|malformed|duplicate header|invalid header|header (syntax|error)|bare lf|bare <?lf>?`),
	rule("spam", SpamContent, `spam|junk mail|unsolicited|bulk (e-?mail|mail)|content (filter|rejected)|message (content )?(rejected|refused) as|suspicious|phishing|scam`),
	rule("content", ContentError, `(attachment|file type|file name|extension) .{0,40}(not allowed|prohibited|blocked|rejected)|prohibited (attachment|content)|content (not accepted|error)|message content`),
	rule("syntax", SyntaxError, `syntax error|command (unrecognized|not recognized|not implemented)|unrecognized command|bad sequence of commands|line too long|invalid command|protocol error`),
	rule("sender", RejectedSender, `sender (address )?(rejected|denied|refused|blocked|not allowed|verify failed|verification failed|domain)|envelope sender|domain of sender address|mail from .{0,40}(rejected|refused|denied)|invalid sender|sender is not allowed|rejected sender|unverified sender|return.path|sender .{0,40}(not|isn't|is not) (allowed|permitted|authorized)`),
	rule("filtered", Filtered, `filtered|refused by (the )?recipient|rejected by (the )?recipient|recipient (has )?(refused|rejected|blocked)|(does not|doesn't) accept (mail|e-?mail|messages) from|not accepting (mail|e-?mail|messages) from|user refuses|due to (the )?recipient'?s? (preferences|policy)`),
	rule("expired", Expired, `expired|retry time(out)? (not reached|exceeded)|delivery time (expired|exceeded)|could not be delivered (with)?in|too long in (the )?queue|not (been )?(collected|retrieved|picked up) (after|for|within)|queue lifetime|has not been delivered for|was not delivered for|gave up|giving up|maximum time`),
	rule("loop", NetworkError, `routing loop|mail loop|loops back|too many hops|hop count exceeded|message is looping|message looping|ループ`),
	rule("network", NetworkError, `connection (refused|timed out|reset|closed|dropped|lost)|lost connection|no route to host|network is unreachable|timed? ?out|could not connect|unable to connect|connect to .{0,80} failed|failed to connect|dns (lookup|query|error|failure)|temporary lookup failure|name server|conversation with .{0,80} timed|(host|server|computer|destination) .{0,30}(is )?not (responding|reachable)`),
	rule("mailer", MailerError, `command output|command died|x-unix|exit code|procmail|unknown mailer error|mailer error|program failed|local delivery failed`),
	rule("system-full", SystemFull, `insufficient system (storage|resources)|system storage|disk (is )?full|out of (disk )?space|no space left|not enough (disk )?space`),
	rule("system", SystemError, `system error|internal (server )?error|local error|server error|temporary (local )?(failure|problem|error)|try again later|service (is )?(currently |temporarily )?unavailable|configuration error|resources (temporarily )?unavailable|temporarily (unavailable|rejected|deferred)|system (problem|failure|is busy)|server (is )?(currently |temporarily )?(unavailable|busy)`),
	rule("security", SecurityError, `authentication (is )?required|must (be )?authenticate|auth(entication)? required|security (policy|error|violation)|not authenticated|smtp auth`),
	catchAll("policy-blocked", IPBlocklisted, `\bblocked\b|\bblock(ed)? by\b`),
	catchAll("policy", Policy, `policy|not (authori[sz]ed|permitted|allowed)|prohibited|access denied|administratively|refused|denied|rejected`),
}

// textRuleSet finds the first of the text rules that matches, in one pass.
var textRuleSet = newPhraseSet(rulePatterns(textRules))

func rulePatterns(rules []textRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.pattern
	}
	return out
}

// matchText returns the first rule that matches a diagnostic, or nil.
func matchText(diag string) *textRule {
	if diag == "" {
		return nil
	}
	if i := textRuleSet.first(foldText(diag)); i >= 0 {
		return &textRules[i]
	}
	return nil
}

// foldText lower-cases and folds runs of white space into one space.
func foldText(s string) string {
	charge(len(s))
	if !isASCII(s) {
		return strings.Join(strings.Fields(strings.ToLower(s)), " ")
	}
	// The same in one pass, for the common case.
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || '\t' <= c && c <= '\r':
			space = len(b) > 0
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		b = append(b, c)
	}
	return string(b)
}

// matchTextWhere returns the first rule that matches a diagnostic among
// those keep accepts, or nil.
func matchTextWhere(diag string, keep func(*textRule) bool) *textRule {
	if diag == "" {
		return nil
	}
	if i := textRuleSet.firstWhere(foldText(diag), func(i int) bool { return keep(&textRules[i]) }); i >= 0 {
		return &textRules[i]
	}
	return nil
}
