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
	// temp, when set, is the reason under a temporary (4xx) failure.
	temp Reason
}

func rule(name string, reason Reason, pattern string) textRule {
	return textRule{name: name, reason: reason, pattern: pattern}
}

func catchAll(name string, reason Reason, pattern string) textRule {
	r := rule(name, reason, pattern)
	r.catchAll = true
	return r
}

func catchAllTemp(name string, reason, temp Reason, pattern string) textRule {
	r := catchAll(name, reason, pattern)
	r.temp = temp
	return r
}

// reasonOf is the rule's reason for a temporary or permanent failure.
func (r *textRule) reasonOf(temp bool) Reason {
	if temp && r.temp != "" {
		return r.temp
	}
	return r.reason
}

// textRules run on a lower-cased diagnostic with whitespace folded.
var textRules = []textRule{
	// A challenge-response system asking the sender to prove itself is an
	// auto-reply, never a refusal, whatever it says of spam or blocking.
	rule("challenge", Vacation, challengePattern),
	rule("virus", Virus, `\b(virus|malware|infected|trojan)\b|ウイルス|ウィルス`),
	rule("auth", AuthFailed, `\b(dmarc|dkim|spf)\b|openspf|sender policy framework|domainkeys|unauthenticated (e-?mail|message|sender)|not pass(ed)? authentication|authentication (check|validation)s? (has )?failed|(not|isn't|is not|was not) (permitted|authori[sz]ed|allowed) to send|designates? .{0,60}as (a )?permitted sender|not a permitted sender`),
	// The destination's own TLS, certificate or DNSSEC setup failed, as
	// the sending side reports it (Exchange Online 4.4.8, X.7.5, X.7.32x):
	// before "tls", whose "must support tls" is about the sender.
	rule("remote-tls", SystemError, `destination (mail )?server('s)? (certificate|must support)|must support (tls|starttls)|remote certificate|certificate[- ](expired|host[- ]mismatch)|certificate (has |is )?expired|untrustedroot|\btlsa\b|\bdane\b|dnssec|mta-sts|starttls-not-supported`),
	rule("ptr", PTRRequired, `reverse dns|reverse lookup|\bptr\b|\brdns\b|cannot find your (reverse )?hostname|cannot resolve your (hostname|address)|(hostname|helo) (does not|doesn't) match|no dns record for your|have a (valid )?reverse|逆引き`+
		// HELO rejected: the sender's announced name is not acceptable.
		`|(bad|invalid|illegal|malformed|forged|unresolvable) (helo|ehlo)|(helo|ehlo)( command| name| hostname| host name| domain)? (rejected|refused|denied|is invalid|not valid|invalid)|helo/ehlo argument|(helo|ehlo) (argument|name|hostname) .{0,30}(invalid|not|unknown)`),
	rule("tls", TLSRequired, `must (first )?issue a starttls|starttls (is )?required|tls (is )?required|encryption (is )?required|requires? (a )?(secure|encrypted|tls) connection|requires? (tls|starttls|encryption)|must (use|negotiate) (tls|starttls|encryption)|(tls|starttls|encryption) (is )?(mandatory|needed)|(secure|encrypted|tls) (connection|transport|channel) (is )?required|unencrypted (connection|session|mail)s? (is |are )?not|not over (tls|an encrypted)|must be (sent|delivered|transmitted) (over|using|with|via) (tls|encryption|starttls|an encrypted)`),
	rule("recipient-banned", Disabled, `(banned|barred|blacklisted|blocklisted) (recipient|user|mailbox|address|account)`),
	rule("blocklist", IPBlocklisted, `spamhaus|spamcop|sorbs|barracuda ?central|\bdnsbl\b|\brbl\b|black ?list|block ?list|blocked using|listed (on|in|at|by) |banned (sender|sending|ip|client|host|domain|from|network)|(ip|sender|host|domain|you) (address )?(is |are |has been |have been )?banned|ip address (has been |is )?(blocked|rejected|denied)|(client|sending) (host|ip)( address)? .{0,80}(blocked|rejected|refused|denied)|your (ip|server|host|network)( address)? .{0,40}(blocked|listed|rejected)|connection (refused|rejected|denied) (from|for) \[?\d|not allowed to send from|(access|connection) denied.{0,40}\bip\b|dynamic(ally)?[- ](assigned )?ip|dial-?up|residential|open (proxy|relay)|(ip|ipアドレス|このip)(は|が).{0,80}ブロック|ブラックリスト|ブロックリスト|traffic not accepted from|block has been placed|client host rejected|not (currently )?accepting (mail|e-?mail|messages|connections) from your|you are not allowed to connect|not accepting connections|(server )?access forbidden|too many (errors|spams?|unwanted messages) from|(ip|address|host|network) .{0,40}on our block`),
	rule("reputation", BadReputation, `reputation|sender score|senderscore|評判|namespace mining|complaints (concerning|about|from)`),
	rule("recipient-rate", RecipientRate, `receiving mail at a rate|receiving mail too quickly|receiving too many messages|receive limit|recipient thread limit`),
	rule("rate", RateLimited, `rate limit|rate-limit|ratelimit|unusual rate|sending rate|too many (messages|mails|emails)( sent)?|sent too many|too fast|throttl|temporarily deferred|exceeded (the|your)? ?(sending|message|daily|hourly) (limit|quota|rate)|daily (sending )?(limit|quota)|message (submission )?rate|frequency limit|ip rate`+
		`|(relay|sending|submission|send|recipient|message|connection|hourly|daily) (limits?|quota) (exceeded|reached|has been exceeded)|(submission|sending|relay) quota|daily limit|per (hour|day|minute) (and|or) per|(sent|send) per (hour|day|minute)|exceeded (the )?permitted limits?|limits? for how many|(tenant|trial) .{0,40}(limit|threshold)|exceeded threshold|has exceeded (the )?threshold|unexpected volume|volume of (mail|messages)|too much (mail|e-?mail) from|(try|send) (again )?slower|(sending|message|send) (limits?|quotas?)|しきい値を超え|(許容|許可)(されている|された)?(数|件数|上限)を超え|最大(メッセージ|送信|受信者)数|送信(数|件数)(の)?(上限|制限)`),
	rule("too-many-connections", TooManyConnections, `too many (connections|concurrent|sessions|simultaneous)|connection limit|max(imum)? (number of )?connections|too many recipients|too many hosts|(domains|recipients) per (transaction|message|session)|policy size per transaction|trop de connexions|maximum connection limit|受信者が多すぎ|(セッション|接続)(数)?が多すぎ`),
	rule("mailbox-full", MailboxFull, `mail ?(box|folder) (is |was )?(full|over|exceeded)|over ?quota|quota (exceeded|exceed|full|violation)|exceed(ed|s|ing)? (his|her|the|their|its|your|recipient'?s?|mailbox|storage|disk)? ?(storage |mailbox |disk )?quota|reached (his |her |the |their |its |your )?(storage |mailbox |disk )?quota|(insufficient|not enough) (storage|space) (in|for) (the )?(mailbox|user|recipient)|mailbox (size|storage) (limit|quota)|storage (limit|quota|full|space)|full mailbox|account is full|inbox is full|box is full|user is over|has exceeded (the|its|their|his|her) (storage|space|size)|mailbox has exceeded|out of (mailbox )?storage|exceeded storage allocation|overdrawn .{0,30}quota|diskspace quota|over (the |their |its |his |her |disk |storage |allowed |the allowed )+quota|quota usage exceeded|would exceed (the )?(maximum )?(allowed )?storage|space has been used up|does not have enough (disk |storage )?space|容量|ストレージ(の)?(制限|上限)`),
	rule("mailbox-full-i18n", MailboxFull, `(postfach|mailbox) (ist )?(voll|überfüllt)|speicherplatz|quota (überschritten|dépassé|superata|excedida)|bo[iî]te (aux lettres |mail |de réception |du destinataire )?(est )?pleine|buz[oó]n (est[aá] )?(lleno|completo)|casella (di posta )?(è )?piena|邮箱已满|邮箱空间不足|ящик переполнен|превышен (лимит|размер) (почтового )?ящика|いっぱい|一杯`),
	rule("too-large", TooLarge, `message (is )?too (large|big)|too big|message size exceeds|(exceed(s|ed)?|over) (the )?(maximum|max|allowed|fixed)? ?(incoming |outgoing )?(message )?size|size (limit|exceeded)|message length exceeds|larger than (the )?(maximum|allowed)|message exceeds|exceeded .{0,30}size limit|サイズ(が|の)?(上限|制限|超過)`),
	// Before user-unknown, whose "存在しない" would take the domain's too.
	rule("domain-unknown-i18n", DomainUnknown, `ドメイン(名)?が(存在し(ない|ません)|見つかりません)|domain (existiert nicht|nicht gefunden)|domaine (inexistant|introuvable)|dominio (inexistente|no existe)|域名不存在`),
	// RFC 5321's 450 and 550 text: read as dead only under a permanent
	// code (see decide).
	rule("mailbox-unavailable", UserUnknown, `mailbox (is )?unavailable|mailbox not available`),
	rule("user-unknown", UserUnknown, `user(name)? unknown|unknown (user|recipient|mailbox|local ?part|address|alias)|no such (user|mailbox|recipient|account|person|address|local user)|(user|recipient|mailbox|address|account|addressee)s? (was |is )?not (found|exist|known|valid|listed)|(user|recipient|mailbox|address|account)s? (does not|doesn't|do not|did not) exist|does not exist|doesn'?t exist|not a valid (mailbox|recipient|user|address)|invalid (recipient|mailbox|user|address|e-?mail address)|recipient (address )?rejected: (user|undeliverable|unknown|invalid|no such)|no mailbox (here )?by that name|unknown or illegal|addressee unknown|bad destination (mailbox|address)|recip(ient)?notfound|recipient address rejected: access denied|recipient address rejected\.?$|not listed in (the )?(domino )?directory|no valid recipients|(does not|doesn't) have an? [a-z0-9.\-]+ account|not our customer|undeliverable address|(user|recipient) (doesn't|does not) have an? .{0,60}account|address could(n'?t| not) be found|(recipient|user|mailbox) not exist|recipient not ok|mailbox name (not allowed|invalid)|not (a )?registered (gateway )?(user|account|recipient|address)|unregistered (user|address|recipient|account)|address rejected\.?$|no user (with|by) that name|not a known user|not known at this site|mailbox (is )?(invalid|not present)|not found in (the )?directory|unknown e-?mail address|(invalid|unknown) (or (unknown|invalid) )?virtual user|does not have an account|can'?t accept user|存在しない|宛先不明`),
	// The same in the languages mail servers localise their replies into.
	rule("user-unknown-i18n", UserUnknown, `benutzer (ist )?unbekannt|unbekannte[rn]? (benutzer|empfänger|adresse)|empfänger(adresse)? (ist )?unbekannt|(postfach|mailbox|empfänger) (existiert nicht|nicht gefunden|nicht vorhanden)|utilisateur inconnu|destinataire inconnu|adresse (e-?mail |électronique )?(introuvable|inexistante|inconnue)|n'existe pas|adresse nicht gefunden|no existe dicha persona|usuario (desconocido|inexistente|no existe)|destinatario (desconocido|inexistente|sconosciuto|inesistente)|utente (sconosciuto|inesistente)|casella (inesistente|non esistente)|indirizzo (inesistente|sconosciuto)|用户不存在|收件人不存在|邮箱不存在|пользователь не найден|нет такого пользователя|(почтовый )?ящик не существует|адрес не существует|存在しません|使用されていません|(受信者|宛先|ユーザー?|アカウント|メールボックス|メールアドレス)(が|は)?見つかりません|無効な(受信者|宛先|メールアドレス|アドレス)|受信者アドレス拒否`),
	rule("domain-unknown", DomainUnknown, `host or domain name not found|domain (name )?(not found|does not exist|doesn't exist|is not valid)|no such domain|unknown (host|domain)|host (not found|unknown)|name service error|name or service not known|nxdomain|no mx (record|host)|unrouteable (mail domain|address)|domain lookup failed|mx records point to non-existent|hostname (not found|lookup failed)|(domain|host) (name )?could not be (found|resolved)|find the (recipient|destination) domain|ドメインが存在しない`),
	rule("relay", RelayDenied, `relay(ing)? (access )?(denied|not permitted|not allowed|prohibited|refused)|not (permitted|allowed|authori[sz]ed) to relay|unable to relay|cannot relay|we do not relay|no relaying|relay not permitted|not a gateway|(invalid|bad) credentials for relay`),
	rule("moved", Moved, `has moved|user moved|address (has )?changed|(now|new) (e-?mail )?address is|forwarding address|no longer (at|with) |user not local`),
	rule("disabled", Disabled, `(account|mailbox|address|user|recipient)\b.{0,40}\b(disabled|suspended|inactive|deactivated|locked|frozen|expired|closed|terminated|deleted|discontinued|no longer (active|in use|available|valid))|(disabled|suspended|inactive|deactivated|closed|expired|cancel+ed|blocked) (user|account|mailbox)|no longer (in use|active|accepts? mail)|extended inactivity|(アカウント|メールボックス|メールアドレス)(が|は)(無効|停止|凍結|利用停止)`),
	rule("not-compliant", NotCompliant, `rfc ?(5322|2822|822)|not (rfc|standards?)[ -]compliant|missing (required )?header|no [a-z-]+ (header|field) (given|found|present)|malformed|duplicate header|invalid header|header (syntax|error)|bare lf|bare <?lf>?|bare line ?feeds?|invalid characters?|header (is |was )?too long|headers? (exceed|too large)|multiple (from|sender) (addresses|headers|fields)|invalid mime|mime (complexity|structure)|improperly[- ]formatted|unnecessary base64`),
	// RFC 6531/6532: the message needs SMTPUTF8 or 8BITMIME that the path
	// does not offer (X.6.7-X.6.10), or carries raw 8-bit header text.
	rule("8bit", ContentError, `smtputf8|8bitmime|8-?bit (header|character|data|content|text)|eight-?bit|non-?ascii (address|character|header|text)|utf-?8 (header|address|string|reply)|unencoded (8|eight)`),
	rule("spam", SpamContent, `spam|junk mail|unsolicited|bulk (e-?mail|mail)|content (filter|rejected)|message (content )?(rejected|refused) as|suspicious|phishing|scam|スパム|迷惑メール`),
	rule("content", ContentError, `(attachment|file type|file name|extension) .{0,40}(not allowed|prohibited|blocked|rejected)|prohibited (attachment|content)|content (not accepted|error)|message content`),
	rule("syntax", SyntaxError, `syntax error|command (unrecognized|not recognized|not implemented)|unrecognized command|bad sequence of commands|line too long|invalid command|protocol error|protocol violation|parameters? not (implemented|recognized)|unimplemented command|(helo|ehlo|mail|rcpt|starttls|auth|data)( command)? (first|required first)|(cannot|can't|could not|unable to) decode|may not be repeated|(allowed|permitted) to pipeline|pipelining (is )?not (allowed|permitted)`),
	rule("sender", RejectedSender, `sender (address )?(rejected|denied|refused|blocked|not allowed|verify failed|verification failed|domain)|envelope sender|domain of sender address|mail from .{0,40}(rejected|refused|denied)|invalid sender|sender is not allowed|rejected sender|unverified sender|return.path|sender .{0,40}(not|isn't|is not|was not) (allowed|permitted|authori[sz]ed|authenticated)|sender('s)? (account|address|domain)|sending denied|sender was rejected|allowed-senders|no identity changes|\bbatv\b|backscatter|null sender|empty (envelope )?sender|sender (is|was) (a )?spammer|sender not pre-?approved|mail from not owned|unroutable sender|non-?member|members-only|not allowed to post|送信(元|者)(の)?(アドレス|ドメイン)|アウトバウンド送信者|送信元として`),
	rule("access-denied", Policy, `access denied|アクセス(が)?拒否`),
	rule("filtered", Filtered, `filtered|refused by (the )?recipient|rejected by (the )?recipient|recipient (has )?(refused|rejected|blocked)|(does not|doesn't) accept (mail|e-?mail|messages) from|not accepting (mail|e-?mail|messages) from|user refuses|refuses? to receive|only accepting mail from|not accepting any mail|user rules|blocked by the recipient|due to (the )?recipient'?s? (preferences|policy)`),
	rule("expired", Expired, `expired|retry time(out)? (not reached|exceeded)|delivery time (expired|exceeded)|could not be delivered (with)?in|too long in (the )?queue|not (been )?(collected|retrieved|picked up) (after|for|within)|queue lifetime|has not been delivered for|was not delivered for|gave up|giving up|maximum time`+
		`|in the queue too long|could not be delivered for|not (been )?delivered (for|after|within) \d|after multiple (retries|attempts)|(retry|retries|delivery attempts?) (limit|period) (exceeded|reached|expired)|maximum (number of )?(retries|delivery attempts)|queue period|numerous attempts|長時間キュー|再試行しません|配信期限`),
	rule("loop", NetworkError, `routing loop|mail loop|forwarding loop|loops back|too many hops|hop count exceeded|exceeded \d+ hops|message is looping|message looping|ループ`),
	rule("network", NetworkError, `connection (refused|timed out|reset|closed|dropped|lost)|lost connection|no route to host|network is unreachable|timed? ?out|could not connect|unable to connect|connect to .{0,80} failed|failed to connect|dns (lookup|query|error|failure)|temporary lookup failure|name server|conversation with .{0,80} timed|(host|server|computer|destination) .{0,30}(is )?not (responding|reachable)|cannot connect|(wasn't|was not|weren't|not) able to (establish|open|make) (an? )?(smtp )?connection|unable to (establish|open|make) (an? )?(smtp )?connection|lookup failed temporarily|タイムアウト|接続(を確立)?できません`),
	rule("mailer", MailerError, `command output|command died|x-unix|exit code|procmail|unknown mailer error|mailer error|program failed|local delivery failed|maildir delivery failed`),
	rule("system-full", SystemFull, `insufficient system (storage|resources)|system storage|disk (is )?full|out of (disk )?space|no space left|not enough (disk )?space`),
	rule("system", SystemError, `system error|internal (server )?error|local error|server error|temporary (local |system )?(failure|problem|error)|try again later|temporarily (unavailable|rejected|deferred)|system (problem|failure|is busy)|configuration error|resources (temporarily )?unavailable|server (is )?(currently |temporarily )?(unavailable|busy)|unable to accommodate|一時的に(利用できません|拒否)`),
	rule("security", SecurityError, `authentication (is )?required|must (be )?authenticate|auth(entication)? required|security (policy|error|violation)|not authenticated|smtp auth|authentication type|(password|credentials?) (not accepted|required|invalid|incorrect)|application-specific password|log ?in with your web browser|optional argument not permitted|unauthenticated commands|認証`),
	catchAll("policy-blocked", IPBlocklisted, `\bblocked\b|\bblock(ed)? by\b|ブロック`),
	catchAll("policy", Policy, `polic(y|ies)|prohibited|administratively|not whitelisted|not in whitelist|許可(されて|して)?いません`),
	// Postfix's form of an RCPT refusal, whose cause follows the colon:
	// when no rule above knows the cause, the address was refused for a
	// reason the reply does not give (not the sender: that would say so).
	catchAll("recipient-rejected", ReasonUnknown, `recipient address rejected:`),
	catchAll("refused", Policy, `not (authori[sz]ed|permitted|allowed)|refused|denied|rejected|not accepted|拒否`),
	// "Service unavailable": a 5xx one refuses the sender (Postfix's RBL
	// reply is "554 5.7.1 Service unavailable; Client host ... blocked"),
	// a 4xx one is the server's trouble.
	catchAllTemp("service-unavailable", Policy, SystemError, `service (is )?(currently |temporarily )?(unavailable|not available)|サービスを利用できません`),
}

// challengePattern is what challenge-response and sender-verification
// systems ask of the sender, in their recurring words.
const challengePattern = `please confirm (that )?you are (a |not a )?(human|real|person|robot)|(verify|prove|confirm) (that )?you are (a )?(human|real person|person|not a (robot|spammer))|challenge[ -]response|(add|added) (you|your (e-?mail )?address) to (my|the) (list of )?(approved|allowed|trusted|safe) senders|to my (list of )?(approved|allowed|trusted|safe) senders|pending (sender )?(verification|confirmation)|awaiting (your )?(verification|confirmation)`

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
	if i := textRuleSet.first(trimStageNote(foldText(diag))); i >= 0 {
		return &textRules[i]
	}
	return nil
}

// trimStageNote drops the note of the SMTP stage a reporting MTA appends
// to the remote server's reply, Postfix's "(in reply to RCPT TO
// command)": the rules that end at the reply's end ("recipient address
// rejected.") read the reply the same with or without it. The stage
// itself is read from the whole diagnostic (stageOf).
func trimStageNote(s string) string {
	if !strings.HasSuffix(s, " command)") {
		return s
	}
	if i := strings.LastIndex(s, "(in reply to "); i >= 0 {
		return strings.TrimRight(s[:i], " ")
	}
	return s
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
	if i := textRuleSet.firstWhere(trimStageNote(foldText(diag)), func(i int) bool { return keep(&textRules[i]) }); i >= 0 {
		return &textRules[i]
	}
	return nil
}
